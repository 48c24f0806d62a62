"""What staff see of orders: an order by id, why it went to review, its whole dossier
(timeline, DMs owed, payments), and its masked data revealed (audited).

What staff *do* to orders is bot.services.staff_review.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from bot.errors import UserFacingError, clip
from core import alerts
from core.crypto import DeliveryCipher
from core.domain import Delivery, OrderStatus
from core.i18n import _
from core.kinds import EventKind
from storage import notifications as outbox
from storage import orders as repo
from storage import wallet
from storage.database import Database

log = logging.getLogger(__name__)


class StaffOrderError(UserFacingError):
    pass


@dataclass(frozen=True, slots=True)
class OrderDossier:
    """Everything `/admin order view` shows; secrets stay encrypted inside `order`."""

    order: repo.OrderRecord
    events: list[repo.OrderEvent]
    notifications: list[outbox.Notification]
    payments: list[wallet.Entry] = dataclasses.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Revealed:
    contact: dict[str, str] | None
    delivery: Delivery | None


async def find_order(db: Database, order_id: str) -> repo.OrderRecord:
    """The order staff named (any case, spaces around), never a buyer's draft."""
    order = await repo.get_order(db, order_id.strip().upper())
    if order is None or order.status is OrderStatus.DRAFT:
        raise StaffOrderError(_("There is no order `{order_id}`.", order_id=clip(order_id)))
    return order


class StaffOrders:
    def __init__(self, db: Database, cipher: DeliveryCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def get(self, order_id: str) -> repo.OrderRecord:
        return await find_order(self.db, order_id)

    async def review_reason(self, order: repo.OrderRecord) -> str:
        """Why an order went to needs review, as recorded when it did."""
        for event in reversed(await repo.list_events(self.db, order.id)):
            if event.new_status is OrderStatus.NEEDS_REVIEW and event.detail:
                return event.detail
        return order.status_message or _("no detail recorded")

    async def dossier(self, order_id: str) -> OrderDossier:
        order = await self.get(order_id)
        return OrderDossier(
            order,
            await repo.list_events(self.db, order.id),
            await outbox.list_notifications(self.db, order.id),
            await wallet.order_entries(self.db, order.id),
        )

    async def reveal(self, order_id: str, staff_id: int) -> Revealed:
        """The contact and delivery, in clear, for one staff member's eyes; audited."""
        order = await self.get(order_id)
        shown = [
            name
            for name, present in (("contact", order.has_contact), ("delivery", order.has_delivery))
            if present
        ]
        await repo.add_event(
            self.db,
            order.id,
            actor=str(staff_id),
            kind=EventKind.REVEAL,
            detail=f"revealed {' and '.join(shown) or 'nothing (none stored)'}",
            alert=alerts.order_revealed(order, staff_id, shown, time.time_ns()),
        )
        log.info("staff %s revealed %s of order %s", staff_id, shown, order.id)
        return Revealed(order.contact(self.cipher), order.delivery(self.cipher))
