"""The catalogue of staff alerts: one builder per kind, each saying what staff should run.

Every alert the shop raises is built here, never inline where it is raised, so staff read
one voice and a reviewer reads every alert in one place. Builders are pure (text from
facts, no I/O), which is why they live in core: storage raises some of them inside its
own transactions (a partial refund, a status change's alert) and may not import `bot`.

Each builder returns a `core.kinds.Alert`; `storage.staff_alerts.raise_alert(_in)` records
it in the outbox, and `bot/services/staff_log.py` posts it.

The builders are split by who raises them: `orders` (submission, polling, providers, DMs)
and `staff` (staff actions, store credit, the shop). Callers write `from core import alerts`
and `alerts.<builder>(…)`; the names below are the whole catalogue.
"""

from core.alerts.facts import OrderFacts
from core.alerts.orders import (
    BAD_ENDINGS,
    approval_request,
    bad_ending,
    circuit_closed,
    circuit_open,
    delivery_missing,
    delivery_undecryptable,
    dm_failed,
    dm_fallback,
    dm_retrying,
    dm_unverifiable,
    draft_undecryptable,
    illegal_transition,
    invalid_remote_id,
    late_answer,
    needs_review,
    new_order,
    order_failed,
    poll_rejected,
    provider_fault,
    provider_hold,
    provider_key_accepted,
    provider_key_refused,
    provider_key_unchecked,
    unknown_status,
)
from core.alerts.payments import (
    payment_event_unreadable,
    refund_failed_key,
    topup_dm_fallback,
    topup_dm_trouble,
    topup_mismatch,
    topup_refund_failed,
    topup_reversed,
    topup_unresolved,
)
from core.alerts.staff import (
    STUCK_ORDER_KEY,
    order_approved,
    order_delivered,
    order_dm_resent,
    order_linked,
    order_marked_failed,
    order_marked_placed,
    order_refunded_by_staff,
    order_rejected,
    order_revealed,
    order_sent_again,
    order_status_set,
    partial_refund,
    process_stalled,
    shop_paused,
    shop_resumed,
    staff_key,
    stuck_order,
    wallet_adjusted,
)
from core.kinds import Alert, AlertKind

__all__ = [
    "BAD_ENDINGS",
    "STUCK_ORDER_KEY",
    "Alert",
    "AlertKind",
    "OrderFacts",
    "approval_request",
    "bad_ending",
    "circuit_closed",
    "circuit_open",
    "delivery_missing",
    "delivery_undecryptable",
    "dm_failed",
    "dm_fallback",
    "dm_retrying",
    "dm_unverifiable",
    "draft_undecryptable",
    "illegal_transition",
    "invalid_remote_id",
    "late_answer",
    "needs_review",
    "new_order",
    "order_approved",
    "order_delivered",
    "order_dm_resent",
    "order_failed",
    "order_linked",
    "order_marked_failed",
    "order_marked_placed",
    "order_refunded_by_staff",
    "order_rejected",
    "order_revealed",
    "order_sent_again",
    "order_status_set",
    "partial_refund",
    "payment_event_unreadable",
    "poll_rejected",
    "process_stalled",
    "provider_fault",
    "provider_hold",
    "provider_key_accepted",
    "provider_key_refused",
    "provider_key_unchecked",
    "refund_failed_key",
    "shop_paused",
    "shop_resumed",
    "staff_key",
    "stuck_order",
    "topup_dm_fallback",
    "topup_dm_trouble",
    "topup_mismatch",
    "topup_refund_failed",
    "topup_reversed",
    "topup_unresolved",
    "unknown_status",
    "wallet_adjusted",
]
