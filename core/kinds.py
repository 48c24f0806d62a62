"""The kinds of things the shop records: order events, notifications owed, staff alerts.

One enum each, so a typo is a NameError instead of a row nobody reads. They are StrEnums:
the database stores the same text it always did, and rows written before this module
existed read back unchanged. The *text* of an alert lives in `core/alerts.py`; this is
only the vocabulary that storage and the services share.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """A line of an order's timeline (`order_events.kind`)."""

    CREATED = "created"
    STATUS = "status"
    PAYMENT = "payment"
    DELIVERY = "delivery"
    ANSWER = "answer"  # the provider's id and answer, stored before anything else
    SEND = "send"  # written before each send of the create request
    RETRY = "retry"
    LINKED = "linked"
    NOTIFIED = "notified"
    REVEAL = "reveal"  # staff looked at the delivery data
    RESEND = "resend"
    AWAITING_DELIVERY = "awaiting_delivery"  # COMPLETED without its goods; asked again


class NotificationKind(StrEnum):
    """What a DM owed to a buyer is about (`notifications.kind`).

    An order can owe a kind more than once (a refund after completion, a second review):
    storage numbers the later ones `final-2`, `final-3`, … and staff resends
    `resend-1`, `resend-2`, …, so "one DM per order and kind" holds for every row."""

    PLACED = "placed"  # the provider accepted it (or staff are checking)
    REVIEW = "review"  # staff took it over
    FINAL = "final"  # it ended: completed, failed, refunded, …
    REFUND = "refund"  # staff refunded part or all of it
    RESEND = "resend"  # staff asked for the last DM again
    # A top-up's DMs (notifications.topup_id): its payment was credited; its link ended
    # unpaid (expired, or cancelled at the provider).
    CREDITED = "credited"
    UNPAID = "unpaid"

    @staticmethod
    def base_of(kind: str) -> NotificationKind:
        """`final-2` → FINAL. Raises ValueError for a kind nobody owes."""
        return NotificationKind(kind.split("-", 1)[0])


class AlertKind(StrEnum):
    """A staff-channel alert (`staff_alerts.kind`). Each has one builder in core/alerts.py."""

    # orders placed, decided and ended
    NEW_ORDER = "new_order"
    APPROVAL = "approval"
    ORDER_FAILED = "order_failed"
    NEEDS_REVIEW = "needs_review"
    PROVIDER_OUTCOME = "provider_outcome"  # a provider ended an order badly
    LATE_ANSWER = "late_answer"
    STUCK_ORDER = "stuck_order"
    # what a provider answered
    UNKNOWN_STATUS = "unknown_status"
    ILLEGAL_TRANSITION = "illegal_transition"
    INVALID_REMOTE_ID = "invalid_remote_id"
    DELIVERY_MISSING = "delivery_missing"
    AWAITING_DELIVERY = "awaiting_delivery"
    POLL_REJECTED = "poll_rejected"
    # a provider's health
    PROVIDER_HOLD = "provider_hold"
    PROVIDER_AUTH = "provider_auth"
    PROVIDER_FAULT = "provider_fault"
    CIRCUIT_OPEN = "circuit_open"
    CIRCUIT_CLOSED = "circuit_closed"
    # DMs to buyers
    DM_FALLBACK = "dm_fallback"
    NOTIFY_STUCK = "notify_stuck"
    NOTIFY_FAILED = "notify_failed"
    UNDECRYPTABLE = "undecryptable"
    # money and staff
    PARTIAL_REFUND = "partial_refund"
    PAYMENT = "payment"
    STAFF_ACTION = "staff_action"
    # the shop's own processes
    PROCESS_STALLED = "process_stalled"
    # online top-ups (issue 28)
    TOPUP_MISMATCH = "topup_mismatch"  # paid, but not what was asked (credited as paid)
    TOPUP_REVERSED = "topup_reversed"  # refunded or disputed at the provider after credit
    TOPUP_UNRESOLVED = "topup_unresolved"  # reconciliation gave up on a top-up
    PAYMENT_EVENT_UNREADABLE = "payment_event_unreadable"  # signed, but not readable


class ProcessRole(StrEnum):
    """What a process of the shop runs (issue 27; `processes.role`)."""

    ALL = "all"  # `run`: the gateway and every background job
    GATEWAY = "gateway"  # `run --no-workers`: the gateway and interactions only
    WORKER = "worker"  # `worker`: the background jobs, over Discord's REST API only

    @property
    def runs_jobs(self) -> bool:
        return self is not ProcessRole.GATEWAY

    @property
    def has_gateway(self) -> bool:
        return self is not ProcessRole.WORKER


@dataclass(frozen=True, slots=True)
class Alert:
    """A staff-channel alert, built by core/alerts.py and raised by storage.

    `dedupe_key` makes raising it twice a no-op; alerts sharing a `group_key` become one
    digest in a storm. `order_id` links it to an order (its timeline, the Approve button)."""

    kind: AlertKind
    message: str
    dedupe_key: str
    group_key: str | None = None
    order_id: str | None = None
