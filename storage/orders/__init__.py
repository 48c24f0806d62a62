"""Repository functions for orders and their timeline. Parameterised SQL only.

Secrets (delivery data, buyer contact details) are encrypted by the caller-supplied
`DeliveryCipher` before they reach SQL, so plaintext never touches the database file.

One package, read as `from storage import orders as repo; repo.X`:
- `records`: the records, errors and row mappers;
- `queries`: reading orders;
- `timeline`: an order's events;
- `transitions`: a new order, a status change, and the updates beside them;
- `claims`: the poller's leases and poll bookkeeping.
"""

from __future__ import annotations

from storage.notifications import next_notification_kind
from storage.orders.claims import (
    POLLABLE_STATUSES,
    PollBookkeeping,
    claim_due_orders,
    claim_for_recovery,
    postpone_provider_polls,
    record_polls,
    release_all_leases,
    release_leases,
    release_recovery_claim,
)
from storage.orders.queries import (
    OPEN_STATUSES,
    count_orders_by_status,
    count_orders_for_user,
    get_order,
    get_order_by_idempotency_key,
    get_order_by_remote_id,
    get_order_for_user,
    list_orders,
    list_orders_for_user,
    list_orders_in_status,
    open_orders_by_provider,
    search_orders,
    search_orders_for_user,
    stuck_orders,
)
from storage.orders.records import (
    ACTOR_PROVIDER,
    ACTOR_SYSTEM,
    DuplicateOrder,
    NewOrder,
    OrderEvent,
    OrderNotFound,
    OrderRecord,
    ShopClosed,
    StaleStatus,
    StuckOrder,
    event_from_row,
    order_from_row,
    staff_actor,
)
from storage.orders.timeline import (
    add_event,
    add_event_in,
    count_sends_since_status,
    first_event_at,
    list_events,
)
from storage.orders.transitions import (
    StatusChange,
    delete_draft,
    delete_expired_drafts,
    freeze_request,
    insert_order,
    record_provider_answer,
    set_next_poll,
    store_delivery,
    transition_order,
)

__all__ = [
    "ACTOR_PROVIDER",
    "ACTOR_SYSTEM",
    "OPEN_STATUSES",
    "POLLABLE_STATUSES",
    "DuplicateOrder",
    "NewOrder",
    "OrderEvent",
    "OrderNotFound",
    "OrderRecord",
    "PollBookkeeping",
    "ShopClosed",
    "StaleStatus",
    "StatusChange",
    "StuckOrder",
    "add_event",
    "add_event_in",
    "claim_due_orders",
    "claim_for_recovery",
    "count_orders_by_status",
    "count_orders_for_user",
    "count_sends_since_status",
    "delete_draft",
    "delete_expired_drafts",
    "event_from_row",
    "first_event_at",
    "freeze_request",
    "get_order",
    "get_order_by_idempotency_key",
    "get_order_by_remote_id",
    "get_order_for_user",
    "insert_order",
    "list_events",
    "list_orders",
    "list_orders_for_user",
    "list_orders_in_status",
    "next_notification_kind",
    "open_orders_by_provider",
    "order_from_row",
    "postpone_provider_polls",
    "record_polls",
    "record_provider_answer",
    "release_all_leases",
    "release_leases",
    "release_recovery_claim",
    "search_orders",
    "search_orders_for_user",
    "set_next_poll",
    "staff_actor",
    "store_delivery",
    "stuck_orders",
    "transition_order",
]
