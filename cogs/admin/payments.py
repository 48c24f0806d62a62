"""/admin payments and /admin payment: staff look at online top-ups, and reconcile one on
demand with **Check now** (it asks the provider and credits what it says was paid, once,
under the same ledger key as the webhook and the poll).

Thin: the rows come from bot.services.topup_queries, the check from
bot.services.topups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.payment_presenters import state_counts, topup_embed, topup_line
from bot.services.topups import Applied, Credit, TopupState
from cogs.admin.access import Additions, admin_group, staff_refusal
from cogs.admin.ui import StaffPager, StaffView, log_read
from core.i18n import _, _n, number

if TYPE_CHECKING:
    from bot.app import OrderBot

PAGE_SIZE = 10


async def payments_page(
    bot: OrderBot, state: TopupState | None, member_id: int | None, page: int
) -> tuple[discord.Embed, int]:
    queries = bot.topup_queries
    counts = await queries.counts(user_id=member_id)
    total = counts.get(state.value, 0) if state else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = await queries.page(
        state=state, user_id=member_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    what = ", ".join(
        p for p in (state.value if state else None, f"<@{member_id}>" if member_id else None) if p
    )
    embed = discord.Embed(
        title=_("Top-ups: {filter}", filter=what) if what else _("Top-ups: all"),
        description="\n".join(topup_line(t) for t in rows) or _("No top-ups match."),
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name=_("By state"), value=state_counts(counts), inline=False)
    embed.set_footer(
        text=_n(
            "Page {page} of {pages} · {count} top-up · newest first · "
            "/admin payment shows one, with Check now",
            "Page {page} of {pages} · {count} top-ups · newest first · "
            "/admin payment shows one, with Check now",
            total,
            page=number(page + 1),
            pages=number(pages),
        )
    )
    return embed, pages


@app_commands.command(name="payments", description="Online top-ups, newest first, by state")
@app_commands.describe(state="Only this state", member="Only this member's top-ups")
@app_commands.choices(state=[app_commands.Choice(name=s.value, value=s.value) for s in TopupState])
async def list_payments(
    interaction: discord.Interaction[OrderBot],
    state: str | None = None,
    member: discord.User | None = None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    wanted = TopupState(state) if state else None
    member_id = member.id if member else None
    embed, pages = await payments_page(bot, wanted, member_id, 0)
    log_read(interaction, f"listed top-ups ({state or 'all'})")
    view = StaffPager(
        interaction.user.id,
        lambda page: payments_page(bot, wanted, member_id, page),
        pages,
        custom_id=f"admin-payments:{interaction.id}",
    )
    await interaction.followup.send(embed=embed, view=view, ephemeral=True)


def check_result(applied: Applied, provider: str) -> str:
    if applied.problem:
        return _(
            "⚠️ {provider} couldn't be asked ({problem}). Nothing changed; it is "
            "checked again automatically while the link is open.",
            provider=provider,
            problem=applied.problem,
        )
    if Credit.CREDITED in applied.credits or Credit.EXTRA_PAYMENT in applied.credits:
        return _("💰 Paid at the provider, and credited now (the buyer gets a DM).")
    if applied.credits:
        return _("✅ Paid, and already credited: nothing changed.")
    if applied.ended is TopupState.FAILED:
        return _("No link exists at the provider: marked failed. Nothing was paid.")
    if applied.ended is TopupState.EXPIRED:
        return _("The link has expired, unpaid: the buyer is told. Nothing credited.")
    if applied.ended is TopupState.CANCELLED:
        return _("The link has cancelled, unpaid: the buyer is told. Nothing credited.")
    if applied.ended is not None:
        return _(
            "The link has {state}, unpaid: the buyer is told. Nothing credited.",
            state=applied.ended.value,
        )
    return _("Nothing new at the provider: nothing was paid, nothing changed.")


class CheckNowView(StaffView):
    def __init__(self, topup_id: str, key: int) -> None:
        super().__init__()
        self.topup_id = topup_id
        self.check_now.custom_id = f"admin-topup-check:{key}"
        # Translators: button label, at most 80 characters
        self.check_now.label = _("Check now")

    @discord.ui.button(style=discord.ButtonStyle.primary)
    async def check_now(
        self, interaction: discord.Interaction[OrderBot], _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = interaction.client
        if bot.topups is None:
            raise UserFacingError(
                _(
                    "No payment provider is configured in this process, so nothing can be "
                    "checked: see docs/payments.md."
                )
            )
        topup = await bot.topup_queries.get(self.topup_id)
        applied = await bot.topups.service.check(topup)
        log_read(interaction, f"checked top-up {topup.id} at {topup.provider}")
        now = await bot.topup_queries.get(self.topup_id)
        await interaction.followup.send(
            check_result(applied, topup.provider),
            embed=topup_embed(now, await bot.topup_queries.dms(now.id)),
            ephemeral=True,
        )


async def topup_autocomplete(
    interaction: discord.Interaction[OrderBot], current: str
) -> list[app_commands.Choice[str]]:
    if staff_refusal(interaction) is not None:
        return []
    rows = await interaction.client.topup_queries.page(
        state=None, user_id=None, limit=100, offset=0
    )
    return [
        app_commands.Choice(
            name=f"{t.id} · {t.state.value} · {t.amount.format()}"[:100], value=t.id
        )
        for t in rows
        if current.upper() in t.id
    ][:25]


@app_commands.command(name="payment", description="One online top-up, with Check now")
@app_commands.describe(topup_id="The top-up's id (TOP-…)")
@app_commands.autocomplete(topup_id=topup_autocomplete)
async def view_payment(
    interaction: discord.Interaction[OrderBot], topup_id: app_commands.Range[str, 1, 40]
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    topup = await bot.topup_queries.get(topup_id)
    log_read(interaction, f"viewed top-up {topup.id}")
    await interaction.followup.send(
        embed=topup_embed(topup, await bot.topup_queries.dms(topup.id)),
        view=CheckNowView(topup.id, interaction.id),
        ephemeral=True,
    )


COMMANDS: Additions = (
    (admin_group, list_payments),
    (admin_group, view_payment),
)
