"""How orders look in Discord: embeds and delivery text shared by /order, the DMs and
the admin views. Delivery data is only ever placed where its owner will see it."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from discord.utils import TimestampStyle

from bot.product_names import product_name
from core.domain import Delivery, Money, OrderSource, OrderStatus, PaymentMode
from core.i18n import N_, _, _n, number
from storage.orders import OrderEvent, OrderRecord
from storage.wallet import Entry, EntryKind

# Discord allows 2,000 characters per message; leave room for the wrapping text.
INLINE_DELIVERY_LIMIT = 1500

STATUS_EMOJI = {
    OrderStatus.DRAFT: "📝",
    OrderStatus.AWAITING_APPROVAL: "🧾",
    OrderStatus.SUBMITTING: "⏳",
    OrderStatus.SUBMITTED: "📨",
    OrderStatus.PROCESSING: "⚙️",
    OrderStatus.COMPLETED: "✅",
    OrderStatus.PARTIALLY_COMPLETED: "🟡",
    OrderStatus.FAILED: "❌",
    OrderStatus.REFUNDED: "↩️",
    OrderStatus.CANCELLED: "🚫",
    OrderStatus.NEEDS_REVIEW: "🔎",
}

STATUS_COLOUR = {
    OrderStatus.COMPLETED: discord.Colour.green(),
    OrderStatus.PARTIALLY_COMPLETED: discord.Colour.gold(),
    OrderStatus.FAILED: discord.Colour.red(),
    OrderStatus.REFUNDED: discord.Colour.light_grey(),
    OrderStatus.CANCELLED: discord.Colour.light_grey(),
    OrderStatus.NEEDS_REVIEW: discord.Colour.gold(),
}


def status_text(order: OrderRecord) -> str:
    # `label` is in the current language (core.domain.STATUS_LABELS).
    return f"{STATUS_EMOJI.get(order.status, '')} {order.status.label}".strip()


# What buyers read instead of a provider's setting name.
PROVIDER_DISPLAY = {
    # Translators: a provider, as in "paid at the boost reseller"
    "boost": N_("the boost reseller"),
    # Translators: a provider, as in "paid at the checkout service"
    "checkout": N_("the checkout service"),
    # Translators: a provider's brand name, as in "paid at Namefi"
    "namefi": N_("Namefi"),
    # Translators: a provider, as in "paid at the digital shop"
    "digital_shop": N_("the digital shop"),
}


def provider_display(name: str) -> str:
    shown = PROVIDER_DISPLAY.get(name)
    return _(shown) if shown is not None else name.replace("_", " ")


def price_text(order: OrderRecord) -> str:
    if order.source is OrderSource.LINKED:
        provider = provider_display(order.provider)
        if order.remote_price:
            return _("paid at {provider} ({price})", provider=provider, price=order.remote_price)
        return _("paid at {provider}", provider=provider)
    return order.total.format()


def ts(epoch: float, style: TimestampStyle = "f") -> str:
    """A Discord timestamp: each reader sees it in their own time zone and language."""
    return discord.utils.format_dt(datetime.fromtimestamp(epoch, tz=UTC), style)


def order_line(order: OrderRecord) -> str:
    return (
        f"`{order.id}` · {number(order.quantity)} × {shown_product(order)} · {price_text(order)} · "
        f"**{status_text(order)}** · {ts(order.created_at, 'R')}"
    )


def order_embed(
    order: OrderRecord,
    events: list[OrderEvent] | None = None,
    entries: list[Entry] | None = None,
) -> discord.Embed:
    embed = discord.Embed(
        title=_("Order {order_id}", order_id=order.id),
        colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple()),
        timestamp=datetime.fromtimestamp(order.created_at, tz=UTC),
    )
    # Translators: an embed field's name (what was ordered)
    embed.add_field(name=_("Product"), value=shown_product(order), inline=True)
    # Translators: an embed field's name (how many were ordered)
    embed.add_field(name=_("Quantity"), value=number(order.quantity), inline=True)
    # Translators: an embed field's name
    embed.add_field(name=_("Price"), value=price_text(order), inline=True)
    # Translators: an embed field's name (the order's status)
    embed.add_field(name=_("Status"), value=status_text(order), inline=True)
    paid = payment_text(order, entries)
    if paid:
        # Translators: an embed field's name (how the order was paid)
        embed.add_field(name=_("Payment"), value=paid, inline=False)
    if order.status_message:
        embed.add_field(name=_("Provider says"), value=shown_status(order)[:1000], inline=False)
    server = order.details.get("server_name")
    if server:
        # Translators: an embed field's name (the Discord server boosted)
        embed.add_field(name=_("Server"), value=str(server)[:100], inline=True)
    if events:
        lines = [
            _event_line(e) for e in events if e.kind in ("created", "status", "delivery", "linked")
        ]
        embed.add_field(
            # Translators: an embed field's name (the order's history)
            name=_("Timeline"),
            value="\n".join(lines[-10:])[:1024] or "—",
            inline=False,
        )
    # Translators: the footer of an order's embed, followed by the date it was placed
    embed.set_footer(text=_("Placed"))
    return embed


def _event_line(event: OrderEvent) -> str:
    at = ts(event.at, "T")
    if event.kind == "status" and event.new_status is not None:
        return f"{at} → {event.new_status.label}"
    if event.kind == "created":
        # Translators: a line of an order's timeline; {time} is a time of day
        return _("{time} created", time=at)
    if event.kind == "delivery":
        # Translators: a line of an order's timeline; {time} is a time of day
        return _("{time} delivery received", time=at)
    if event.kind == "linked":
        # Translators: a line of an order's timeline (staff linked it to the member)
        return _("{time} linked", time=at)
    return f"{at} {event.kind}"


def delivery_payload(order: OrderRecord, delivery: Delivery) -> tuple[str, discord.File | None]:
    """The delivery for its owner: inline in a code block when it fits, else a .txt file."""
    text = delivery.reveal()
    if len(text) <= INLINE_DELIVERY_LIMIT and "```" not in text:
        # The delivery itself goes after the message, never through a translation.
        heading = _("**Your delivery for `{order_id}`:**", order_id=order.id)
        return f"{heading}\n```\n{text}\n```", None
    file = discord.File(io.BytesIO(text.encode("utf-8")), filename=f"{order.id}-delivery.txt")
    return _(
        "**Your delivery for `{order_id}`** is attached (too long for a message).",
        order_id=order.id,
    ), file


@dataclass(frozen=True, slots=True)
class OutgoingDm:
    """A DM as the notifier sends it, and the notice that stands in for it when the
    buyer's DMs are closed (it carries no delivery data, and no amount)."""

    content: str | None
    embed: discord.Embed
    file: discord.File | None
    notice: str


def notification_marker(subject_id: str, kind: str) -> str:
    """Footer text that identifies a notification in a channel's history, so a send
    interrupted by a crash can be checked instead of blindly repeated. The subject is
    an order's id or a top-up's (`TOP-…`). Never translated: it is matched exactly
    (bot.services.dm_reconciliation), whatever language the DM was written in."""
    label = "Top-up" if subject_id.startswith("TOP-") else "Order"
    return f"{label} {subject_id} · {kind}"


# What a DM says about the order as it is when the DM goes out. Notifications are owed
# for endings ("final"), for a move to staff review ("review") and for a submission that
# went through in the background ("placed"); each shows the order's current state.
# Each headline is the DM's whole title (after the status emoji).
HEADLINES = {
    OrderStatus.COMPLETED: N_("Your order is complete"),
    OrderStatus.PARTIALLY_COMPLETED: N_("Your order was partially completed"),
    OrderStatus.FAILED: N_("Your order failed"),
    OrderStatus.REFUNDED: N_("Your order was refunded"),
    OrderStatus.CANCELLED: N_("Your order was cancelled"),
    OrderStatus.NEEDS_REVIEW: N_("Your order is being checked by staff"),
    OrderStatus.SUBMITTED: N_("Your order is placed"),
    OrderStatus.PROCESSING: N_("Your order is placed"),
    OrderStatus.SUBMITTING: N_("Your order is being placed"),
    OrderStatus.AWAITING_APPROVAL: N_("Your order is waiting for staff approval"),
}
NEXT_STEPS = {
    OrderStatus.NEEDS_REVIEW: N_(
        "We couldn't confirm this order with the provider "
        "automatically. Staff are checking; you won't be charged twice, and you'll get a DM "
        "when it's settled."
    ),
    OrderStatus.SUBMITTED: N_("The provider has it. You'll get a DM when it's done."),
    OrderStatus.PROCESSING: N_("The provider is working on it. You'll get a DM when it's done."),
    OrderStatus.SUBMITTING: N_(
        "We're still sending it to the provider (with the same order "
        "id, so it can't be ordered twice). You'll get a DM with the result."
    ),
    OrderStatus.AWAITING_APPROVAL: N_(
        "Staff are checking your payment. Nothing is sent to the "
        "provider before they approve it; you'll get a DM either way."
    ),
}


def shown_product(order: OrderRecord) -> str:
    """The product's name in the reader's language (the catalog's), else as recorded."""
    return product_name(order.product_key, order.product_name)


# A status message stored with a note filled in (the note as staff typed it, or a default
# of ours); shown_status words it for the reader.
NOT_APPROVED = N_("Not approved: {note} Nothing was ordered.")
_NOT_APPROVED = re.compile(r"^Not approved: (?P<note>.*) Nothing was ordered\.$", re.DOTALL)


def shown_status(order: OrderRecord) -> str:
    """The order's status message in the reader's language when it is one of ours (we
    store the English and translate it here); a provider's or staff's words as written."""
    if not order.status_message:
        return ""  # _("") would be the catalog's header
    rejected = _NOT_APPROVED.match(order.status_message)
    if rejected:
        note = rejected["note"]  # staff's words, or a default of ours
        return _(NOT_APPROVED, note=_(note))
    return _(order.status_message)


def payment_text(
    order: OrderRecord, entries: list[Entry] | None, *, for_staff: bool = False
) -> str | None:
    """How the order was paid and what came back, for /order and the DMs (`for_staff`:
    the staff console's view of it, about the buyer's credit)."""
    if order.payment is PaymentMode.APPROVAL:
        return (
            _("Paid to the shop; staff are checking it")
            if order.status is OrderStatus.AWAITING_APPROVAL
            else _("Paid to the shop (checked by staff)")
        )
    if order.payment is PaymentMode.FREE:
        return _("No charge")
    if order.payment is not PaymentMode.WALLET or not entries:
        return None
    currency = order.total.currency
    paid = -sum(e.amount.minor for e in entries if e.kind is EntryKind.ORDER_DEBIT)
    back = sum(e.amount.minor for e in entries if e.kind is EntryKind.REFUND)
    lines = []
    if paid:
        amount = Money(paid, currency).format()
        lines.append(
            _("{amount} from their store credit", amount=amount)
            if for_staff
            else _("{amount} from your store credit", amount=amount)
        )
    if back:
        amount = Money(back, currency).format()
        lines.append(
            _("↩️ {amount} refunded to their store credit", amount=amount)
            if for_staff
            else _("↩️ {amount} refunded to your store credit", amount=amount)
        )
    return "\n".join(lines) or None


def notification_embed(
    order: OrderRecord, kind: str, entries: list[Entry] | None = None
) -> discord.Embed:
    """The DM for one owed notification (see HEADLINES). `entries` are the order's
    ledger rows: the payment and any refund are told in the same DM as the outcome."""
    headline = HEADLINES.get(order.status)
    if headline is not None:
        sentence = _(headline)
    else:
        sentence = _("Your order is {status}", status=order.status.label)
    title = f"{STATUS_EMOJI.get(order.status, '')} {sentence}".strip()
    if kind.split("-", 1)[0] == "refund":
        title = _("↩️ Store credit refunded for your order")
    embed = discord.Embed(
        title=title, colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple())
    )
    # Translators: an embed field's name (the order's id)
    embed.add_field(name=_("Order"), value=f"`{order.id}`", inline=True)
    # Translators: an embed field's name (what was ordered)
    embed.add_field(name=_("Product"), value=shown_product(order), inline=True)
    # Translators: an embed field's name (how many were ordered)
    embed.add_field(name=_("Quantity"), value=number(order.quantity), inline=True)
    # Translators: an embed field's name
    embed.add_field(name=_("Price"), value=price_text(order), inline=True)
    # Translators: an embed field's name (the order's status)
    embed.add_field(name=_("Status"), value=status_text(order), inline=True)
    paid = payment_text(order, entries)
    if paid:
        # Translators: an embed field's name (how the order was paid)
        embed.add_field(name=_("Payment"), value=paid, inline=False)
    if order.status_message:
        embed.add_field(name=_("Provider says"), value=shown_status(order)[:1000], inline=False)
    if order.status in NEXT_STEPS:
        embed.add_field(name=_("What happens now"), value=_(NEXT_STEPS[order.status]), inline=False)
    if order.status in (OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.CANCELLED):
        embed.add_field(
            name=_("Questions?"), value=_("Reply to staff in the server."), inline=False
        )
    embed.set_footer(text=notification_marker(order.id, kind))
    return embed


def notice_marker_line(order_id: str, kind: str) -> str:
    """The last line of a fallback notice: an opaque reference to (order, kind) that the
    notifier can find in the channel's history, and nobody else can read anything from."""
    ref = hashlib.sha256(f"notice|{order_id}|{kind}".encode()).hexdigest()[:12]
    return f"-# ref {ref}"


def fallback_notice(order: OrderRecord, kind: str) -> str:
    """Posted in the notices channel when the buyer's DMs are closed. Anyone in the
    channel can read it: it names no order, product, status or delivery."""
    # The marker line stays outside the message: the notifier finds it as a line of its own.
    text = _(
        "<@{user_id}> there's an update on one of your orders, but I couldn't DM "
        "you. Allow direct messages from server members, or run `/orders` to see it.",
        user_id=order.user_id,
    )
    return f"{text}\n{notice_marker_line(order.id, kind)}"


LEDGER_LABEL = {
    # Translators: a kind of store-credit history entry (credit paid in online)
    EntryKind.CREDIT: N_("Top-up"),
    # Translators: a kind of store-credit history entry (paid for an order)
    EntryKind.ORDER_DEBIT: N_("Order"),
    # Translators: a kind of store-credit history entry
    EntryKind.REFUND: N_("Refund"),
    # Translators: a kind of store-credit history entry (a correction by staff)
    EntryKind.ADJUSTMENT: N_("Adjustment"),
}


def signed(amount: Money) -> str:
    text = Money(abs(amount.minor), amount.currency).format()
    return f"+{text}" if amount.minor > 0 else f"−{text}"


def ledger_line(entry: Entry) -> str:
    what = _(LEDGER_LABEL[entry.kind])
    if entry.order_id:
        what += f" `{entry.order_id}`"
    note = (
        f" · {entry.note[:80]}"
        if entry.note
        and entry.kind
        in (
            EntryKind.CREDIT,
            EntryKind.ADJUSTMENT,
        )
        else ""
    )
    return f"{ts(entry.created_at, 'd')} **{signed(entry.amount)}** {what}{note}"


def wallet_embed(
    title: str, balances: list[Money], entries: list[Entry], *, page: int, pages: int, total: int
) -> discord.Embed:
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    embed.add_field(
        # Translators: an embed field's name (store credit)
        name=_("Balance"),
        value="\n".join(f"**{b.format()}**" for b in balances) or _("No store credit yet."),
        inline=False,
    )
    embed.add_field(
        # Translators: an embed field's name (the store credit's history)
        name=_("History"),
        value="\n".join(ledger_line(e) for e in entries)[:1024] or _("Nothing yet."),
        inline=False,
    )
    embed.set_footer(
        text=_n(
            "Page {page} of {pages} · {count} entry",
            "Page {page} of {pages} · {count} entries",
            total,
            page=number(page + 1),
            pages=number(pages),
        )
    )
    return embed
