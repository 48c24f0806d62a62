"""Online top-ups in storage (issue 28), on both engines: a payment credits once however
many times and by however many paths it is reported, every state change is a
compare-and-set, and webhook events are stored once per provider event id."""

from __future__ import annotations

import asyncio

import pytest

from core.domain import Money
from storage import payment_events, topup_reversals, topups, wallet
from storage.database import Database
from storage.topups import Credit, Payment, TopupState

BUYER = 11


async def open_topup(db: Database, topup_id: str = "TOP-1", minor: int = 50_000) -> topups.Topup:
    await topups.create(
        db,
        topup_id=topup_id,
        user_id=BUYER,
        guild_id=1,
        provider="razorpay",
        amount=Money(minor, "INR"),
        now=1000.0,
    )
    await topups.opened(
        db,
        topup_id,
        remote_id=f"plink_{topup_id}",
        url=f"https://rzp.io/i/{topup_id}",
        expires_at=5000.0,
        next_check_at=1030.0,
        now=1001.0,
    )
    found = await topups.get(db, topup_id)
    assert found is not None and found.state is TopupState.OPEN
    return found


async def test_a_payment_credits_once_whatever_reports_it_again(db: Database) -> None:
    topup = await open_topup(db)
    payment = Payment("pay_A", Money(50_000, "INR"))
    assert await topups.credit(db, topup, payment) is Credit.CREDITED
    # The webhook again, then the reconciliation poll with the record it read earlier.
    assert await topups.credit(db, topup, payment) is Credit.ALREADY
    stale = await topups.get(db, "TOP-1")
    assert stale is not None
    assert await topups.credit(db, topup, payment) is Credit.ALREADY
    assert await wallet.balance(db, BUYER, "INR") == Money(50_000, "INR")
    entries = await wallet.entries(db, BUYER)
    assert [e.idempotency_key for e in entries] == ["topup:razorpay:pay_A"]
    paid = await topups.get(db, "TOP-1")
    assert paid is not None
    assert paid.state is TopupState.PAID
    assert paid.paid == Money(50_000, "INR") and paid.payment_id == "pay_A"
    assert paid.next_check_at is None  # reconciliation stops


async def test_the_amount_paid_is_credited_not_the_amount_asked(db: Database) -> None:
    topup = await open_topup(db, minor=50_000)
    assert await topups.credit(db, topup, Payment("pay_B", Money(49_000, "INR"))) is (
        Credit.CREDITED
    )
    assert await wallet.balance(db, BUYER, "INR") == Money(49_000, "INR")
    paid = await topups.get(db, "TOP-1")
    assert paid is not None and paid.amount == Money(50_000, "INR")
    assert paid.paid == Money(49_000, "INR")
    assert await alert_kinds(db) == ["topup_mismatch"]


async def test_a_payment_as_asked_raises_no_alert(db: Database) -> None:
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pay_ok", Money(50_000, "INR")))
    assert await alert_kinds(db) == []


async def alert_kinds(db: Database) -> list[str]:
    return [str(r[0]) for r in await db.fetch_all("SELECT kind FROM staff_alerts ORDER BY id")]


async def test_a_reversal_takes_back_once_and_never_below_zero(db: Database) -> None:
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pay_R", Money(50_000, "INR")))
    # The buyer spends 30,000 of it on an order.
    await wallet.post(
        db,
        wallet.Movement(
            BUYER, Money(-30_000, "INR"), wallet.EntryKind.ORDER_DEBIT, "test", "ORD-1"
        ),
    )
    taken = await topup_reversals.reverse(
        db,
        topup,
        reference="rfnd_1",
        payment_id="pay_R",
        taken=Money(50_000, "INR"),
        what="refunded",
    )
    assert taken == Money(20_000, "INR")  # all the balance allowed
    assert await wallet.balance(db, BUYER, "INR") == Money(0, "INR")
    # Announced again (refund.created, then refund.processed) after a new credit: nothing.
    await wallet.post(
        db, wallet.Movement(BUYER, Money(5_000, "INR"), wallet.EntryKind.CREDIT, "test", "c-2")
    )
    again = await topup_reversals.reverse(
        db,
        topup,
        reference="rfnd_1",
        payment_id="pay_R",
        taken=Money(50_000, "INR"),
        what="refunded",
    )
    assert again is None
    assert await wallet.balance(db, BUYER, "INR") == Money(5_000, "INR")
    assert await wallet.ledger_sum(db, BUYER, "INR") == Money(5_000, "INR")
    assert await alert_kinds(db) == ["topup_reversed"]
    message = await db.fetch_one("SELECT message FROM staff_alerts")
    assert message is not None and "all its balance allowed" in message[0]
    found = await topups.get(db, "TOP-1")
    assert found is not None and found.refunded_minor == 20_000


async def test_a_reversal_of_a_spent_balance_takes_nothing_and_says_so(db: Database) -> None:
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pay_S", Money(50_000, "INR")))
    await wallet.post(
        db,
        wallet.Movement(
            BUYER, Money(-50_000, "INR"), wallet.EntryKind.ORDER_DEBIT, "test", "ORD-2"
        ),
    )
    assert (
        await topup_reversals.reverse(
            db,
            topup,
            reference="dp_1",
            payment_id="pay_S",
            taken=Money(50_000, "INR"),
            what="disputed",
        )
        is None
    )
    assert await wallet.balance(db, BUYER, "INR") == Money(0, "INR")
    message = await db.fetch_one("SELECT message FROM staff_alerts")
    assert message is not None and "Nothing was taken" in message[0]


async def test_a_second_payment_of_a_paid_link_is_credited_and_flagged(db: Database) -> None:
    topup = await open_topup(db)
    assert await topups.credit(db, topup, Payment("pay_1", Money(50_000, "INR"))) is (
        Credit.CREDITED
    )
    assert await topups.credit(db, topup, Payment("pay_2", Money(50_000, "INR"))) is (
        Credit.EXTRA_PAYMENT
    )
    assert await wallet.balance(db, BUYER, "INR") == Money(100_000, "INR")
    assert await wallet.ledger_sum(db, BUYER, "INR") == Money(100_000, "INR")
    assert await alert_kinds(db) == ["topup_mismatch"]


async def test_a_payment_that_lands_after_expiry_still_credits(db: Database) -> None:
    topup = await open_topup(db)
    assert await topups.end(db, "TOP-1", TopupState.EXPIRED, expect=TopupState.OPEN)
    assert await topups.credit(db, topup, Payment("pay_C", Money(50_000, "INR"))) is (
        Credit.CREDITED
    )
    paid = await topups.get(db, "TOP-1")
    assert paid is not None and paid.state is TopupState.PAID


async def test_ending_is_a_compare_and_set(db: Database) -> None:
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pay_D", Money(50_000, "INR")))
    # The poll read `open` before the webhook's credit landed: its expiry changes nothing.
    assert not await topups.end(db, "TOP-1", TopupState.EXPIRED, expect=TopupState.OPEN)
    found = await topups.get(db, "TOP-1")
    assert found is not None and found.state is TopupState.PAID
    with pytest.raises(ValueError):
        await topups.end(db, "TOP-1", TopupState.PAID, expect=TopupState.OPEN)
    with pytest.raises(topups.StaleTopup):
        await topups.opened(
            db, "TOP-1", remote_id="plink_x", url="https://x", expires_at=None, next_check_at=0
        )


async def test_webhook_and_poll_racing_on_two_connections_credit_once(
    db: Database, second: Database
) -> None:
    """Fifty top-ups, each reported by a webhook on one connection and a poll on the
    other at the same moment: fifty credits, and the ledger equals the balance."""
    opened = [await open_topup(db, f"TOP-{n}", minor=1000 + n) for n in range(50)]

    async def report(database: Database, topup: topups.Topup) -> Credit:
        return await topups.credit(
            database, topup, Payment(f"pay_{topup.id}", Money(topup.amount.minor, "INR"))
        )

    results = await asyncio.gather(
        *(report(d, t) for t in opened for d in (db, second)),
    )
    assert results.count(Credit.CREDITED) == 50
    assert results.count(Credit.ALREADY) == 50
    expected = sum(1000 + n for n in range(50))
    assert await wallet.balance(db, BUYER, "INR") == Money(expected, "INR")
    assert await wallet.ledger_sum(db, BUYER, "INR") == Money(expected, "INR")


async def test_due_checks_are_claimed_once_and_released_by_a_check(
    db: Database, second: Database
) -> None:
    for n in range(4):
        await open_topup(db, f"TOP-{n}")
    first, other = await asyncio.gather(
        topups.claim_due_checks(db, now=2000.0, lease_until=2060.0, limit=3, owner="a"),
        topups.claim_due_checks(second, now=2000.0, lease_until=2060.0, limit=3, owner="b"),
    )
    assert len(first) + len(other) == 4
    assert not {t.id for t in first} & {t.id for t in other}
    # Leased: nothing more to claim until a check records its answer or the lease ends.
    assert await topups.claim_due_checks(db, now=2001.0, lease_until=2061.0, limit=9) == []
    await topups.checked(db, "TOP-0", next_check_at=2030.0, now=2002.0)
    again = await topups.claim_due_checks(db, now=2031.0, lease_until=2091.0, limit=9)
    assert [t.id for t in again] == ["TOP-0"]
    assert again[0].checks == 1
    expired_leases = await topups.claim_due_checks(db, now=2070.0, lease_until=2130.0, limit=9)
    assert {t.id for t in expired_leases} == {"TOP-1", "TOP-2", "TOP-3"}


async def test_webhook_events_are_stored_once_per_event_id(db: Database) -> None:
    first = await payment_events.record_event(
        db,
        provider="razorpay",
        event_id="evt_1",
        kind="payment_link.paid",
        topup_id="TOP-1",
        body_enc=b"ciphertext",
        now=1.0,
    )
    assert first is not None
    again = await payment_events.record_event(
        db,
        provider="razorpay",
        event_id="evt_1",
        kind="payment_link.paid",
        topup_id="TOP-1",
        body_enc=b"ciphertext",
        now=2.0,
    )
    assert again is None
    other_provider = await payment_events.record_event(
        db,
        provider="stripe",
        event_id="evt_1",
        kind="checkout.session.completed",
        topup_id=None,
        body_enc=b"ciphertext",
        now=3.0,
    )
    assert other_provider is not None and other_provider != first
    await payment_events.event_processed(db, first, now=4.0)
    row = await db.fetch_one(
        "SELECT processed_at, body_enc FROM payment_events WHERE id = ?", (first,)
    )
    assert row is not None and row[0] == 4.0 and bytes(row[1]) == b"ciphertext"


async def test_a_reversal_stays_applied_once_after_its_alert_is_pruned(db: Database) -> None:
    """Retention deletes posted alerts after 30 days; a refund listed again later (Stripe
    lists every refund of a charge in each event) still takes nothing more, even from a
    balance that has grown since."""
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pay_P", Money(10_000, "INR")))
    await wallet.post(
        db,
        wallet.Movement(
            BUYER, Money(-10_000, "INR"), wallet.EntryKind.ORDER_DEBIT, "test", "ORD-P"
        ),
    )

    async def refund() -> Money | None:
        return await topup_reversals.reverse(
            db,
            topup,
            reference="re_1",
            payment_id="pay_P",
            taken=Money(10_000, "INR"),
            what="refunded",
        )

    assert await refund() is None  # spent: took nothing
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM staff_alerts")
    await wallet.post(
        db, wallet.Movement(BUYER, Money(8_000, "INR"), wallet.EntryKind.CREDIT, "test", "c-P")
    )
    assert await refund() is None
    assert await wallet.balance(db, BUYER, "INR") == Money(8_000, "INR")
    assert await alert_kinds(db) == []


async def test_cumulative_refund_totals_take_each_part_once_in_any_order(db: Database) -> None:
    """Stripe without the refunds list says only the charge's total refunded so far:
    $1 then $3 in all takes $3, whichever event comes first, and repeats take nothing."""
    topup = await open_topup(db)
    await topups.credit(db, topup, Payment("pi_C", Money(10_000, "INR")))

    async def total(minor: int) -> Money | None:
        return await topup_reversals.reverse(
            db,
            topup,
            reference=f"ch_C:{minor}",
            payment_id="pi_C",
            taken=Money(minor, "INR"),
            what="refunded",
            cumulative=True,
        )

    assert await total(100) == Money(100, "INR")
    assert await total(300) == Money(200, "INR")  # only the new part
    assert await total(300) is None and await total(100) is None
    assert await wallet.balance(db, BUYER, "INR") == Money(9_700, "INR")
    # In the other order: the larger total first, the smaller then takes nothing.
    other = await open_topup(db, "TOP-2")
    await topups.credit(db, other, Payment("pi_D", Money(1_000, "INR")))
    for minor in (300, 100):
        await topup_reversals.reverse(
            db,
            other,
            reference=f"ch_D:{minor}",
            payment_id="pi_D",
            taken=Money(minor, "INR"),
            what="refunded",
            cumulative=True,
        )
    assert await wallet.balance(db, BUYER, "INR") == Money(10_000 - 300 + 1_000 - 300, "INR")
