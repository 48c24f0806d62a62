"""/admin orders and /admin order view: staff look at orders (and Reveal, audited).

Thin: the data comes from bot.services.order_queries and bot.services.staff_orders. Replies are ephemeral
(only the staff member sees them). Views get custom ids unique to their interaction.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.errors import InvalidInput
from bot.staff_presenters import (
    masked_contact,
    masked_delivery,
    revealed_text,
    staff_order_embed,
    staff_order_line,
    status_counts,
)
from cogs.admin.access import (
    Additions,
    admin_group,
    order_group,
    staff_refusal,
)
from cogs.admin.ui import StaffPager, StaffView, log_read, order_autocomplete
from core.domain import STATUS_LABELS, OrderStatus
from core.i18n import SOURCE_LANGUAGE, _, _n, number, speaking

if TYPE_CHECKING:
    from bot.app import OrderBot

PAGE_SIZE = 10
LISTABLE = [s for s in OrderStatus if s is not OrderStatus.DRAFT]


# --- /admin orders --------------------------------------------------------------------------


class OrderFilter:
    def __init__(
        self,
        status: OrderStatus | None,
        member_id: int | None,
        provider: str | None,
        days: int | None,
    ) -> None:
        self.status = status
        self.member_id = member_id
        self.provider = provider
        self.since = time.time() - days * 86400 if days else None
        self.days = days

    def describe(self) -> str:
        parts = []
        if self.status:
            parts.append(self.status.label)
        if self.member_id:
            parts.append(f"<@{self.member_id}>")
        if self.provider:
            parts.append(self.provider)
        if self.days:
            parts.append(_n("last {count} day", "last {count} days", self.days))
        return ", ".join(parts) or _("all orders")


async def orders_page(bot: OrderBot, flt: OrderFilter, page: int) -> tuple[discord.Embed, int]:
    queries = bot.order_queries
    counts = Counter(
        await queries.count_by_status(user_id=flt.member_id, provider=flt.provider, since=flt.since)
    )
    total = counts[flt.status.value] if flt.status else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    orders = await queries.orders(
        statuses=[flt.status] if flt.status else None,
        user_id=flt.member_id,
        provider=flt.provider,
        since=flt.since,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
    )
    embed = discord.Embed(
        title=_("Orders: {filter}", filter=flt.describe()), colour=discord.Colour.blurple()
    )
    embed.description = "\n".join(staff_order_line(o) for o in orders) or _("No orders match.")
    embed.add_field(name=_("By status"), value=status_counts(counts), inline=False)
    embed.set_footer(
        text=_n(
            "Page {page} of {pages} · {count} order · newest first",
            "Page {page} of {pages} · {count} orders · newest first",
            total,
            page=number(page + 1),
            pages=number(pages),
        )
    )
    return embed, pages


async def _provider_autocomplete(
    interaction: discord.Interaction[OrderBot], current: str
) -> list[app_commands.Choice[str]]:
    if staff_refusal(interaction) is not None:
        return []
    names = sorted(a.name for a in interaction.client.providers.all())
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n][:25]


@app_commands.command(
    name="orders", description="List orders, newest first, with counts per status"
)
@app_commands.describe(
    status="Only this status",
    member="Only this buyer's orders",
    provider="Only this provider's orders",
    days="Only orders from the last N days",
)
@app_commands.choices(
    status=[app_commands.Choice(name=STATUS_LABELS[s], value=s.value) for s in LISTABLE]
)
@app_commands.autocomplete(provider=_provider_autocomplete)
async def list_orders(
    interaction: discord.Interaction[OrderBot],
    status: str | None = None,
    member: discord.User | None = None,
    provider: app_commands.Range[str, 1, 50] | None = None,
    days: app_commands.Range[int, 1, 3650] | None = None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    known = interaction.client.providers.names()
    if provider is not None and provider not in known:
        raise InvalidInput(
            _(
                "There is no provider `{provider}`. Known: {known}.",
                provider=provider[:50],
                known=", ".join(known),
            )
        )
    flt = OrderFilter(
        OrderStatus(status) if status else None, member.id if member else None, provider, days
    )
    bot = interaction.client
    embed, pages = await orders_page(bot, flt, 0)
    with speaking(SOURCE_LANGUAGE):  # the log is in English, whoever asked
        log_read(interaction, f"listed orders ({flt.describe()})")
    view = StaffPager(
        interaction.user.id,
        lambda page: orders_page(bot, flt, page),
        pages,
        custom_id=f"admin-orders:{interaction.id}",
    )
    await interaction.followup.send(embed=embed, view=view, ephemeral=True)


# --- /admin order view -----------------------------------------------------------------------


class RevealView(StaffView):
    def __init__(self, order_id: str, key: int) -> None:
        super().__init__()
        self.order_id = order_id
        self.reveal.custom_id = f"admin-reveal:{key}"
        # Translators: button label, at most 80 characters
        self.reveal.label = _("Reveal contact and delivery")

    @discord.ui.button(style=discord.ButtonStyle.danger)
    async def reveal(
        self, interaction: discord.Interaction[OrderBot], _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        service = interaction.client.staff_orders
        order = await service.get(self.order_id)
        revealed = await service.reveal(order.id, interaction.user.id)
        text, long = revealed_text(order, revealed)
        if long is None:
            await interaction.followup.send(text, ephemeral=True)
        else:
            file = discord.File(io.BytesIO(long.encode()), filename=f"{order.id}-delivery.txt")
            await interaction.followup.send(text, file=file, ephemeral=True)


@app_commands.command(name="view", description="The whole record of one order, masked")
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=order_autocomplete)
async def view_order(interaction: discord.Interaction[OrderBot], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    dossier = await bot.staff_orders.dossier(order_id)
    order = dossier.order
    contact = masked_contact(order, order.contact(bot.cipher) if order.has_contact else None)
    delivery = masked_delivery(order.delivery(bot.cipher) if order.has_delivery else None)
    log_read(interaction, f"viewed order {order.id}")
    embed = staff_order_embed(dossier, contact, delivery)
    if order.has_contact or order.has_delivery:
        await interaction.followup.send(
            embed=embed, view=RevealView(order.id, interaction.id), ephemeral=True
        )
    else:
        await interaction.followup.send(embed=embed, ephemeral=True)


# What this module adds to /admin (cogs.admin's setup attaches it).
COMMANDS: Additions = (
    (admin_group, list_orders),
    (order_group, view_order),
)
