from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from pydantic import SecretStr

from core.crypto import DeliveryCipher
from core.domain import (
    Delivery,
    DeliveryItem,
    IllegalTransition,
    Money,
    OrderKind,
    OrderSource,
    OrderStatus,
)
from core.kinds import Alert, AlertKind
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.postgres import PostgresDatabase
from tests.storage.factories import new_order


async def test_order_round_trip(db: Database, cipher: DeliveryCipher) -> None:
    new = new_order(contact={"phone_number": "+919876543210", "name": "Asha"})
    stored = await repo.insert_order(db, new, cipher)
    assert stored.id == new.id
    assert stored.status is OrderStatus.SUBMITTING
    assert stored.total == Money(1400, "USD")
    assert stored.details == {"invite_code": "shopdemo"}
    assert stored.contact(cipher) == {"phone_number": "+919876543210", "name": "Asha"}
    assert "9876543210" not in repr(stored)
    again = await repo.get_order(db, new.id)
    assert again == stored
    events = await repo.list_events(db, new.id)
    assert [(e.kind, e.new_status, e.actor) for e in events] == [
        ("created", OrderStatus.SUBMITTING, "system")
    ]


async def test_idempotency_key_is_unique(db: Database, cipher: DeliveryCipher) -> None:
    first = new_order()
    await repo.insert_order(db, first, cipher)
    replay = new_order(idempotency_key=first.idempotency_key)  # new id, same key
    with pytest.raises(repo.DuplicateOrder) as info:
        await repo.insert_order(db, replay, cipher)
    assert info.value.existing_id == first.id
    rows = await db.fetch_all("SELECT id FROM orders")
    assert [r[0] for r in rows] == [first.id]


async def test_concurrent_inserts_with_same_key_create_one_row(
    db: Database, cipher: DeliveryCipher
) -> None:
    key = "confirm:interaction-123"
    results = await asyncio.gather(
        *(repo.insert_order(db, new_order(idempotency_key=key), cipher) for _ in range(5)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, repo.OrderRecord)]
    dupes = [r for r in results if isinstance(r, repo.DuplicateOrder)]
    assert len(created) == 1 and len(dupes) == 4
    assert all(d.existing_id == created[0].id for d in dupes)


async def test_linked_order_unique_per_provider_remote_id(
    db: Database, cipher: DeliveryCipher
) -> None:
    kwargs: dict[str, object] = {
        "provider": "digital_shop",
        "kind": OrderKind.DIGITAL,
        "source": OrderSource.LINKED,
        "remote_id": "AbC123xyz789",
        "idempotency_key": None,
        "status": OrderStatus.SUBMITTED,
    }
    first = await repo.insert_order(db, new_order(42, **kwargs), cipher)
    with pytest.raises(repo.DuplicateOrder) as info:
        await repo.insert_order(db, new_order(99, **kwargs), cipher)
    assert info.value.existing_id == first.id


async def test_transition_writes_row_event_and_notification_together(
    db: Database, cipher: DeliveryCipher
) -> None:
    order = await repo.insert_order(db, new_order(), cipher)
    submitted = await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(
            OrderStatus.SUBMITTED,
            actor=repo.ACTOR_PROVIDER,
            raw_status="PENDING",
            remote_id="4f1c-uuid",
            remote_price="1400",
            next_poll_at=123.0,
        ),
        cipher,
    )
    assert (submitted.status, submitted.raw_status, submitted.remote_id) == (
        OrderStatus.SUBMITTED,
        "PENDING",
        "4f1c-uuid",
    )
    assert submitted.next_poll_at == 123.0
    done = await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(
            OrderStatus.COMPLETED,
            actor=repo.ACTOR_PROVIDER,
            raw_status="COMPLETED",
            delivery=Delivery.from_text("user:pass SECRET123"),
            notify_kind="final",
        ),
        cipher,
    )
    assert done.status is OrderStatus.COMPLETED
    assert done.next_poll_at is None  # terminal: no more polling
    assert done.raw_status == "COMPLETED"
    delivery = done.delivery(cipher)
    assert delivery is not None and delivery.reveal() == "user:pass SECRET123"
    timeline = await repo.list_events(db, order.id)
    assert [(e.kind, e.old_status, e.new_status, e.raw_status) for e in timeline] == [
        ("created", None, OrderStatus.SUBMITTING, None),
        ("status", OrderStatus.SUBMITTING, OrderStatus.SUBMITTED, "PENDING"),
        ("status", OrderStatus.SUBMITTED, OrderStatus.COMPLETED, "COMPLETED"),
        ("delivery", None, None, None),
    ]
    owed = await outbox.list_notifications(db, order.id)
    assert [(n.kind, n.user_id, n.state) for n in owed] == [
        ("final", 42, outbox.NotificationState.PENDING)
    ]


async def test_illegal_transition_writes_nothing(db: Database, cipher: DeliveryCipher) -> None:
    order = await repo.insert_order(db, new_order(), cipher)
    with pytest.raises(IllegalTransition):
        await repo.transition_order(
            db,
            order.id,
            repo.StatusChange(OrderStatus.DRAFT, actor="system", notify_kind="final"),
            cipher,
        )
    assert (await repo.get_order(db, order.id)).status is OrderStatus.SUBMITTING  # type: ignore[union-attr]
    assert len(await repo.list_events(db, order.id)) == 1
    assert await outbox.list_notifications(db, order.id) == []


async def test_outbox_owes_each_notification_once(db: Database, cipher: DeliveryCipher) -> None:
    order = await repo.insert_order(db, new_order(), cipher)
    assert await outbox.owe_notification(db, order.id, "final", user_id=42) is True
    assert await outbox.owe_notification(db, order.id, "final", user_id=42) is False
    assert await outbox.owe_notification(db, order.id, "needs_review", user_id=42) is True
    owed = await outbox.list_notifications(db, order.id)
    assert sorted(n.kind for n in owed) == ["final", "needs_review"]
    # The database itself refuses a second row, whatever the caller does.
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO notifications (order_id, kind, user_id, next_attempt_at, created_at)"
                " VALUES (?, 'final', 42, 0, 0)",
                (order.id,),
            )


async def test_outbox_claim_is_compare_and_set(db: Database, cipher: DeliveryCipher) -> None:
    order = await repo.insert_order(db, new_order(), cipher)
    await outbox.owe_notification(db, order.id, "final", user_id=42)
    due = await outbox.due_notifications(db, now=10**10)
    assert [n.order_id for n in due] == [order.id]
    nid = due[0].id
    claims = [
        await outbox.set_notification_state(
            db, nid, outbox.NotificationState.SENDING, expect=outbox.NotificationState.PENDING
        )
        for _ in range(2)
    ]
    assert claims == [True, False]
    assert await outbox.due_notifications(db, now=10**10) == []
    await outbox.set_notification_state(db, nid, outbox.NotificationState.SENT)
    sent = await outbox.get_notification(db, order.id, "final")
    assert sent is not None and sent.state is outbox.NotificationState.SENT and sent.sent_at


async def test_user_listing_is_private_and_newest_first(
    db: Database, cipher: DeliveryCipher
) -> None:
    mine = [await repo.insert_order(db, new_order(1), cipher) for _ in range(3)]
    theirs = await repo.insert_order(db, new_order(2), cipher)
    listed = await repo.list_orders_for_user(db, 1, limit=10)
    assert [o.id for o in listed] == [o.id for o in reversed(mine)]
    assert await repo.count_orders_for_user(db, 1) == 3
    assert await repo.get_order_for_user(db, theirs.id, 1) is None
    assert await repo.get_order_for_user(db, theirs.id, 2) is not None
    page2 = await repo.list_orders_for_user(db, 1, limit=2, offset=2)
    assert [o.id for o in page2] == [mine[0].id]
    by_status = await repo.list_orders(db, statuses=[OrderStatus.SUBMITTING], user_id=2)
    assert [o.id for o in by_status] == [theirs.id]


async def test_staff_alerts_are_deduplicated(db: Database, cipher: DeliveryCipher) -> None:
    order = await repo.insert_order(db, new_order(), cipher)
    key = f"unknown_status:{order.id}:WEIRD"
    alert = Alert(AlertKind.UNKNOWN_STATUS, "m", key, order_id=order.id)
    assert await staff_alerts.raise_alert(db, alert)
    assert not await staff_alerts.raise_alert(db, alert)
    pending = await staff_alerts.unposted_alerts(db)
    assert [a.dedupe_key for a in pending] == [key]
    await staff_alerts.mark_alert_posted(db, pending[0].id)
    assert await staff_alerts.unposted_alerts(db) == []


async def test_delivery_plaintext_never_reaches_the_database_file(
    db: Database, cipher: DeliveryCipher
) -> None:
    order = await repo.insert_order(db, new_order(contact={"phone_number": "+15550001111"}), cipher)
    await repo.transition_order(
        db, order.id, repo.StatusChange(OrderStatus.SUBMITTED, actor="provider"), cipher
    )
    await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(
            OrderStatus.COMPLETED,
            actor="provider",
            delivery=Delivery(
                text=SecretStr("user:pass SECRET123"),
                items=(DeliveryItem("u1", SecretStr("ITEM-SECRET-XYZ")),),
            ),
        ),
        cipher,
    )
    if isinstance(db, PostgresDatabase):
        # Every value of every table, as PostgreSQL hands it out (bytea as hex, too).
        blobs = b""
        for table in await db.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ):
            for row in await db.fetch_all(f'SELECT * FROM "{table[0]}"'):  # noqa: S608
                for value in row:
                    blobs += value if isinstance(value, bytes) else str(value).encode()
                    if isinstance(value, bytes):
                        blobs += value.hex().encode()
    else:
        # Read every byte SQLite wrote: the main file and the write-ahead log, before
        # and after a checkpoint.
        files = [db.path, db.path.with_name(db.path.name + "-wal")]
        blobs = b"".join(p.read_bytes() for p in files if p.exists())
        await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        blobs += b"".join(p.read_bytes() for p in files if p.exists())
    assert blobs, "nothing was read"
    assert b"SECRET123" not in blobs
    assert b"ITEM-SECRET-XYZ" not in blobs
    assert b"15550001111" not in blobs
    # ...and it is still there for its owner.
    stored = await repo.get_order(db, order.id)
    assert stored is not None
    assert "SECRET123" in stored.delivery(cipher).reveal()  # type: ignore[union-attr]


async def test_alert_claims_are_exclusive_until_the_lease_ends(tmp_path: Any) -> None:
    """Two processes on one database file claim disjoint alerts; an expired claim (the
    claimer died) is claimed again; a posted alert never is."""
    from storage.database import open_database

    path = tmp_path / "shared.sqlite3"
    first, second = await open_database(path), await open_database(path)
    try:
        for n in range(10):
            await staff_alerts.raise_alert(first, Alert(AlertKind.STAFF_ACTION, f"m{n}", f"k{n}"))
        a, b = await asyncio.gather(
            staff_alerts.claim_due_alerts(first, now=1000.0, lease=60, limit=6),
            staff_alerts.claim_due_alerts(second, now=1000.0, lease=60, limit=6),
        )
        assert {x.id for x in a}.isdisjoint({x.id for x in b})
        assert len(a) + len(b) == 10
        assert await staff_alerts.claim_due_alerts(first, now=1030.0, lease=60) == []
        await staff_alerts.mark_alerts_posted(first, [x.id for x in a])
        again = await staff_alerts.claim_due_alerts(second, now=1061.0, lease=60)
        assert sorted(x.id for x in again) == sorted(x.id for x in b)
    finally:
        await first.close()
        await second.close()


async def test_a_start_never_voids_a_live_poll_lease_another_process_may_hold(
    db: Database, cipher: DeliveryCipher
) -> None:
    """On SQLite the file lock proves the starting bot is alone: every lease is a dead
    process's, and is voided. On PostgreSQL another process may be polling: a live lease
    stays, and the order is claimed again only once it has expired."""
    order = await repo.insert_order(
        db, new_order(status=OrderStatus.SUBMITTED, remote_id="r-1", next_poll_at=0.0), cipher
    )
    (claimed,) = await repo.claim_due_orders(
        db, provider=order.provider, now=100.0, lease_until=200.0, limit=10
    )
    assert claimed.id == order.id
    released = await repo.release_all_leases(db)
    again = await repo.claim_due_orders(
        db, provider=order.provider, now=150.0, lease_until=300.0, limit=10
    )
    if db.shared:
        assert released == 0 and again == []  # the live lease held
        (late,) = await repo.claim_due_orders(
            db, provider=order.provider, now=201.0, lease_until=300.0, limit=10
        )
        assert late.id == order.id  # claimed once it expired
    else:
        assert released == 1 and [o.id for o in again] == [order.id]
