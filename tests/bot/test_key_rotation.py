"""`orderbot rotate-key`: rows written under an old key read correctly after the old
key is removed, an interrupted run resumes, and it refuses to run beside a bot; on both
engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from core.crypto import DecryptionError, DeliveryCipher
from core.domain import Delivery, OrderStatus
from storage import lock as database_lock
from storage import orders as repo
from storage import payment_events
from storage.database import Database, open_database
from storage.key_rotation import rotate_key
from storage.postgres import GATEWAY_LOCK
from tests.bot.helpers import run_bot
from tests.storage.factories import new_order
from tests.support import ENGINES, engine_database, fresh_postgres

CONTACT = {"phone_number": "+919876543210", "name": "Asha"}


@pytest.fixture(params=ENGINES)
async def shop(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await engine_database(request.param, tmp_path / "bot.sqlite3", name="rotate")
    try:
        yield database
    finally:
        await database.close()


async def seed(db: Database, cipher: DeliveryCipher, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        order = await repo.insert_order(db, new_order(contact=CONTACT), cipher)
        await repo.transition_order(
            db,
            order.id,
            repo.StatusChange(
                OrderStatus.COMPLETED,
                actor="provider",
                delivery=Delivery(text=SecretStr(f"key for {order.id}")),
                frozen_request='{"body": {}}',
            ),
            cipher,
        )
        ids.append(order.id)
    return ids


async def readable_with(db: Database, cipher: DeliveryCipher, ids: list[str]) -> bool:
    for order_id in ids:
        order = await repo.get_order(db, order_id)
        assert order is not None
        try:
            delivery = order.delivery(cipher)
            assert delivery is not None and delivery.reveal() == f"key for {order_id}"
            assert order.contact(cipher) == CONTACT
            assert order.frozen_request(cipher) == '{"body": {}}'
        except DecryptionError:
            return False
    return True


def keys(*parts: str) -> DeliveryCipher:
    return DeliveryCipher(SecretStr(",".join(parts)))


async def test_rows_under_the_old_key_read_after_it_is_removed(shop: Database) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ids = await seed(shop, keys(old), 5)
    assert not await readable_with(shop, keys(new), ids)  # the new key alone can't, yet
    report = await rotate_key(shop, keys(new, old))
    assert report.rows == 5 and report.unreadable == []
    assert await readable_with(shop, keys(new), ids)


async def test_stored_payment_events_are_rotated_too(shop: Database) -> None:
    """Webhook bodies name the payer, so they are encrypted (issue 28): a rotation that
    left them under the old key would lose them when it is removed."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    for n in range(3):
        await payment_events.record_event(
            shop,
            provider="razorpay",
            event_id=f"evt_{n}",
            kind="payment_link.paid",
            topup_id=None,
            body_enc=keys(old).encrypt_text(f'{{"payer": "payer{n}@example.com"}}'),
        )
    report = await rotate_key(shop, keys(new, old), batch=2)
    assert report.events == 3 and report.unreadable == []
    rows = await shop.fetch_all("SELECT event_id, body_enc FROM payment_events ORDER BY id")
    assert [keys(new).decrypt_text(bytes(r[1])) for r in rows] == [
        f'{{"payer": "payer{n}@example.com"}}' for n in range(3)
    ]


async def test_an_interrupted_rotation_resumes(shop: Database) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ids = await seed(shop, keys(old), 5)
    reached: list[str] = []

    def stop_after_first_batch(order_id: str) -> None:
        reached.append(order_id)
        raise KeyboardInterrupt  # the operator pressed Ctrl-C (or the machine went down)

    with pytest.raises(KeyboardInterrupt):
        await rotate_key(shop, keys(new, old), batch=2, after_batch=stop_after_first_batch)
    report = await rotate_key(shop, keys(new, old), batch=2)
    assert report.resumed_after == reached[0] == sorted(ids)[1]
    assert report.rows == 3  # only what was left
    assert await readable_with(shop, keys(new), ids)


@pytest.mark.subprocess
def test_the_command_rotates_and_refuses_beside_a_running_bot(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = Path(bot_env["DATABASE_PATH"])
    ids = asyncio.run(on_file(path, seed, keys(old), 3))
    env = {**bot_env, "DELIVERY_ENCRYPTION_KEY": f"{new},{old}"}
    with database_lock.exclusive(path):  # a bot is running on it
        busy = run_bot(["rotate-key"], env, tmp_path)
    assert busy.returncode == 2 and "in use by process" in busy.stderr
    done = run_bot(["rotate-key"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 order(s)" in done.stdout and "can be removed" in done.stdout
    assert new not in done.stdout + done.stderr and old not in done.stdout + done.stderr
    assert asyncio.run(on_file(path, readable_with, keys(new), ids))


async def on_file(path: Path, step: Any, *args: Any) -> Any:
    db = await open_database(path)
    try:
        return await step(db, *args)
    finally:
        await db.close()


@pytest.mark.subprocess
@pytest.mark.postgres
def test_on_postgres_the_command_rotates_and_refuses_beside_a_running_bot(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    async def seeded() -> tuple[str, str, list[str]]:
        db = await fresh_postgres("rotate_cli")
        try:
            return db.url, str(db.schema), await seed(db, keys(old), 3)
        finally:
            await db.close()

    dsn, schema, ids = asyncio.run(seeded())
    url = f"{dsn}&search_path={schema}"
    env = {**bot_env, "DATABASE_URL": url, "DELIVERY_ENCRYPTION_KEY": f"{new},{old}"}
    env.pop("DATABASE_PATH")

    async def beside_a_running_bot() -> str:
        # What `run` holds for its whole life: the gateway lock of this shop's schema.
        holder = await asyncpg.connect(url)
        try:
            assert await holder.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", GATEWAY_LOCK
            )
            busy = await asyncio.to_thread(run_bot, ["rotate-key"], env, tmp_path)
            assert busy.returncode == 2 and "Traceback" not in busy.stderr
            return busy.stderr
        finally:
            await holder.close()

    assert "rotate-key refused: another orderbot run" in asyncio.run(beside_a_running_bot())
    done = run_bot(["rotate-key"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 order(s)" in done.stdout and "can be removed" in done.stdout
    assert new not in done.stdout + done.stderr and old not in done.stdout + done.stderr
    assert url not in done.stdout + done.stderr

    async def readable() -> bool:
        from storage.postgres import open_postgres

        db = await open_postgres(dsn, schema=schema)
        try:
            return await readable_with(db, keys(new), ids)
        finally:
            await db.close()

    assert asyncio.run(readable())
