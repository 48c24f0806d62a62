"""`python -m bot rotate-key`: re-encrypt every stored secret with the first key of
DELIVERY_ENCRYPTION_KEY, so the old keys can then be removed.

Rotating a key in place: put the new key first and keep the old ones after it (the
first encrypts, all decrypt), run this, then remove the old keys. It goes through the
orders in batches, one transaction each, and records how far it got (tied to the first
key's fingerprint) after every batch: an interrupted run resumes where it stopped, and a
later rotation to yet another key starts over.
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
    resumed_after: int = 0  # the rowid a previous, interrupted run had reached
    unreadable: list[str] = field(default_factory=list)  # order ids no key decrypts


async def rotate_key(
    db: Database,
    cipher: DeliveryCipher,
    *,
    batch: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-encrypt with the first key. `after_batch(rowid)` runs after each committed
    batch (for progress output; a test uses it to interrupt a run)."""
    report = RotationReport()
    saved = await shop_state.get_value(db, PROGRESS_KEY)
    fingerprint, _, last = (saved or "").partition(":")
    position = int(last) if fingerprint == cipher.primary_fingerprint and last.isdigit() else 0
    report.resumed_after = position
    while True:
        rows = await db.fetch_all(
            f"SELECT rowid, id, {', '.join(COLUMNS)} FROM orders WHERE rowid > ?"  # noqa: S608 - fixed column names
            " ORDER BY rowid LIMIT ?",
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
                        updates[column] = cipher.rotate(token)
                    except DecryptionError:
                        report.unreadable.append(str(row["id"]))
                        break
                if updates:
                    assignments = ", ".join(f"{c} = ?" for c in updates)
                    await conn.execute(
                        f"UPDATE orders SET {assignments} WHERE rowid = ?",  # noqa: S608 - fixed column names
                        (*updates.values(), row["rowid"]),
                    )
                    report.rows += 1
            position = int(rows[-1]["rowid"])
            await shop_state.set_value_in(
                conn, PROGRESS_KEY, f"{cipher.primary_fingerprint}:{position}"
            )
        if after_batch is not None:
            after_batch(position)
    await shop_state.set_value(db, PROGRESS_KEY, f"{cipher.primary_fingerprint}:done")
    return report
