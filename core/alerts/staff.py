"""Alerts about staff actions, store credit and the shop: one line each in the staff channel.

Builders only: pure functions from facts to a `core.kinds.Alert` (see core/alerts/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.alerts.facts import OrderFacts
from core.domain import Money, OrderStatus
from core.i18n import _, _n, in_staff_language, native_digits
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


@in_staff_language
def order_revealed(order: OrderFacts, staff_id: int, shown: Sequence[str], nonce: int) -> Alert:
    """`shown`: what was stored and shown, of "contact" and "delivery" (in that order)."""
    what = tuple(shown)
    if what == ("contact", "delivery"):
        message = _(
            "🔓 <@{staff_id}> revealed the contact and delivery of order `{order_id}`.",
            staff_id=staff_id,
            order_id=order.id,
        )
    elif what == ("contact",):
        message = _(
            "🔓 <@{staff_id}> revealed the contact of order `{order_id}`.",
            staff_id=staff_id,
            order_id=order.id,
        )
    elif what == ("delivery",):
        message = _(
            "🔓 <@{staff_id}> revealed the delivery of order `{order_id}`.",
            staff_id=staff_id,
            order_id=order.id,
        )
    elif not what:
        message = _(
            "🔓 <@{staff_id}> revealed the data of order `{order_id}`.",
            staff_id=staff_id,
            order_id=order.id,
        )
    else:
        # Translators: {what} names the revealed parts in English (as stored).
        message = _(
            "🔓 <@{staff_id}> revealed the {what} of order `{order_id}`.",
            staff_id=staff_id,
            what=" and ".join(what),
            order_id=order.id,
        )
    return _staff_line(order.id, "reveal", nonce, message)


@in_staff_language
def order_delivered(order: OrderFacts, staff_id: int, size: int, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "deliver",
        nonce,
        _n(
            "📦 <@{staff_id}> delivered order `{order_id}` to <@{user_id}> "
            "(delivery hidden, {count} character).",
            "📦 <@{staff_id}> delivered order `{order_id}` to <@{user_id}> "
            "(delivery hidden, {count} characters).",
            size,
            staff_id=staff_id,
            order_id=order.id,
            user_id=order.user_id,
        ),
    )


@in_staff_language
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
        _(
            "✏️ <@{staff_id}> set order `{order_id}` from {old} to **{new}**: {note}",
            staff_id=staff_id,
            order_id=order.id,
            old=old.label,
            new=new.label,
            note=note[:300],
        ),
    )


@in_staff_language
def order_approved(order: OrderFacts, staff_id: int, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "approve",
        nonce,
        _(
            "✅ <@{staff_id}> approved order `{order_id}` ({amount} from "
            "<@{user_id}>); it is being sent to {provider}.",
            staff_id=staff_id,
            order_id=order.id,
            amount=order.total.format(),
            user_id=order.user_id,
            provider=order.provider,
        ),
    )


@in_staff_language
def order_rejected(order: OrderFacts, staff_id: int, clipped_note: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "reject",
        nonce,
        _(
            "🚫 <@{staff_id}> rejected order `{order_id}` from <@{user_id}>: "
            "{note}. Nothing was sent.",
            staff_id=staff_id,
            order_id=order.id,
            user_id=order.user_id,
            note=clipped_note,
        ),
    )


@in_staff_language
def order_marked_placed(
    order: OrderFacts, staff_id: int, remote_id: str, can_poll: bool, nonce: int
) -> Alert:
    if can_poll:
        message = _(
            "✅ <@{staff_id}> marked order `{order_id}` as placed at {provider} "
            "(`{remote_id}`); polling it now.",
            staff_id=staff_id,
            order_id=order.id,
            provider=order.provider,
            remote_id=remote_id,
        )
    else:
        message = _(
            "✅ <@{staff_id}> marked order `{order_id}` as placed at {provider} (`{remote_id}`).",
            staff_id=staff_id,
            order_id=order.id,
            provider=order.provider,
            remote_id=remote_id,
        )
    return _staff_line(order.id, "mark-placed", nonce, message)


@in_staff_language
def order_marked_failed(order: OrderFacts, staff_id: int, note: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "mark-failed",
        nonce,
        _(
            "❌ <@{staff_id}> marked order `{order_id}` as failed: {note}",
            staff_id=staff_id,
            order_id=order.id,
            note=note[:300],
        ),
    )


@in_staff_language
def order_sent_again(order: OrderFacts, staff_id: int, why: str, nonce: int) -> Alert:
    return _staff_line(
        order.id,
        "resubmit",
        nonce,
        _(
            "🔄 <@{staff_id}> sent order `{order_id}` to {provider} again ({why}).",
            staff_id=staff_id,
            order_id=order.id,
            provider=order.provider,
            why=why,
        ),
    )


@in_staff_language
def order_dm_resent(order: OrderFacts, staff_id: int, kind: str, nonce: int) -> Alert:
    """`kind` is the notification owed (resend-1, resend-2, …); it is the action, too."""
    return _staff_line(
        order.id,
        kind,
        nonce,
        # Translators: {kind} is the DM's kind as stored (resend-1, resend-2, ...): keep it
        # as it is.
        _(
            "🔁 <@{staff_id}> resent the DM for order `{order_id}` to <@{user_id}> ({kind}).",
            staff_id=staff_id,
            order_id=order.id,
            user_id=order.user_id,
            kind=kind,
        ),
    )


@in_staff_language
def order_linked(
    order: OrderFacts, staff_id: int, provider: str, member_id: int, nonce: int
) -> Alert:
    """`provider` as staff gave it to `/admin order link`."""
    return _staff_line(
        order.id,
        "link",
        nonce,
        _(
            "🔗 <@{staff_id}> linked {provider} `{remote_id}` to "
            "<@{member_id}> as order `{order_id}`.",
            staff_id=staff_id,
            provider=provider,
            remote_id=order.remote_id,
            member_id=member_id,
            order_id=order.id,
        ),
    )


@in_staff_language
def wallet_adjusted(
    staff_id: int,
    member_id: int,
    amount: Money,
    clipped_note: str,
    balance: Money,
    interaction_id: int,
) -> Alert:
    """A staff credit (amount > 0) or debit, with the member's balance afterwards."""
    shown = Money(abs(amount.minor), amount.currency).format()
    if amount.minor > 0:
        message = _(
            "💰 <@{staff_id}> credited <@{member_id}> **{amount}**: {note} (balance now {balance})",
            staff_id=staff_id,
            member_id=member_id,
            amount=shown,
            note=clipped_note,
            balance=balance.format(),
        )
    else:
        message = _(
            "💰 <@{staff_id}> debited <@{member_id}> **{amount}**: {note} (balance now {balance})",
            staff_id=staff_id,
            member_id=member_id,
            amount=shown,
            note=clipped_note,
            balance=balance.format(),
        )
    return Alert(
        AlertKind.STAFF_ACTION,
        message,
        f"wallet:staff:{interaction_id}",
    )


@in_staff_language
def order_refunded_by_staff(
    order: OrderFacts, staff_id: int, refund: Money, interaction_id: int
) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION,
        _(
            "↩️ <@{staff_id}> refunded **{amount}** of order "
            "`{order_id}` to <@{user_id}>'s store credit.",
            staff_id=staff_id,
            amount=refund.format(),
            order_id=order.id,
            user_id=order.user_id,
        ),
        f"wallet:staff:{interaction_id}",
        order_id=order.id,
    )


@in_staff_language
def shop_paused(staff_id: int, reason: str | None, nonce: int) -> Alert:
    if reason:
        message = _(
            "⏸️ <@{staff_id}> paused the shop: {reason}. Buyers can't order until "
            "`/admin shop resume`.",
            staff_id=staff_id,
            reason=reason,
        )
    else:
        message = _(
            "⏸️ <@{staff_id}> paused the shop. Buyers can't order until `/admin shop resume`.",
            staff_id=staff_id,
        )
    return Alert(
        AlertKind.STAFF_ACTION,
        message,
        f"staff:shop:pause:{nonce}",
    )


@in_staff_language
def shop_resumed(staff_id: int, nonce: int) -> Alert:
    return Alert(
        AlertKind.STAFF_ACTION,
        _("▶️ <@{staff_id}> resumed the shop. Buyers can order again.", staff_id=staff_id),
        f"staff:shop:resume:{nonce}",
    )


# The watchdog asks storage for open orders without this alert yet, by its dedupe key.
STUCK_ORDER_KEY = "stuck:"


@in_staff_language
def stuck_order(order_id: str, provider: str, status: OrderStatus, created_at: float) -> Alert:
    """An order open longer than STUCK_ORDER_MINUTES (bot/services/watchdog.py); once."""
    # One whole message per status: what staff should do differs.
    if status is OrderStatus.NEEDS_REVIEW:
        message = _(
            "🐢 Order `{order_id}` ({provider}) has been **{status}** "
            "since <t:{since}:R>. Look at it: `/admin order retry order_id:{order_id}`.",
            order_id=order_id,
            provider=provider,
            status=status.label,
            since=int(created_at),
        )
    elif status is OrderStatus.AWAITING_APPROVAL:
        # Translators: Approve and Reject are the buttons of the approval message; keep
        # them as those buttons are translated.
        message = _(
            "🐢 Order `{order_id}` ({provider}) has been **{status}** "
            "since <t:{since}:R>. Look at it: it waits for a staff decision: press Approve "
            "or Reject on its approval message in this channel "
            "(or `/admin order set-status` to cancel it).",
            order_id=order_id,
            provider=provider,
            status=status.label,
            since=int(created_at),
        )
    else:
        message = _(
            "🐢 Order `{order_id}` ({provider}) has been **{status}** "
            "since <t:{since}:R>. Look at it: `/admin order view order_id:{order_id}`, "
            "then `/admin order deliver` or `/admin order set-status`.",
            order_id=order_id,
            provider=provider,
            status=status.label,
            since=int(created_at),
        )
    return Alert(
        AlertKind.STUCK_ORDER,
        message,
        f"{STUCK_ORDER_KEY}{order_id}",
        group_key=f"stuck_order:{provider}",
        order_id=order_id,
    )


@in_staff_language
def partial_refund(order_id: str, user_id: int, paid: Money, old: OrderStatus, now: float) -> Alert:
    """A wallet order only partly delivered (storage.payments.settle_in): staff refund."""
    return Alert(
        AlertKind.PARTIAL_REFUND,
        _(
            "🟡 Order `{order_id}` was only partly delivered; <@{user_id}> "
            "paid {amount} from their wallet. Nothing was "
            "refunded automatically: refund the part they didn't get with `/admin order refund "
            "order_id:{order_id} amount:…`.",
            order_id=order_id,
            user_id=user_id,
            amount=paid.format(),
        ),
        f"partial_refund:{order_id}:{old.value}:{now}",
        order_id=order_id,
    )


@in_staff_language
def process_stalled(name: str, process_id: str, last_beat: float, now: float) -> Alert:
    """A process of the shop stopped beating without a clean stop (`name`: its role, host
    and pid). One alert per silence: a process that beats again and falls silent again
    is reported again."""
    silent_for = now - last_beat
    return Alert(
        AlertKind.PROCESS_STALLED,
        _(
            "🪦 `{name}` has not been heard from for {seconds} s and did not stop "
            "cleanly: it was killed, hangs, or lost its machine. What it had claimed is taken "
            "over by the others once its claims expire; restart it (systemd does) and "
            "`/admin workers` shows who is alive.",
            name=name,
            seconds=native_digits(f"{silent_for:.0f}"),
        ),
        f"process_stalled:{process_id}:{last_beat!r}",
        group_key="process_stalled",
    )
