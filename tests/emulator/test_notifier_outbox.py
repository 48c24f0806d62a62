"""Issue 13: the outbox sends at most one DM per order and kind, whatever Discord or our
own database does around the send.

A real discord.py client (the emulator's MiniBot) drives the real Notifier over real
SQLite against the emulator; faults come from the emulator (store-then-fail, dropped
connections) and from SQLite itself (a trigger that makes the write after a send fail).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.crypto import DeliveryCipher
from bot.domain import Delivery, Money, OrderKind, OrderSource, OrderStatus, new_order_id
from bot.services.notifier import Notifier
from emulator import Emulator
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.notifications import NotificationState
from tests.emulator.conftest import MiniBot

SECRET = "login: pat@example.com / pass: OUTBOX-SECRET-4410"


async def completed_order(
    db: Database, cipher: DeliveryCipher, user_id: int, *, delivery: bool = True
) -> str:
    """An order that just completed, owing its buyer the final DM."""
    order = await repo.insert_order(
        db,
        repo.NewOrder(
            id=new_order_id(),
            user_id=user_id,
            guild_id=1,
            product_key="linked:digital_shop",
            product_name="Game key",
            provider="digital_shop",
            kind=OrderKind.DIGITAL,
            quantity=1,
            unit_price=Money(0, "USD"),
            status=OrderStatus.SUBMITTED,
            source=OrderSource.LINKED,
            remote_id="ABCDEF123456",
        ),
        cipher,
    )
    await repo.transition_order(
        db,
        order.id,
        repo.StatusChange(
            OrderStatus.COMPLETED,
            actor="provider",
            delivery=Delivery(text=SecretStr(SECRET)) if delivery else None,
            notify_kind="final",
        ),
        cipher,
    )
    return order.id


def dms_about(emu: Emulator, user_id: int, order_id: str) -> list[dict]:
    return [
        m
        for m in emu.dms(user_id)
        if any(order_id in (e.get("footer") or {}).get("text", "") for e in m.get("embeds", []))
    ]


async def state_of(db: Database, order_id: str) -> NotificationState:
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    return note.state


@pytest.fixture
def notifier(db: Database, cipher: DeliveryCipher, emu: Emulator, bot: MiniBot) -> Notifier:
    return Notifier(db, cipher, bot, emu.world.notice_channel_id, stale_after=0.5)


def dm_path(emu: Emulator) -> str:
    # Any channel's messages except the guild's own channels: the buyer's DM channel.
    world = emu.world
    others = "|".join(
        str(c) for c in (world.staff_channel_id, world.notice_channel_id, world.general_channel_id)
    )
    return rf"^/channels/(?!(?:{others})/)\d+/messages$"


async def test_discord_storing_the_dm_then_dropping_the_connection_yields_one_dm(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    # Discord stores the DM, then the connection drops before the answer (discord.py
    # doesn't retry that on Linux). The e2e suite covers 502 on every one of its tries.
    emu.inject_store_then_fail("POST", dm_path(emu), drop=True)
    assert await notifier.send_due() == 0
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None and note.state is NotificationState.PENDING and note.unsure
    # The next attempt finds it in the history instead of sending it again.
    await outbox.set_notification_state(db, note.id, NotificationState.PENDING, next_attempt_at=0.0)
    await notifier.send_due()
    assert len(dms_about(emu, buyer, order_id)) == 1
    assert await state_of(db, order_id) is NotificationState.SENT
    assert SECRET in dms_about(emu, buyer, order_id)[0]["content"]


async def test_a_failed_write_after_the_send_never_sends_it_again(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, tmp_path: Path
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    # SQLite itself refuses to record the DM as sent (a full disk, a locked file).
    with sqlite3.connect(tmp_path / "orders.sqlite3") as raw:
        raw.execute(
            "CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON notifications"
            " WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    await notifier.send_due()
    assert len(dms_about(emu, buyer, order_id)) == 1
    assert await state_of(db, order_id) is NotificationState.SENDING  # not reset to pending
    for _ in range(3):
        await notifier.send_due()  # nothing to send: the row isn't pending
    with sqlite3.connect(tmp_path / "orders.sqlite3") as raw:
        raw.execute("DROP TRIGGER refuse_sent")
    await asyncio.sleep(0.6)  # older than stale_after
    assert await notifier.reconcile_stale() == 1
    assert await state_of(db, order_id) is NotificationState.SENT
    assert len(dms_about(emu, buyer, order_id)) == 1


async def test_an_unreadable_history_is_retried_by_the_scheduled_reconciliation(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    # Interrupted: claimed, and the DM went out, but nothing was recorded.
    await outbox.set_notification_state(
        db, note.id, NotificationState.SENDING, expect=NotificationState.PENDING
    )
    await notifier._send_claimed(note)
    await outbox.set_notification_state(db, note.id, NotificationState.SENDING)
    emu.inject_error("GET", r"^/channels/\d+/messages$", 403, code=50001, count=1)
    assert await notifier.reconcile_interrupted() == 0  # the history read failed
    assert await state_of(db, order_id) is NotificationState.SENDING
    assert await notifier.reconcile_interrupted() == 1  # the next run reads it
    assert await state_of(db, order_id) is NotificationState.SENT
    assert len(dms_about(emu, buyer, order_id)) == 1


async def test_only_the_bots_own_messages_count_as_already_sent(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    buyer = emu.world.buyer_id
    emu.set_dms_closed(buyer)
    order_id = await completed_order(db, cipher, buyer, delivery=False)
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    await outbox.set_notification_state(
        db, note.id, NotificationState.SENDING, expect=NotificationState.PENDING
    )
    # Somebody else types the notice's marker into the notices channel.
    emu.new_message(
        emu.world.notice_channel_id,
        {"content": f"-# Order {order_id} · final"},
        author_id=emu.world.buyer2_id,
    )
    assert await notifier.reconcile_interrupted() == 1
    assert await state_of(db, order_id) is NotificationState.PENDING  # not "found"
    await notifier.send_due()
    assert await state_of(db, order_id) is NotificationState.FALLBACK
    notices = [
        m
        for m in emu.channel_messages(emu.world.notice_channel_id)
        if m["author"]["id"] == str(emu.world.bot_user_id) and order_id in m["content"]
    ]
    assert len(notices) == 1


async def test_late_steps_of_a_send_cant_overwrite_sent(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    order_id = await completed_order(db, cipher, emu.world.buyer_id)
    await notifier.send_due()
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None and note.state is NotificationState.SENT
    # A retry or a give-up computed by a slower path arrives after the send was recorded.
    await notifier._retry(note, "late 502", unsure=True)
    await notifier._give_up(note, "late 400")
    assert await state_of(db, order_id) is NotificationState.SENT
    assert [a.kind for a in await staff_alerts.unposted_alerts(db)] == []
