"""`python -m bot rotate-key`: rows written under an old key read correctly after the old
key is removed, an interrupted run resumes, and it refuses to run beside a bot."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from core.crypto import DecryptionError, DeliveryCipher
from core.domain import Delivery, OrderStatus
from storage import lock as database_lock
from storage import orders as repo
from storage.database import open_database
from storage.key_rotation import rotate_key
from tests.bot.helpers import run_bot
from tests.storage.factories import new_order

CONTACT = {"phone_number": "+919876543210", "name": "Asha"}


async def seed(path: Path, cipher: DeliveryCipher, count: int) -> list[str]:
    db = await open_database(path)
    try:
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
    finally:
        await db.close()


async def readable_with(path: Path, cipher: DeliveryCipher, ids: list[str]) -> bool:
    db = await open_database(path)
    try:
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
    finally:
        await db.close()


def keys(*parts: str) -> DeliveryCipher:
    return DeliveryCipher(SecretStr(",".join(parts)))


async def test_rows_under_the_old_key_read_after_it_is_removed(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = tmp_path / "bot.sqlite3"
    ids = await seed(path, keys(old), 5)
    assert not await readable_with(path, keys(new), ids)  # the new key alone can't, yet
    db = await open_database(path)
    try:
        report = await rotate_key(db, keys(new, old))
    finally:
        await db.close()
    assert report.rows == 5 and report.unreadable == []
    assert await readable_with(path, keys(new), ids)


async def test_an_interrupted_rotation_resumes(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = tmp_path / "bot.sqlite3"
    ids = await seed(path, keys(old), 5)

    def stop_after_first_batch(_: int) -> None:
        raise KeyboardInterrupt  # the operator pressed Ctrl-C (or the machine went down)

    db = await open_database(path)
    try:
        with pytest.raises(KeyboardInterrupt):
            await rotate_key(db, keys(new, old), batch=2, after_batch=stop_after_first_batch)
        report = await rotate_key(db, keys(new, old), batch=2)
    finally:
        await db.close()
    assert report.resumed_after > 0 and report.rows == 3  # only what was left
    assert await readable_with(path, keys(new), ids)


@pytest.mark.subprocess
def test_the_command_rotates_and_refuses_beside_a_running_bot(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    import asyncio

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = Path(bot_env["DATABASE_PATH"])
    ids = asyncio.run(seed(path, keys(old), 3))
    env = {**bot_env, "DELIVERY_ENCRYPTION_KEY": f"{new},{old}"}
    with database_lock.exclusive(path):  # a bot is running on it
        busy = run_bot(["rotate-key"], env, tmp_path)
    assert busy.returncode == 2 and "in use by process" in busy.stderr
    done = run_bot(["rotate-key"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 order(s)" in done.stdout and "can be removed" in done.stdout
    assert new not in done.stdout + done.stderr and old not in done.stdout + done.stderr
    assert asyncio.run(readable_with(path, keys(new), ids))
