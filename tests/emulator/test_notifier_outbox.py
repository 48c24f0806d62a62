"""Issue 13: the outbox sends at most one DM per order and kind, whatever Discord or our
own database does around the send.

A real discord.py client (the emulator's MiniBot) drives the real Notifier over real
SQLite against the emulator; faults come from the emulator (store-then-fail, dropped
connections) and from SQLite itself (a trigger that makes the write after a send fail).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import discord
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.presenters import notice_marker_line
from bot.services.notifier import Notifier
from core.crypto import DeliveryCipher
from core.domain import Delivery, Money, OrderKind, OrderSource, OrderStatus, new_order_id
from core.timings import Timings
from emulator import Emulator
from emulator.faults import FOREVER
from storage import notifications as outbox
from storage import orders as repo
from storage import staff_alerts
from storage.database import Database
from storage.notifications import NotificationState
from tests.emulator.minibot import MiniBot

SECRET = "login: pat@example.com / pass: OUTBOX-SECRET-4410"


async def completed_order(
    db: Database,
    cipher: DeliveryCipher,
    user_id: int,
    *,
    delivery: bool = True,
    remote_id: str = "ABCDEF123456",
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
            remote_id=remote_id,
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


# How long a row may stay `sending` before the scheduled reconciliation settles it.
STALE_AFTER = 0.5


class Clock:
    """The notifier's clock: the real time, moved on by the test. The outbox stamps its
    claims with the real time, so moving this clock on makes every claim made so far
    older, as waiting would, without the wait."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def past_stale_after(self) -> None:
        """Every row claimed until now is older than `STALE_AFTER`."""
        self.ahead += STALE_AFTER + 0.1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notifier(
    db: Database, cipher: DeliveryCipher, emu: Emulator, bot: MiniBot, clock: Clock
) -> Notifier:
    return Notifier(
        db,
        cipher,
        bot,
        emu.world.notice_channel_id,
        clock=clock,
        timings=Timings(dm_reconcile_after=STALE_AFTER),
    )


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


async def test_a_dm_stored_long_before_its_check_is_found_behind_many_newer_ones(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    """A reseller's orders complete together: by the time an unsure DM is checked, 120
    newer DMs sit above it in the buyer's channel. The check reads back to when the DM
    was owed, not just the newest page, so it finds it and sends nothing again."""
    buyer = emu.world.buyer_id
    emu.nonce_window = 0  # only the outbox may keep it from going twice
    first = await completed_order(db, cipher, buyer)
    emu.inject_store_then_fail("POST", dm_path(emu), drop=True)
    assert await notifier.send_due() == 0  # stored by Discord; the answer was lost
    others = [await completed_order(db, cipher, buyer, remote_id=f"{n:012d}") for n in range(120)]
    while await notifier.send_due(limit=50):
        pass
    assert all(len(dms_about(emu, buyer, o)) == 1 for o in others)
    note = await outbox.get_notification(db, first, "final")
    assert note is not None and note.unsure
    await outbox.set_notification_state(db, note.id, NotificationState.PENDING, next_attempt_at=0.0)
    await notifier.send_due()
    assert await state_of(db, first) is NotificationState.SENT
    assert len(dms_about(emu, buyer, first)) == 1


async def test_a_failed_write_after_the_send_never_sends_it_again(
    db: Database,
    cipher: DeliveryCipher,
    emu: Emulator,
    notifier: Notifier,
    clock: Clock,
    tmp_path: Path,
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
    clock.past_stale_after()
    assert await notifier.reconciler.reconcile_stale() == 1
    assert await state_of(db, order_id) is NotificationState.SENT
    assert len(dms_about(emu, buyer, order_id)) == 1


async def interrupted(db: Database, notifier: Notifier, order_id: str) -> outbox.Notification:
    """The final DM of `order_id` went out, and then nothing was recorded (the process
    died, or the write failed): the row is left `sending`."""
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    await outbox.set_notification_state(
        db, note.id, NotificationState.SENDING, expect=NotificationState.PENDING
    )
    claimed = await outbox.get_notification(db, order_id, "final")
    assert claimed is not None
    return claimed


async def test_an_unreadable_history_is_retried_by_the_scheduled_reconciliation(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, clock: Clock
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    note = await interrupted(db, notifier, order_id)
    await notifier._send_claimed(note)  # the DM goes out ...
    await outbox.set_notification_state(  # ... and the write after it is lost
        db, note.id, NotificationState.SENDING, expect=NotificationState.SENT
    )
    clock.past_stale_after()
    emu.inject_error("GET", r"^/channels/\d+/messages$", 403, code=50001, count=1)
    assert await notifier.reconciler.reconcile_stale() == 0  # the history read failed
    assert await state_of(db, order_id) is NotificationState.SENDING
    assert await notifier.reconciler.reconcile_stale() == 1  # the next scheduled run reads it
    assert await state_of(db, order_id) is NotificationState.SENT
    assert len(dms_about(emu, buyer, order_id)) == 1


async def test_only_the_bots_own_messages_count_as_already_sent(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, clock: Clock
) -> None:
    buyer = emu.world.buyer_id
    emu.set_dms_closed(buyer)
    order_id = await completed_order(db, cipher, buyer, delivery=False)
    note = await interrupted(db, notifier, order_id)
    await outbox.mark_notice_tried(db, note.id)
    # Somebody else types the notice's reference into the notices channel.
    emu.new_message(
        emu.world.notice_channel_id,
        {"content": f"hey\n{notice_marker_line(order_id, 'final')}"},
        author_id=emu.world.buyer2_id,
    )
    clock.past_stale_after()
    assert await notifier.reconciler.reconcile_stale() == 1
    assert await state_of(db, order_id) is NotificationState.PENDING  # not "found"
    await notifier.send_due()
    assert await state_of(db, order_id) is NotificationState.FALLBACK
    notices = [
        m
        for m in emu.channel_messages(emu.world.notice_channel_id)
        if m["author"]["id"] == str(emu.world.bot_user_id)
        and notice_marker_line(order_id, "final") in m["content"]
    ]
    assert len(notices) == 1
    # The public notice names no order, product or status.
    assert order_id not in notices[0]["content"] and "Game key" not in notices[0]["content"]


async def test_a_marker_is_matched_exactly_not_as_a_prefix(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, clock: Clock
) -> None:
    # DMs closed; the notice for "final-2" is in the channel, the one for "final" isn't.
    buyer = emu.world.buyer_id
    emu.set_dms_closed(buyer)
    order_id = await completed_order(db, cipher, buyer, delivery=False)
    emu.new_message(
        emu.world.notice_channel_id, {"content": f"x\n{notice_marker_line(order_id, 'final-2')}"}
    )
    note = await interrupted(db, notifier, order_id)
    await outbox.mark_notice_tried(db, note.id)
    clock.past_stale_after()
    await notifier.reconciler.reconcile_stale()
    assert await state_of(db, order_id) is NotificationState.PENDING  # "final" wasn't found


async def test_an_unsure_dm_not_in_the_history_is_sent_in_the_same_run(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    await outbox.set_notification_state(db, note.id, NotificationState.PENDING, unsure=True)
    assert await notifier.send_due() == 1
    assert len(dms_about(emu, buyer, order_id)) == 1
    assert await state_of(db, order_id) is NotificationState.SENT


async def test_an_unreadable_notices_channel_doesnt_block_a_dm(
    db: Database, cipher: DeliveryCipher, emu: Emulator, bot: MiniBot, notifier: Notifier
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    note = await outbox.get_notification(db, order_id, "final")
    assert note is not None
    await outbox.set_notification_state(db, note.id, NotificationState.PENDING, unsure=True)
    notices = emu.world.notice_channel_id
    fault = emu.inject_error(
        "GET", rf"^/channels/{notices}/messages$", 403, code=50001, count=FOREVER
    )
    # The notices channel really is unreadable (a fault that never fires would let this
    # test pass whatever the notifier reads)...
    channel = await bot.fetch_channel(notices)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden):
        [m async for m in channel.history(limit=1)]
    assert fault.hits == 1
    # ...and the unsure DM still goes: no notice was tried, so only the DM history is read
    # (reading the notices channel here would fail and hold the DM back).
    assert await notifier.send_due() == 1  # never a fallback: only the DM history counts
    assert len(dms_about(emu, buyer, order_id)) == 1
    assert fault.hits == 1
    # Still armed afterwards: a forever fault is not used up by the reads it answers.
    with pytest.raises(discord.Forbidden):
        [m async for m in channel.history(limit=1)]
    assert fault.hits == 2


async def test_a_delivery_that_cant_be_decrypted_still_tells_the_buyer_and_staff(
    db: Database, cipher: DeliveryCipher, emu: Emulator, bot: MiniBot
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    other = DeliveryCipher(SecretStr(Fernet.generate_key().decode()))  # the key was replaced
    notifier = Notifier(db, other, bot, emu.world.notice_channel_id)
    assert await notifier.send_due() == 1
    (dm,) = dms_about(emu, buyer, order_id)
    assert SECRET not in dm["content"] and "can't be shown" in dm["content"]
    assert "undecryptable" in [a.kind for a in await staff_alerts.unposted_alerts(db)]


async def test_two_reconcilers_and_a_sender_never_undo_each_others_claims(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, clock: Clock
) -> None:
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    stale = await interrupted(db, notifier, order_id)  # never sent, left sending
    clock.past_stale_after()
    # The startup run and a scheduled run start together; the sender runs between.
    emu.nonce_window = 0  # only the outbox itself may prevent a second DM here
    results = await asyncio.gather(
        notifier.reconciler.reconcile_interrupted(),
        notifier.reconciler.reconcile_stale(),
        notifier.send_due(),
    )
    for _ in range(5):
        await notifier.send_due()
        await notifier.reconciler.reconcile_stale()
    assert len(dms_about(emu, buyer, order_id)) == 1, results
    # A move computed from the old claim can't touch the newer one.
    assert not await outbox.set_notification_state(
        db,
        stale.id,
        NotificationState.PENDING,
        expect=NotificationState.SENT,
        expect_claimed_at=stale.claimed_at,
    )


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


@pytest.mark.postgres
async def test_a_starting_process_leaves_another_process_live_dm_claim_alone(
    postgres_db: Database, cipher: DeliveryCipher, emu: Emulator, bot: MiniBot, clock: Clock
) -> None:
    """PostgreSQL: other processes send DMs from the same shop. A process that starts
    while one of them is mid-send must not take that claim for a crash leftover (the DM
    would go twice); once the claim has expired (its sender died), it is settled."""
    db = postgres_db
    buyer = emu.world.buyer_id
    order_id = await completed_order(db, cipher, buyer)
    live = await outbox.claim_due_notification(db, now=clock())  # the other sender's claim
    assert live is not None and live.order_id == order_id
    emu.nonce_window = 0  # only the outbox may prevent a second DM here
    starting = Notifier(
        db,
        cipher,
        bot,
        emu.world.notice_channel_id,
        clock=clock,
        timings=Timings(dm_reconcile_after=STALE_AFTER),
    )
    assert await starting.reconciler.reconcile_interrupted() == 0
    assert await starting.reconciler.reconcile_stale() == 0
    assert await starting.send_due() == 0
    still = await outbox.get_notification(db, order_id, "final")
    assert still is not None and still.state is NotificationState.SENDING
    assert still.claimed_at == live.claimed_at
    assert dms_about(emu, buyer, order_id) == []
    clock.past_stale_after()  # the other sender never finished: its claim expired
    assert await starting.reconciler.reconcile_stale() == 1
    assert await starting.send_due() == 1
    assert len(dms_about(emu, buyer, order_id)) == 1


async def test_a_top_up_dm_whose_history_stays_unreadable_alerts_staff_and_blocks_no_other(
    db: Database, cipher: DeliveryCipher, emu: Emulator, notifier: Notifier, clock: Clock
) -> None:
    """A top-up's DM (issue 28) interrupted, its history unreadable past the alert
    threshold: staff get an alert that names the top-up (no order: staff_alerts.order_id
    is a key into orders), and the order DM after it in the same run is settled."""
    from storage import topups

    payer = emu.world.buyer2_id
    topup = await topups.create(
        db,
        topup_id="TOP-0123456789AB",
        user_id=payer,
        guild_id=None,
        provider="razorpay",
        amount=Money(500, "INR"),
    )
    await topups.opened(
        db, topup.id, remote_id="plink_1", url="https://rzp.io/x", expires_at=None, next_check_at=0
    )
    opened = await topups.get(db, topup.id)
    assert opened is not None
    await topups.credit(db, opened, topups.Payment("pay_1", Money(500, "INR")))
    order_id = await completed_order(db, cipher, emu.world.buyer_id)
    first = await outbox.claim_due_notification(db, now=clock())
    second = await outbox.claim_due_notification(db, now=clock())
    assert first is not None and first.for_topup and second is not None and not second.for_topup
    clock.past_stale_after()
    notifier.reconciler.alert_after = 0
    emu.inject_error("GET", r"^/channels/\d+/messages$", 403, code=50001, count=1)
    assert await notifier.reconciler.reconcile_stale() == 1  # the order's row
    assert await state_of(db, order_id) is NotificationState.PENDING  # not found: sent again
    rows = await db.fetch_all("SELECT message, order_id FROM staff_alerts")
    assert [(topup.id in r[0], r[1]) for r in rows] == [(True, None)]
