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
    unreadable: list[str] = field(default_factory=list)  # order ids no key decrypts


async def rotate_key(
    db: Database,
    cipher: DeliveryCipher,
    *,
    batch: int = BATCH,
    after_batch: Callable[[str], None] | None = None,
) -> RotationReport:
    """Re-encrypt with the first key. `after_batch(order_id)` runs after each committed
    batch (for progress output; a test uses it to interrupt a run)."""
    report = RotationReport()
    saved = await shop_state.get_value(db, PROGRESS_KEY)
    fingerprint, _, last = (saved or "").partition(":")
    # "done", or a position from another key: start from the first order.
    resuming = fingerprint == cipher.primary_fingerprint and last not in ("", "done")
    position = last if resuming else ""
    report.resumed_after = position
    while True:
        rows = await db.fetch_all(
            f"SELECT id, {', '.join(COLUMNS)} FROM orders WHERE id > ?"  # noqa: S608 - fixed column names
            " ORDER BY id LIMIT ?",
            (position, batch),
        )
        if not rows:
            break
        async with db.transaction() as conn:
            for row in rows:
                updates: dict[str, bytes] = {}
                for column in COLUMNS:
                    token = row[column]
                    if token is None:
                        continue
                    try:
                        updates[column] = cipher.rotate(bytes(token))
                    except DecryptionError:
                        report.unreadable.append(str(row["id"]))
                        break
                if updates:
                    assignments = ", ".join(f"{c} = ?" for c in updates)
                    await conn.execute(
                        f"UPDATE orders SET {assignments} WHERE id = ?",  # noqa: S608 - fixed column names
                        (*updates.values(), row["id"]),
                    )
                    report.rows += 1
            position = str(rows[-1]["id"])
            await shop_state.set_value_in(
                conn, PROGRESS_KEY, f"{cipher.primary_fingerprint}:{position}"
            )
        if after_batch is not None:
            after_batch(position)
    await shop_state.set_value(db, PROGRESS_KEY, f"{cipher.primary_fingerprint}:done")
    return report
