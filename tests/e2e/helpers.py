"""Small readers for end-to-end assertions: the bot's SQLite file and emulator messages."""

from __future__ import annotations

import sqlite3
from typing import Any

from demo.stack import LocalStack

EPHEMERAL = 64


def db_rows(stack: LocalStack, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Read the bot's real database file (WAL readers don't block the bot)."""
    with sqlite3.connect(f"file:{stack.database_path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))


def button_ids(message: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if "custom_id" in comp:
                ids.append(comp["custom_id"])
    return ids


def button(message: dict[str, Any], prefix: str) -> str:
    matches = [cid for cid in button_ids(message) if cid.startswith(prefix)]
    assert len(matches) == 1, (prefix, button_ids(message))
    return matches[0]


def embed_text(message: dict[str, Any]) -> str:
    parts: list[str] = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for field in embed.get("fields") or []:
            parts += [field.get("name") or "", field.get("value") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def requests_to(stack: LocalStack, provider: str, method: str = "POST") -> list[Any]:
    return [r for r in stack.sandbox.state(provider).requests if r.method == method]


async def wait_for_row(
    stack: LocalStack, sql: str, params: tuple[Any, ...], predicate: Any, within: float = 10.0
) -> sqlite3.Row:
    """The bot writes its bookkeeping just after the Discord call we observed; wait for it."""
    import asyncio
    import time

    deadline = time.monotonic() + within
    while True:
        rows = db_rows(stack, sql, params)
        if rows and predicate(rows[0]):
            return rows[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"row never matched: {[dict(r) for r in rows]}")
        await asyncio.sleep(0.05)
