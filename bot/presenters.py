"""How orders look in Discord: embeds and delivery text shared by /order, the DMs and
the admin views. Delivery data is only ever placed where its owner will see it."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from discord.utils import TimestampStyle

from core.domain import Delivery, Money, OrderSource, OrderStatus, PaymentMode
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
    return f"{STATUS_EMOJI.get(order.status, '')} {order.status.label}".strip()


# What buyers read instead of a provider's setting name.
PROVIDER_DISPLAY = {
    "boost": "the boost reseller",
    "checkout": "the checkout service",
    "namefi": "Namefi",
    "digital_shop": "the digital shop",
}


def provider_display(name: str) -> str:
    return PROVIDER_DISPLAY.get(name, name.replace("_", " "))


def price_text(order: OrderRecord) -> str:
    if order.source is OrderSource.LINKED:
        return f"paid at {provider_display(order.provider)}" + (
            f" ({order.remote_price})" if order.remote_price else ""
        )
    return order.total.format()


def ts(epoch: float, style: TimestampStyle = "f") -> str:
    """A Discord timestamp: each reader sees it in their own time zone and language."""
    return discord.utils.format_dt(datetime.fromtimestamp(epoch, tz=UTC), style)


def order_line(order: OrderRecord) -> str:
    return (
        f"`{order.id}` · {order.quantity} × {order.product_name} · {price_text(order)} · "
        f"**{status_text(order)}** · {ts(order.created_at, 'R')}"
    )


def order_embed(
    order: OrderRecord,
    events: list[OrderEvent] | None = None,
    entries: list[Entry] | None = None,
) -> discord.Embed:
    embed = discord.Embed(
        title=f"Order {order.id}",
        colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple()),
        timestamp=datetime.fromtimestamp(order.created_at, tz=UTC),
    )
    embed.add_field(name="Product", value=order.product_name, inline=True)
    embed.add_field(name="Quantity", value=str(order.quantity), inline=True)
    embed.add_field(name="Price", value=price_text(order), inline=True)
    embed.add_field(name="Status", value=status_text(order), inline=True)
    paid = payment_text(order, entries)
    if paid:
        embed.add_field(name="Payment", value=paid, inline=False)
    if order.status_message:
        embed.add_field(name="Provider says", value=order.status_message[:1000], inline=False)
    server = order.details.get("server_name")
    if server:
        embed.add_field(name="Server", value=str(server)[:100], inline=True)
    if events:
        lines = [
            _event_line(e) for e in events if e.kind in ("created", "status", "delivery", "linked")
        ]
        embed.add_field(name="Timeline", value="\n".join(lines[-10:])[:1024] or "—", inline=False)
    embed.set_footer(text="Placed")
    return embed


def _event_line(event: OrderEvent) -> str:
    if event.kind == "status" and event.new_status is not None:
        return f"{ts(event.at, 'T')} → {event.new_status.label}"
    if event.kind == "created":
        return f"{ts(event.at, 'T')} created"
    if event.kind == "delivery":
        return f"{ts(event.at, 'T')} delivery received"
    return f"{ts(event.at, 'T')} {event.kind}"


def delivery_payload(order: OrderRecord, delivery: Delivery) -> tuple[str, discord.File | None]:
    """The delivery for its owner: inline in a code block when it fits, else a .txt file."""
    text = delivery.reveal()
    if len(text) <= INLINE_DELIVERY_LIMIT and "```" not in text:
        return f"**Your delivery for `{order.id}`:**\n```\n{text}\n```", None
    file = discord.File(io.BytesIO(text.encode("utf-8")), filename=f"{order.id}-delivery.txt")
    return f"**Your delivery for `{order.id}`** is attached (too long for a message).", file


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
    an order's id or a top-up's (`TOP-…`)."""
    label = "Top-up" if subject_id.startswith("TOP-") else "Order"
    return f"{label} {subject_id} · {kind}"


# What a DM says about the order as it is when the DM goes out. Notifications are owed
# for endings ("final"), for a move to staff review ("review") and for a submission that
# went through in the background ("placed"); each shows the order's current state.
HEADLINES = {
    OrderStatus.COMPLETED: "is complete",
    OrderStatus.PARTIALLY_COMPLETED: "was partially completed",
    OrderStatus.FAILED: "failed",
    OrderStatus.REFUNDED: "was refunded",
    OrderStatus.CANCELLED: "was cancelled",
    OrderStatus.NEEDS_REVIEW: "is being checked by staff",
    OrderStatus.SUBMITTED: "is placed",
    OrderStatus.PROCESSING: "is placed",
    OrderStatus.SUBMITTING: "is being placed",
    OrderStatus.AWAITING_APPROVAL: "is waiting for staff approval",
}
NEXT_STEPS = {
    OrderStatus.NEEDS_REVIEW: "We couldn't confirm this order with the provider "
    "automatically. Staff are checking; you won't be charged twice, and you'll get a DM "
    "when it's settled.",
    OrderStatus.SUBMITTED: "The provider has it. You'll get a DM when it's done.",
    OrderStatus.PROCESSING: "The provider is working on it. You'll get a DM when it's done.",
    OrderStatus.SUBMITTING: "We're still sending it to the provider (with the same order "
    "id, so it can't be ordered twice). You'll get a DM with the result.",
    OrderStatus.AWAITING_APPROVAL: "Staff are checking your payment. Nothing is sent to the "
    "provider before they approve it; you'll get a DM either way.",
}


def payment_text(order: OrderRecord, entries: list[Entry] | None) -> str | None:
    """How the order was paid and what came back, for /order and the DMs."""
    if order.payment is PaymentMode.APPROVAL:
        return (
            "Paid to the shop; staff are checking it"
            if order.status is OrderStatus.AWAITING_APPROVAL
            else "Paid to the shop (checked by staff)"
        )
    if order.payment is PaymentMode.FREE:
        return "No charge"
    if order.payment is not PaymentMode.WALLET or not entries:
        return None
    currency = order.total.currency
    paid = -sum(e.amount.minor for e in entries if e.kind is EntryKind.ORDER_DEBIT)
    back = sum(e.amount.minor for e in entries if e.kind is EntryKind.REFUND)
    lines = [f"{Money(paid, currency).format()} from your store credit"] if paid else []
    if back:
        lines.append(f"↩️ {Money(back, currency).format()} refunded to your store credit")
    return "\n".join(lines) or None


def notification_embed(
    order: OrderRecord, kind: str, entries: list[Entry] | None = None
) -> discord.Embed:
    """The DM for one owed notification (see HEADLINES). `entries` are the order's
    ledger rows: the payment and any refund are told in the same DM as the outcome."""
    headline = HEADLINES.get(order.status, f"is {order.status.label}")
    title = f"{STATUS_EMOJI.get(order.status, '')} Your order {headline}".strip()
    if kind.split("-", 1)[0] == "refund":
        title = "↩️ Store credit refunded for your order"
    embed = discord.Embed(
        title=title, colour=STATUS_COLOUR.get(order.status, discord.Colour.blurple())
    )
    embed.add_field(name="Order", value=f"`{order.id}`", inline=True)
    embed.add_field(name="Product", value=order.product_name, inline=True)
    embed.add_field(name="Quantity", value=str(order.quantity), inline=True)
    embed.add_field(name="Price", value=price_text(order), inline=True)
    embed.add_field(name="Status", value=status_text(order), inline=True)
    paid = payment_text(order, entries)
    if paid:
        embed.add_field(name="Payment", value=paid, inline=False)
    if order.status_message:
        embed.add_field(name="Provider says", value=order.status_message[:1000], inline=False)
    if order.status in NEXT_STEPS:
        embed.add_field(name="What happens now", value=NEXT_STEPS[order.status], inline=False)
    if order.status in (OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.CANCELLED):
        embed.add_field(name="Questions?", value="Reply to staff in the server.", inline=False)
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
    return (
        f"<@{order.user_id}> there's an update on one of your orders, but I couldn't DM "
        "you. Allow direct messages from server members, or run `/orders` to see it.\n"
        f"{notice_marker_line(order.id, kind)}"
    )


LEDGER_LABEL = {
    EntryKind.CREDIT: "Top-up",
    EntryKind.ORDER_DEBIT: "Order",
    EntryKind.REFUND: "Refund",
    EntryKind.ADJUSTMENT: "Adjustment",
}


def signed(amount: Money) -> str:
    text = Money(abs(amount.minor), amount.currency).format()
    return f"+{text}" if amount.minor > 0 else f"−{text}"


def ledger_line(entry: Entry) -> str:
    what = LEDGER_LABEL[entry.kind]
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
        name="Balance",
        value="\n".join(f"**{b.format()}**" for b in balances) or "No store credit yet.",
        inline=False,
    )
    embed.add_field(
        name="History",
        value="\n".join(ledger_line(e) for e in entries)[:1024] or "Nothing yet.",
        inline=False,
    )
    embed.set_footer(
        text=f"Page {page + 1} of {pages} · {total} entr{'y' if total == 1 else 'ies'}"
    )
    return embed
