"""What the commands show of orders, read-only: a buyer's own, and staff lists.

The cogs read orders only through here (they never import storage). Nothing here
writes. A buyer's lookups are all by (order id, caller id), so another member's order
is indistinguishable from one that doesn't exist; drafts are never listed or counted.
"""

from __future__ import annotations

from core.domain import OrderStatus
from storage import orders as repo
from storage import wallet
from storage.database import Database
from storage.orders import OrderEvent, OrderRecord
from storage.wallet import Entry

__all__ = ["OrderQueries", "OrderRecord"]


class OrderQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- a buyer's own orders ---------------------------------------------------------------

    async def buyer_order(self, order_id: str, user_id: int) -> OrderRecord | None:
        """The caller's order (a draft too), or None: the privacy boundary."""
        return await repo.get_order_for_user(self.db, order_id, user_id)

    async def count_buyer_orders(self, user_id: int) -> int:
        return await repo.count_orders_for_user(self.db, user_id)

    async def buyer_orders(self, user_id: int, *, limit: int, offset: int) -> list[OrderRecord]:
        """Newest first."""
        return await repo.list_orders_for_user(self.db, user_id, limit=limit, offset=offset)

    async def search_buyer_orders(
        self, user_id: int, text: str, *, limit: int
    ) -> list[OrderRecord]:
        return await repo.search_orders_for_user(self.db, user_id, text, limit=limit)

    async def timeline(self, order_id: str) -> list[OrderEvent]:
        return await repo.list_events(self.db, order_id)

    async def payments(self, order_id: str) -> list[Entry]:
        """The order's ledger rows (debits, refunds), oldest first."""
        return await wallet.order_entries(self.db, order_id)

    # --- every order (staff) ----------------------------------------------------------------

    async def count_by_status(
        self,
        *,
        user_id: int | None = None,
        provider: str | None = None,
        since: float | None = None,
    ) -> dict[str, int]:
        return await repo.count_orders_by_status(
            self.db, user_id=user_id, provider=provider, since=since
        )

    async def orders(
        self,
        *,
        statuses: list[OrderStatus] | None = None,
        user_id: int | None = None,
        provider: str | None = None,
        since: float | None = None,
        limit: int,
        offset: int,
    ) -> list[OrderRecord]:
        """Newest first."""
        return await repo.list_orders(
            self.db,
            statuses=statuses,
            user_id=user_id,
            provider=provider,
            since=since,
            limit=limit,
            offset=offset,
        )

    async def search(self, text: str, *, limit: int) -> list[OrderRecord]:
        """By order id prefix or buyer name, for staff autocomplete."""
        return await repo.search_orders(self.db, text, limit=limit)
