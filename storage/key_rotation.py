"""`python -m bot rotate-key`: re-encrypt every stored secret with the first key of
DELIVERY_ENCRYPTION_KEY, so the old keys can then be removed.

Rotating a key in place: put the new key first and keep the old ones after it (the
first encrypts, all decrypt), run this, then remove the old keys. It goes through the
orders in batches (in order of their id, the primary key on both engines), one
transaction each, and records how far it got (tied to the first key's fingerprint) after
every batch: an interrupted run resumes where it stopped, and a later rotation to yet
another key starts over. Orders placed meanwhile are encrypted with the first key already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.crypto import DecryptionError, DeliveryCipher
from storage import shop_state
from storage.database import Database

COLUMNS = ("contact_enc", "delivery_enc", "request_enc")
BATCH = 200
PROGRESS_KEY = "key_rotation"


@dataclass
class RotationReport:
    rows: int = 0  # orders whose secrets were re-encrypted in this run
    resumed_after: str = ""  # the order id a previous, interrupted run had reached
    # Order ids (and `payment event N`) that no key decrypts.
    unreadable: list[str] = field(default_factory=list)
    events: int = 0  # stored payment webhook events re-encrypted (issue 28)


async def rotate_key(
    db: Database,
    cipher: DeliveryCipher,
    *,
    batch: int = BATCH,
    after_batch: Callable[[str], None] | None = None,
) -> RotationReport:
    """Re-encrypt with the first key: the orders' secrets, then the stored payment
    webhook events (they name the payer). `after_batch(position)` runs after each
    committed batch (for progress output; a test uses it to interrupt a run)."""
    report = RotationReport()
    for table in TABLES:
        await _rotate_table(db, cipher, table, report, batch=batch, after_batch=after_batch)
    return report


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    progress_key: str
    numeric_id: bool  # payment_events' ids are integers, orders' are text


TABLES = (
    _Table("orders", COLUMNS, PROGRESS_KEY, numeric_id=False),
    _Table("payment_events", ("body_enc",), PROGRESS_KEY + ":payment_events", numeric_id=True),
)


async def _rotate_table(
    db: Database,
    cipher: DeliveryCipher,
    table: _Table,
    report: RotationReport,
    *,
    batch: int,
    after_batch: Callable[[str], None] | None,
) -> None:
    saved = await shop_state.get_value(db, table.progress_key)
    fingerprint, _, last = (saved or "").partition(":")
    # "done", or a position from another key: start from the first row.
    resuming = fingerprint == cipher.primary_fingerprint and last not in ("", "done")
    start = last if resuming else ""
    if table.name == "orders":
        report.resumed_after = start
    position: str | int = (int(start) if start else 0) if table.numeric_id else start
    while True:
        rows = await db.fetch_all(
            f"SELECT id, {', '.join(table.columns)} FROM {table.name} WHERE id > ?"  # noqa: S608 - fixed names
            " ORDER BY id LIMIT ?",
            (position, batch),
        )
        if not rows:
            break
        async with db.transaction() as conn:
            for row in rows:
                updates: dict[str, bytes] = {}
                for column in table.columns:
                    token = row[column]
                    if token is None:
                        continue
                    try:
                        updates[column] = cipher.rotate(bytes(token))
                    except DecryptionError:
                        report.unreadable.append(
                            str(row["id"])
                            if table.name == "orders"
                            else f"payment event {row['id']}"
                        )
                        break
                if updates:
                    assignments = ", ".join(f"{c} = ?" for c in updates)
                    await conn.execute(
                        f"UPDATE {table.name} SET {assignments} WHERE id = ?",  # noqa: S608 - fixed names
                        (*updates.values(), row["id"]),
                    )
                    if table.name == "orders":
                        report.rows += 1
                    else:
                        report.events += 1
            position = rows[-1]["id"]
            await shop_state.set_value_in(
                conn, table.progress_key, f"{cipher.primary_fingerprint}:{position}"
            )
        if after_batch is not None:
            after_batch(str(position))
    await shop_state.set_value(db, table.progress_key, f"{cipher.primary_fingerprint}:done")
