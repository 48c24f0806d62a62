"""Alerts about staff actions, store credit and the shop: one line each in the staff channel.

Builders only: pure functions from facts to a `core.kinds.Alert` (see core/alerts/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.alerts.facts import OrderFacts
from core.domain import Money, OrderStatus
from core.kinds import Alert, AlertKind

# A staff action is its own line in the staff channel: its dedupe key only has to be
# unique, so the caller passes a `nonce` (time.time_ns()). Notes typed by staff arrive
# already trimmed or clipped by the caller, as the command showed them.


def staff_key(order_id: str, action: str, nonce: int) -> str:
    return f"staff:{order_id}:{action}:{nonce}"


def _staff_line(order_id: str, action: str, nonce: int, message: str) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION, message, staff_key(order_id, action, nonce), order_id=order_id
    )


def order_revealed(order: OrderFacts, staff_id: int, shown: Sequence[str], nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "reveal",
        nonce,
        f"🔓 <@{staff_id}> revealed the {' and '.join(shown) or 'data'} of order `{order.id}`.",
    )


def order_delivered(order: OrderFacts, staff_id: int, size: int, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "deliver",
        nonce,
        f"📦 <@{staff_id}> delivered order `{order.id}` to <@{order.user_id}> "
        f"(delivery hidden, {size} characters).",
    )


def order_status_set(
    order: OrderFacts,
    staff_id: int,
    old: OrderStatus,
    new: OrderStatus,
    note: str,
    nonce: int,
) -> Alert:
    return _staff_line(
        order.id,
        "set-status",
        nonce,
        f"✏️ <@{staff_id}> set order `{order.id}` from {old.label} to **{new.label}**: {note[:300]}",
    )


def order_approved(order: OrderFacts, staff_id: int, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "approve",
        nonce,
        f"✅ <@{staff_id}> approved order `{order.id}` ({order.total.format()} from "
        f"<@{order.user_id}>); it is being sent to {order.provider}.",
    )


def order_rejected(order: OrderFacts, staff_id: int, clipped_note: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "reject",
        nonce,
        f"🚫 <@{staff_id}> rejected order `{order.id}` from <@{order.user_id}>: "
        f"{clipped_note}. Nothing was sent.",
    )


def order_marked_placed(
    order: OrderFacts, staff_id: int, remote_id: str, can_poll: bool, nonce: int
) -> Alert:
    return _staff_line(
        order.id,
        "mark-placed",
        nonce,
        f"✅ <@{staff_id}> marked order `{order.id}` as placed at {order.provider} "
        f"(`{remote_id}`){'; polling it now' if can_poll else ''}.",
    )


def order_marked_failed(order: OrderFacts, staff_id: int, note: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "mark-failed",
        nonce,
        f"❌ <@{staff_id}> marked order `{order.id}` as failed: {note[:300]}",
    )


def order_sent_again(order: OrderFacts, staff_id: int, why: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "resubmit",
        nonce,
        f"🔄 <@{staff_id}> sent order `{order.id}` to {order.provider} again ({why}).",
    )


def order_dm_resent(order: OrderFacts, staff_id: int, kind: str, nonce: int) -> Alert:
    """`kind` is the notification owed (resend-1, resend-2, …); it is the action, too."""
    return _staff_line(
        order.id,
        kind,
        nonce,
        f"🔁 <@{staff_id}> resent the DM for order `{order.id}` to <@{order.user_id}> ({kind}).",
    )


def order_linked(
    order: OrderFacts, staff_id: int, provider: str, member_id: int, nonce: int
) -> Alert:
    """`provider` as staff gave it to `/admin order link`."""
    return _staff_line(
        order.id,
        "link",
        nonce,
        f"🔗 <@{staff_id}> linked {provider} `{order.remote_id}` to "
        f"<@{member_id}> as order `{order.id}`.",
    )


def wallet_adjusted(
    staff_id: int,
    member_id: int,
    amount: Money,
    clipped_note: str,
    balance: Money,
    interaction_id: int,
) -> Alert:
    """A staff credit (amount > 0) or debit, with the member's balance afterwards."""
    verb = "credited" if amount.minor > 0 else "debited"
    shown = Money(abs(amount.minor), amount.currency).format()
    return Alert(
        AlertKind.STAFF_ACTION,
        f"💰 <@{staff_id}> {verb} <@{member_id}> **{shown}**: "
        f"{clipped_note} (balance now {balance.format()})",
        f"wallet:staff:{interaction_id}",
    )


def order_refunded_by_staff(
    order: OrderFacts, staff_id: int, refund: Money, interaction_id: int
) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION,
        f"↩️ <@{staff_id}> refunded **{refund.format()}** of order "
        f"`{order.id}` to <@{order.user_id}>'s store credit.",
        f"wallet:staff:{interaction_id}",
        order_id=order.id,
    )


def shop_paused(staff_id: int, reason: str | None, nonce: int) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION,
        f"⏸️ <@{staff_id}> paused the shop"
        + (f": {reason}" if reason else "")
        + ". Buyers can't order until `/admin shop resume`.",
        f"staff:shop:pause:{nonce}",
    )


def shop_resumed(staff_id: int, nonce: int) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION,
        f"▶️ <@{staff_id}> resumed the shop. Buyers can order again.",
        f"staff:shop:resume:{nonce}",
    )


# The watchdog asks storage for open orders without this alert yet, by its dedupe key.
STUCK_ORDER_KEY = "stuck:"


def stuck_order(order_id: str, provider: str, status: OrderStatus, created_at: float) -> Alert:
    """An order open longer than STUCK_ORDER_MINUTES (bot/services/watchdog.py); once."""
    if status is OrderStatus.NEEDS_REVIEW:
        action = f"`/admin order retry order_id:{order_id}`"
    elif status is OrderStatus.AWAITING_APPROVAL:
        action = (
            "it waits for a staff decision: press Approve or Reject on its approval "
            "message in this channel (or `/admin order set-status` to cancel it)"
        )
    else:
        action = (
            f"`/admin order view order_id:{order_id}`, then `/admin order deliver` or "
            "`/admin order set-status`"
        )
    return Alert(
        AlertKind.STUCK_ORDER,
        f"🐢 Order `{order_id}` ({provider}) has been **{status.label}** "
        f"since <t:{int(created_at)}:R>. Look at it: {action}.",
        f"{STUCK_ORDER_KEY}{order_id}",
        group_key=f"stuck_order:{provider}",
        order_id=order_id,
    )


def partial_refund(order_id: str, user_id: int, paid: Money, old: OrderStatus, now: float) -> Alert:
    """A wallet order only partly delivered (storage.payments.settle_in): staff refund."""
    return Alert(
        AlertKind.PARTIAL_REFUND,
        f"🟡 Order `{order_id}` was only partly delivered; <@{user_id}> "
        f"paid {paid.format()} from their wallet. Nothing was "
        "refunded automatically: refund the part they didn't get with `/admin order refund "
        f"order_id:{order_id} amount:…`.",
        f"partial_refund:{order_id}:{old.value}:{now}",
        order_id=order_id,
    )


def process_stalled(name: str, process_id: str, last_beat: float, now: float) -> Alert:
    """A process of the shop stopped beating without a clean stop (`name`: its role, host
    and pid). One alert per silence: a process that beats again and falls silent again
    is reported again."""
    silent_for = now - last_beat
    return Alert(
        AlertKind.PROCESS_STALLED,
        f"🪦 `{name}` has not been heard from for {silent_for:.0f} s and did not stop "
        "cleanly: it was killed, hangs, or lost its machine. What it had claimed is taken "
        "over by the others once its claims expire; restart it (systemd does) and "
        "`/admin workers` shows who is alive.",
        f"process_stalled:{process_id}:{last_beat!r}",
        group_key="process_stalled",
    )
