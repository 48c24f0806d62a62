"""A shop of N orders written fast, as storage writes them (encrypted contact, one event,
a credit and a debit each, wallets equal to their ledgers, and a row in every other
table): what `migrate-data` moves in tests/storage/test_migrate_data.py and in
bench/migrate_data.py."""

from __future__ import annotations

import json
import random

from core import alerts
from core.crypto import DeliveryCipher
from storage import staff_alerts
from storage.database import Database


async def seed(db: Database, cipher: DeliveryCipher, orders: int) -> None:
    """A real-looking shop, fast: rows written as storage writes them (encrypted contact
    and delivery), in a few big transactions."""
    rng = random.Random(26)
    contact = cipher.encrypt_text(json.dumps({"phone_number": "+919876543210"}))
    now = 1_790_000_000.0
    order_rows: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    ledger: list[tuple[object, ...]] = []
    balances: dict[int, int] = {}
    for n in range(orders):
        buyer = 1000 + n % 250
        price = rng.randint(1, 50) * 100
        status = rng.choice(["completed", "failed", "submitted", "refunded"])
        order_rows.append(
            (
                f"ORD-M{n:09d}",
                1,
                buyer,
                "boost",
                "Boost",
                "boost",
                "boost",
                "placed",
                1,
                price,
                price,
                "USD",
                status,
                f"remote-{n}",
                f"key-{n}",
                "{}",
                contact,
                now + n,
                now + n,
            )
        )
        events.append((f"ORD-M{n:09d}", now + n, "system", "created", None, status))
        balances[buyer] = balances.get(buyer, 0) + 10_000 - price
        ledger.append((buyer, "USD", 10_000, "credit", None, "staff", None, now, f"c-{n}"))
        ledger.append(
            (
                buyer,
                "USD",
                -price,
                "order_debit",
                f"ORD-M{n:09d}",
                "system",
                None,
                now,
                f"ORD-M{n:09d}:debit",
            )
        )
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO orders (id, guild_id, user_id, product_key, product_name, provider,"
            " kind, source, quantity, unit_price_minor, total_minor, currency, status,"
            " remote_id, idempotency_key, details_json, contact_enc, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            order_rows,
        )
        await conn.executemany(
            "INSERT INTO order_events (order_id, at, actor, kind, old_status, new_status)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )
        await conn.executemany(
            "INSERT INTO ledger (user_id, currency, amount_minor, kind, order_id, actor, note,"
            " created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ledger,
        )
        await conn.executemany(
            "INSERT INTO wallets (user_id, currency, balance_minor, updated_at) VALUES (?, 'USD', ?, ?)",
            [(u, b, now) for u, b in balances.items()],
        )
        await conn.executemany(
            "INSERT INTO notifications (order_id, kind, user_id, state, attempts,"
            " next_attempt_at, created_at) VALUES (?, 'final', ?, 'sent', 1, ?, ?)",
            [(row[0], row[2], now, now) for row in order_rows[:500]],
        )
        await conn.execute("INSERT INTO shop_state (key, value) VALUES ('paused', '0')")
        await conn.execute(
            "INSERT INTO provider_health (provider, updated_at, key_state) VALUES ('boost', ?, 'accepted')",
            (now,),
        )
        await conn.execute(
            "INSERT INTO provider_requests (provider, minute, requests, failures) VALUES ('boost', 1, 5, 1)"
        )
        await conn.execute(
            "INSERT INTO audit_log (at, actor_id, action, target, detail) VALUES (?, 7, 'shop.pause', NULL, 'x')",
            (now,),
        )
        await conn.execute(
            "INSERT INTO topups (id, user_id, provider, remote_id, amount_minor, currency, state,"
            " created_at, updated_at) VALUES ('TOP-SEED', 7, 'razorpay', 'plink_seed', 50000,"
            " 'INR', 'expired', ?, ?)",
            (now, now),
        )
        await conn.execute(
            "INSERT INTO payment_events (provider, event_id, kind, topup_id, received_at,"
            " processed_at, body_enc) VALUES ('razorpay', 'evt_seed', 'payment_link.expired',"
            " 'TOP-SEED', ?, ?, ?)",
            (now, now, b"ciphertext"),
        )
        await conn.execute(
            "INSERT INTO payment_reversals (provider, reference, topup_id, payment_id, what,"
            " asked_minor, taken_minor, currency, state, created_at, updated_at) VALUES"
            " ('razorpay', 'rfnd_seed', 'TOP-SEED', 'pay_seed', 'refunded', 100, 0, 'INR',"
            " 'failed', ?, ?)",
            (now, now),
        )
        await conn.execute(
            "INSERT INTO member_languages (user_id, language, updated_at) VALUES (1042, 'bn', ?)",
            (now,),
        )
    await staff_alerts.raise_alert(db, alerts.shop_paused(7, "stocktaking", 1))
