"""/admin orders and /admin order …: staff finish, fix and track orders.

Thin: every decision and every audit row is in bot.services.staff_orders. Replies are
ephemeral (only the staff member sees them); what changed is also posted as one line in
the staff channel by the service, through the alert outbox. Views and modals get custom
ids unique to their interaction, because discord.py keys open modals by custom_id.
"""

from __future__ import annotations

import io
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.domain import Delivery, OrderStatus
from bot.errors import InvalidInput
from bot.presenters import STATUS_EMOJI
from bot.services.ordering import ConfirmOutcome
from bot.services.staff_orders import SETTABLE
from bot.staff_presenters import (
    masked_contact,
    masked_delivery,
    revealed_text,
    staff_order_embed,
    staff_order_line,
    status_counts,
)
from bot.tree import report_error
from cogs.admin.access import StaffGroup, admin_group, check_component, staff_refusal
from storage import orders as repo

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

PAGE_SIZE = 10
VIEW_TIMEOUT = 600
# An attached delivery is read into memory and DMed as a file: keep it reasonable.
MAX_DELIVERY_FILE = 1024 * 1024
LISTABLE = [s for s in OrderStatus if s is not OrderStatus.DRAFT]
LINKABLE = [
    app_commands.Choice(name="Digital shop", value="digital_shop"),
    app_commands.Choice(name="Namefi", value="namefi"),
]

order_group = StaffGroup(name="order", description="Staff: one order", parent=admin_group)


def _bot(interaction: discord.Interaction[Any]) -> OrderBot:
    bot: OrderBot = interaction.client
    return bot


def _log_read(interaction: discord.Interaction[Any], what: str) -> None:
    log.info("staff %s: %s", interaction.user.id, what)


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
            parts.append(f"last {self.days} day(s)")
        return ", ".join(parts) or "all orders"


async def orders_page(bot: OrderBot, flt: OrderFilter, page: int) -> tuple[discord.Embed, int]:
    counts = Counter(
        await repo.count_orders_by_status(
            bot.db, user_id=flt.member_id, provider=flt.provider, since=flt.since
        )
    )
    total = counts[flt.status.value] if flt.status else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    orders = await repo.list_orders(
        bot.db,
        statuses=[flt.status] if flt.status else None,
        user_id=flt.member_id,
        provider=flt.provider,
        since=flt.since,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
    )
    embed = discord.Embed(title=f"Orders: {flt.describe()}", colour=discord.Colour.blurple())
    embed.description = "\n".join(staff_order_line(o) for o in orders) or "No orders match."
    embed.add_field(name="By status", value=status_counts(counts), inline=False)
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} order(s) · newest first")
    return embed, pages


class OrdersPager(discord.ui.View):
    def __init__(self, flt: OrderFilter, page: int, pages: int, key: int) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.flt = flt
        self.page = page
        self.pages = pages
        self.previous.custom_id = f"admin-orders:{key}:prev"
        self.next.custom_id = f"admin-orders:{key}:next"
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def _turn(self, interaction: discord.Interaction[Any], step: int) -> None:
        embed, self.pages = await orders_page(_bot(interaction), self.flt, self.page + step)
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._sync()
        await interaction.response.edit_message(embed=embed, view=self)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self._turn(interaction, +1)


async def _provider_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    if staff_refusal(interaction) is not None:
        return []
    names = sorted(a.name for a in _bot(interaction).providers.all())
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n][:25]


@admin_group.command(name="orders", description="List orders, newest first, with counts per status")
@app_commands.describe(
    status="Only this status",
    member="Only this buyer's orders",
    provider="Only this provider's orders",
    days="Only orders from the last N days",
)
@app_commands.choices(status=[app_commands.Choice(name=s.label, value=s.value) for s in LISTABLE])
@app_commands.autocomplete(provider=_provider_autocomplete)
async def list_orders(
    interaction: discord.Interaction[Any],
    status: str | None = None,
    member: discord.User | None = None,
    provider: app_commands.Range[str, 1, 50] | None = None,
    days: app_commands.Range[int, 1, 3650] | None = None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    known = _bot(interaction).providers.names()
    if provider is not None and provider not in known:
        raise InvalidInput(f"There is no provider `{provider[:50]}`. Known: {', '.join(known)}.")
    flt = OrderFilter(
        OrderStatus(status) if status else None, member.id if member else None, provider, days
    )
    embed, pages = await orders_page(_bot(interaction), flt, 0)
    _log_read(interaction, f"listed orders ({flt.describe()})")
    view = OrdersPager(flt, 0, pages, interaction.id)
    await interaction.followup.send(embed=embed, view=view, ephemeral=True)


# --- /admin order view -----------------------------------------------------------------------


async def _order_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    # Autocomplete runs no checks: without this, anyone who can see /admin could list
    # order ids and buyers' names.
    if staff_refusal(interaction) is not None:
        return []
    found = await repo.search_orders(_bot(interaction).db, current, limit=25)
    return [
        app_commands.Choice(
            name=(
                f"{o.id} · {STATUS_EMOJI.get(o.status, '')} {o.status.label} · "
                f"{o.buyer_name or o.user_id} · {o.product_name}"
            )[:100],
            value=o.id,
        )
        for o in found
    ]


class RevealView(discord.ui.View):
    def __init__(self, order_id: str, key: int) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.order_id = order_id
        self.reveal.custom_id = f"admin-reveal:{key}"

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    @discord.ui.button(label="Reveal contact and delivery", style=discord.ButtonStyle.danger)
    async def reveal(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        service = _bot(interaction).staff_orders
        order = await service.get(self.order_id)
        revealed = await service.reveal(order.id, interaction.user.id)
        text, long = revealed_text(order, revealed)
        if long is None:
            await interaction.followup.send(text, ephemeral=True)
        else:
            file = discord.File(io.BytesIO(long.encode()), filename=f"{order.id}-delivery.txt")
            await interaction.followup.send(text, file=file, ephemeral=True)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)


@order_group.command(name="view", description="The whole record of one order, masked")
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=_order_autocomplete)
async def view_order(interaction: discord.Interaction[Any], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = _bot(interaction)
    dossier = await bot.staff_orders.dossier(order_id)
    order = dossier.order
    contact = masked_contact(order, order.contact(bot.cipher) if order.has_contact else None)
    delivery = masked_delivery(order.delivery(bot.cipher) if order.has_delivery else None)
    _log_read(interaction, f"viewed order {order.id}")
    embed = staff_order_embed(dossier, contact, delivery)
    if order.has_contact or order.has_delivery:
        await interaction.followup.send(
            embed=embed, view=RevealView(order.id, interaction.id), ephemeral=True
        )
    else:
        await interaction.followup.send(embed=embed, ephemeral=True)


# --- /admin order retry ----------------------------------------------------------------------


def _outcome_text(outcome: ConfirmOutcome) -> str:
    status = outcome.order.status.label if outcome.order else "unknown"
    return f"{outcome.user_message}\nNow: **{status}**."


class MarkPlacedModal(discord.ui.Modal):
    remote_id: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="The provider's order id",
        max_length=100,
        placeholder="As the provider shows it",
        custom_id="placed:remote_id",
    )

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__(title=f"Mark {order_id} placed", custom_id=f"admin-placed:{key}")
        self.order_id = order_id
        self.seen = seen

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await _bot(interaction).staff_orders.mark_placed(
            self.order_id, interaction.user.id, self.remote_id.value, self.seen
        )
        await interaction.followup.send(
            f"Order `{order.id}` is placed at {order.provider} as `{order.remote_id}`: "
            f"**{order.status.label}**. The bot polls it from now on.",
            ephemeral=True,
        )

    async def on_error(  # type: ignore[override]  # Modal's signature differs from View's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)


class MarkFailedModal(discord.ui.Modal):
    note: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What the buyer is told",
        style=discord.TextStyle.paragraph,
        max_length=300,
        required=False,
        placeholder="The provider did not place this order.",
        custom_id="failed:note",
    )

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__(title=f"Mark {order_id} failed", custom_id=f"admin-failed:{key}")
        self.order_id = order_id
        self.seen = seen

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await _bot(interaction).staff_orders.mark_failed(
            self.order_id, interaction.user.id, self.note.value, self.seen
        )
        await interaction.followup.send(
            f"Order `{order.id}` is **{order.status.label}**; the buyer is being told.",
            ephemeral=True,
        )

    async def on_error(  # type: ignore[override]  # Modal's signature differs from View's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)


class ReviewView(discord.ui.View):
    """The three ways to resolve a needs-review order."""

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.order_id = order_id
        self.seen = seen  # the order's updated_at when these buttons were shown
        self.key = key
        self.resubmit.custom_id = f"admin-review:{key}:resubmit"
        self.placed.custom_id = f"admin-review:{key}:placed"
        self.failed.custom_id = f"admin-review:{key}:failed"

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    @discord.ui.button(
        label="Resubmit (the provider has no such order)", style=discord.ButtonStyle.danger
    )
    async def resubmit(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        # The view stays alive: a second press (a double click, another staff member) is
        # refused by the service's compare-and-set, with a message saying why.
        outcome = await _bot(interaction).staff_orders.resubmit(
            self.order_id, interaction.user.id, self.seen
        )
        await interaction.followup.send(_outcome_text(outcome), ephemeral=True)

    @discord.ui.button(label="Mark placed…", style=discord.ButtonStyle.success)
    async def placed(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(
            MarkPlacedModal(self.order_id, self.seen, interaction.id)
        )

    @discord.ui.button(label="Mark failed…", style=discord.ButtonStyle.secondary)
    async def failed(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(
            MarkFailedModal(self.order_id, self.seen, interaction.id)
        )

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)


@order_group.command(
    name="retry", description="Retry a failed submission, or resolve a needs-review order"
)
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=_order_autocomplete)
async def retry_order(interaction: discord.Interaction[Any], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    service = _bot(interaction).staff_orders
    order = await service.get(order_id)
    if order.status is OrderStatus.NEEDS_REVIEW:
        await interaction.followup.send(
            f"Order `{order.id}` needs review: the outcome at **{order.provider}** is unknown"
            f" ({(await service.review_reason(order))[:300]}). Check the provider first, then:\n"
            "• **Resubmit** if the provider has no such order: exactly one more request.\n"
            "• **Mark placed** if it has it: give its id and the bot polls it.\n"
            "• **Mark failed** to end the order and tell the buyer.",
            view=ReviewView(order.id, order.updated_at, interaction.id),
            ephemeral=True,
        )
        return
    outcome = await service.retry_failed(order.id, interaction.user.id)
    await interaction.followup.send(_outcome_text(outcome), ephemeral=True)


# --- /admin order set-status -----------------------------------------------------------------


@order_group.command(name="set-status", description="Move an order to another status, with a note")
@app_commands.describe(
    order_id="The order id, or start typing the buyer's name",
    status="The new status (only moves the order's state machine allows)",
    note="Why: shown to the buyer and kept in the timeline",
)
@app_commands.choices(status=[app_commands.Choice(name=s.label, value=s.value) for s in SETTABLE])
@app_commands.autocomplete(order_id=_order_autocomplete)
async def set_status(
    interaction: discord.Interaction[Any],
    order_id: str,
    status: str,
    note: app_commands.Range[str, 1, 300],
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    order = await _bot(interaction).staff_orders.set_status(
        order_id, interaction.user.id, OrderStatus(status), note
    )
    told = " The buyer is being told." if order.status.is_terminal else ""
    await interaction.followup.send(
        f"Order `{order.id}` is now **{order.status.label}**.{told}", ephemeral=True
    )


# --- /admin order deliver --------------------------------------------------------------------


class DeliverModal(discord.ui.Modal):
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="The delivery (keys, accounts, links…)",
        style=discord.TextStyle.paragraph,
        max_length=4000,
        custom_id="deliver:text",
    )

    def __init__(self, order_id: str, key: int) -> None:
        super().__init__(title=f"Deliver {order_id}", custom_id=f"admin-deliver:{key}")
        self.order_id = order_id

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _deliver(interaction, self.order_id, self.text.value)

    async def on_error(  # type: ignore[override]  # Modal's signature differs from View's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)


async def _deliver(interaction: discord.Interaction[Any], order_id: str, text: str) -> None:
    order = await _bot(interaction).staff_orders.deliver(
        order_id, interaction.user.id, Delivery.from_text(text.strip())
    )
    await interaction.followup.send(
        f"Order `{order.id}` is **{order.status.label}**. The delivery is stored encrypted and "
        f"on its way to <@{order.user_id}> by DM.",
        ephemeral=True,
    )


@order_group.command(
    name="deliver", description="Deliver an order by hand: type it, or attach a file"
)
@app_commands.describe(
    order_id="The order id, or start typing the buyer's name",
    file="A text file with the delivery (otherwise a form opens to type it)",
)
@app_commands.autocomplete(order_id=_order_autocomplete)
async def deliver_order(
    interaction: discord.Interaction[Any],
    order_id: str,
    file: discord.Attachment | None = None,
) -> None:
    if file is None:
        # A modal must be the first answer. The only I/O before it is a local SQLite read,
        # so staff learn at once that an order can't be delivered, before typing anything.
        order = await _bot(interaction).staff_orders.deliverable(order_id)
        await interaction.response.send_modal(DeliverModal(order.id, interaction.id))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    if file.size > MAX_DELIVERY_FILE:
        raise InvalidInput(f"The file is too large ({file.size} bytes); the limit is 1 MB.")
    try:
        text = (await file.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("Attach a text file (UTF-8): the delivery is sent as text.") from None
    except discord.HTTPException:
        raise InvalidInput("Discord didn't let me read that file; attach it again.") from None
    await _deliver(interaction, order_id, text)


# --- /admin order resend ---------------------------------------------------------------------


@order_group.command(name="resend", description="Send the buyer the order's final DM again")
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=_order_autocomplete)
async def resend_order(interaction: discord.Interaction[Any], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    service = _bot(interaction).staff_orders
    kind = await service.resend(order_id, interaction.user.id)
    order = await service.get(order_id)
    await interaction.followup.send(
        f"The DM for `{order.id}` is on its way to <@{order.user_id}> again ({kind}).",
        ephemeral=True,
    )


# --- /admin order link -----------------------------------------------------------------------


@order_group.command(name="link", description="Track an existing provider order for a member")
@app_commands.describe(
    provider="Where the order was placed",
    remote_id="The provider's order id (digital shop: 12 letters/digits; Namefi: a UUID)",
    member="Who gets the DM when it finishes",
)
@app_commands.choices(provider=LINKABLE)
async def link_order(
    interaction: discord.Interaction[Any],
    provider: str,
    remote_id: app_commands.Range[str, 1, 100],
    member: discord.Member,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    if member.bot:
        raise InvalidInput("Link orders to members, not to bots.")
    order = await _bot(interaction).staff_orders.link(
        staff_id=interaction.user.id,
        provider=provider,
        remote_id=remote_id,
        member_id=member.id,
        member_name=member.display_name,
        guild_id=interaction.guild_id,
    )
    await interaction.followup.send(
        f"Linked {provider} `{order.remote_id}` to {member.mention} as order `{order.id}` "
        f"(**{order.status.label}**). They get a DM when it finishes.",
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


def attach(group: app_commands.Group) -> None:
    """Importing this module attached its commands to /admin; this checks it did."""
    assert order_group.parent is group
    assert group.get_command("orders") is not None
