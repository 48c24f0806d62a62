"""What an order's status means for the buyer's wallet, and the buyer's limits.

Both run inside `transition_order`'s transaction, so the money moves with the status in
one commit or not at all. The rule for a wallet-paid order (`orders.payment = 'wallet'`):

- While it is live (submitting, submitted, processing, needs review, completed) the
  buyer has paid its total: a move to `submitting` debits whatever is missing (the
  whole total at Confirm, again after a failed order was refunded and staff retry it).
- Once it ended without goods (failed, refunded, cancelled) it has paid nothing: the
  move refunds whatever is still paid. The move is a compare-and-set, so it happens once;
  the ledger's idempotency key (the order id, "refund" and a count) makes sure of it.
- Partially completed: nothing moves by itself. Staff are told and refund the part that
  wasn't delivered (`/admin order refund`).

Orders paid by approval or free, linked orders and orders from before wallets existed
never touch the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiosqlite

from core import alerts
from core.crash_points import crash_point
from core.domain import STATUS_LABELS, Money, OrderStatus, PaymentMode
from core.i18n import _, _n
from storage import wallet
from storage.database import Database
from storage.staff_alerts import raise_alert_in

# Endings without goods: whatever was paid comes back.
REFUNDING = frozenset({OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.CANCELLED})
OPEN = tuple(s.value for s in OrderStatus if s.is_open)


@dataclass(frozen=True, slots=True)
class BuyerLimits:
    """Per-buyer limits checked at Confirm, in the claim's transaction (so fifty
    simultaneous Confirms can't all squeeze under them). None / absent = no limit."""

    max_open_orders: int | None = None
    daily_spend: Mapping[str, int] = field(default_factory=dict)  # currency -> minor units

    @property
    def any(self) -> bool:
        return self.max_open_orders is not None or bool(self.daily_spend)


class LimitReached(Exception):
    """A buyer limit refused the order; nothing was written. `message` is for the buyer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def utc_day_bounds(now: float) -> tuple[float, float]:
    day = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start.timestamp(), (start + dt.timedelta(days=1)).timestamp()


async def open_orders_in(conn: aiosqlite.Connection, user_id: int, *, excluding: str) -> int:
    placeholders = ", ".join("?" for _ in OPEN)
    async with conn.execute(
        f"SELECT COUNT(*) FROM orders WHERE user_id = ? AND id != ? AND status IN ({placeholders})",  # noqa: S608 - placeholders only
        (user_id, excluding, *OPEN),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def spent_today_in(
    conn: aiosqlite.Connection, user_id: int, currency: str, *, now: float, excluding: str = ""
) -> Money:
    """What the buyer spent in the UTC day of `now`: every order confirmed that day, less
    what came back. A wallet order counts what the ledger says it paid (a refunded
    order counts nothing, a retried one counts again); any other order counts its total
    unless it ended without goods."""
    start, _ = utc_day_bounds(now)
    async with conn.execute(
        "SELECT"
        " COALESCE((SELECT -SUM(l.amount_minor) FROM ledger l JOIN orders o ON o.id = l.order_id"
        "   WHERE o.user_id = ? AND o.currency = ? AND o.confirmed_at >= ? AND o.id != ?"
        "   AND l.kind IN ('order_debit', 'refund')), 0)"
        " + COALESCE((SELECT SUM(total_minor) FROM orders"
        "   WHERE user_id = ? AND currency = ? AND confirmed_at >= ? AND id != ?"
        "   AND COALESCE(payment, '') != 'wallet'"
        "   AND status NOT IN ('failed', 'refunded', 'cancelled')), 0)",
        (user_id, currency, start, excluding, user_id, currency, start, excluding),
    ) as cur:
        row = await cur.fetchone()
    return Money(max(int(row[0]) if row else 0, 0), currency)


async def check_limits_in(
    conn: aiosqlite.Connection,
    *,
    user_id: int,
    order_id: str,
    total: Money,
    limits: BuyerLimits,
    now: float,
) -> None:
    """Raise LimitReached (saying which limit and when it resets) or return."""
    if limits.max_open_orders is not None:
        open_now = await open_orders_in(conn, user_id, excluding=order_id)
        if open_now >= limits.max_open_orders:
            # Raised while the buyer confirms: worded in their language.
            raise LimitReached(
                _n(
                    "You already have {count} open order, the most this shop allows at once."
                    " You can order again as soon as it finishes (`/orders` shows it)."
                    " Nothing was ordered.",
                    "You already have {count} open orders, the most this shop allows at once."
                    " You can order again as soon as one of them finishes (`/orders` shows"
                    " them). Nothing was ordered.",
                    open_now,
                )
            )
    cap = limits.daily_spend.get(total.currency)
    if cap is not None:
        spent = await spent_today_in(conn, user_id, total.currency, now=now, excluding=order_id)
        if spent.minor + total.minor > cap:
            _start, resets = utc_day_bounds(now)
            left = Money(max(cap - spent.minor, 0), total.currency)
            raise LimitReached(
                _(
                    "This order ({total}) would take you over this shop's daily limit of"
                    " {cap}: you have spent {spent} today, so {left} is left. The limit resets"
                    " {resets} (midnight UTC). Nothing was ordered.",
                    total=total.format(),
                    cap=Money(cap, total.currency).format(),
                    spent=spent.format(),
                    left=left.format(),
                    resets=f"<t:{int(resets)}:R>",
                )
            )


async def check_can_buy(
    db: Database,
    *,
    user_id: int,
    total: Money,
    limits: BuyerLimits,
    now: float,
    wallet_paid: bool,
) -> Money | None:
    """The early check before a draft exists (Confirm checks again, in its claim): raises
    LimitReached, else returns the buyer's balance in the order's currency when the
    order is paid from the wallet (None when it isn't)."""
    async with db.reading() as conn:
        await check_limits_in(
            conn, user_id=user_id, order_id="", total=total, limits=limits, now=now
        )
        if not wallet_paid:
            return None
        return await wallet.balance_in(conn, user_id, total.currency)


async def net_paid_in(conn: aiosqlite.Connection, order_id: str) -> int:
    """What the order's buyer has paid for it and not had back, in minor units."""
    async with conn.execute(
        "SELECT COALESCE(-SUM(amount_minor), 0) FROM ledger WHERE order_id = ?"
        " AND kind IN ('order_debit', 'refund')",
        (order_id,),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _count_in(conn: aiosqlite.Connection, order_id: str, kind: wallet.EntryKind) -> int:
    async with conn.execute(
        "SELECT COUNT(*) FROM ledger WHERE order_id = ? AND kind = ?", (order_id, kind.value)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


def order_entry_key(order_id: str, kind: wallet.EntryKind, count: int) -> str:
    """`ORD-…:debit`, then `ORD-…:debit:2` for a paid retry; the same for refunds."""
    word = "debit" if kind is wallet.EntryKind.ORDER_DEBIT else "refund"
    return f"{order_id}:{word}" + (f":{count}" if count > 1 else "")


@dataclass(frozen=True, slots=True)
class OrderPayment:
    order_id: str
    user_id: int
    payment: PaymentMode | None
    total: Money


async def settle_in(
    conn: aiosqlite.Connection,
    order: OrderPayment,
    old: OrderStatus,
    new: OrderStatus,
    *,
    actor: str,
    now: float,
) -> wallet.Movement | None:
    """Apply the module's rule to one status move, inside its transaction. Returns the
    movement posted, if any. InsufficientBalance (nothing written) when a debit is due
    and the balance can't cover it: the caller's whole transition rolls back."""
    if order.payment is not PaymentMode.WALLET:
        return None
    paid = await net_paid_in(conn, order.order_id)
    movement: wallet.Movement | None = None
    if new is OrderStatus.SUBMITTING and paid < order.total.minor:
        count = await _count_in(conn, order.order_id, wallet.EntryKind.ORDER_DEBIT) + 1
        movement = wallet.Movement(
            user_id=order.user_id,
            amount=Money(-(order.total.minor - paid), order.total.currency),
            kind=wallet.EntryKind.ORDER_DEBIT,
            actor=actor,
            idempotency_key=order_entry_key(order.order_id, wallet.EntryKind.ORDER_DEBIT, count),
            order_id=order.order_id,
            note="order paid" if count == 1 else "order paid again (retry)",
        )
    elif new in REFUNDING and paid > 0:
        count = await _count_in(conn, order.order_id, wallet.EntryKind.REFUND) + 1
        movement = wallet.Movement(
            user_id=order.user_id,
            amount=Money(paid, order.total.currency),
            kind=wallet.EntryKind.REFUND,
            actor=actor,
            idempotency_key=order_entry_key(order.order_id, wallet.EntryKind.REFUND, count),
            order_id=order.order_id,
            note=f"automatic: the order {STATUS_LABELS[new]}",
        )
    elif new is OrderStatus.PARTIALLY_COMPLETED and paid > 0:
        await raise_alert_in(
            conn,
            alerts.partial_refund(
                order.order_id, order.user_id, Money(paid, order.total.currency), old, now
            ),
        )
    if movement is not None:
        await wallet.post_in(conn, movement, now=now)
        # Written, not committed: a crash here must take the status change with it.
        crash_point("payment.posted")
    return movement
