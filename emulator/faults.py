"""Fault injection: the errors the emulator answers instead of doing (or after doing) the work.

:class:`Fault` is one injected failure: an error answer (``inject_error``), a 429 with
Discord's rate-limit headers and ``Retry-After`` (``inject_rate_limit``), or the work done
and then the answer lost: a 5xx, a delay, or a dropped connection (``inject_store_then_fail``).
:class:`FaultInjection` owns the queue; the REST middleware (``rest.py``) takes a matching
fault for every request and applies it.

Every ``inject_*`` method takes ``count``: how many matching requests the fault answers, or
``FOREVER`` (-1) for every one until ``clear_faults``. Any other count below 1 is refused, since
such a fault could never fire and a test relying on it would pass without testing anything.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

#: ``count=FOREVER``: the fault answers every matching request until ``clear_faults``.
FOREVER = -1


def _checked_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or (count < 1 and count != FOREVER):
        raise ValueError(
            f"count must be a positive integer, or {FOREVER} for forever; got {count!r}"
        )
    return count


@dataclasses.dataclass
class Fault:
    """An injected failure: the next ``remaining`` matching requests get this answer
    (every one when ``remaining`` is ``FOREVER``). ``hits`` counts the requests it answered:
    a test asserts it to prove the fault it set up actually happened."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int
    hits: int = 0
    #: Do the work first (store the message...), then answer with this fault instead.
    after_store: bool = False
    #: With ``after_store``: close the connection instead of answering.
    drop: bool = False
    #: With ``after_store``: wait this long before answering (or dropping).
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.remaining > 0 or self.remaining == FOREVER)
            and self.method in ("*", method)
            and self.pattern.search(path) is not None
        )


class FaultInjection:
    """The fault queue of :class:`emulator.server.Emulator` and the ``inject_*`` methods."""

    faults: list[Fault]

    def _init_faults(self) -> None:
        self.faults = []

    def inject_rate_limit(
        self,
        method: str,
        path_regex: str,
        retry_after: float,
        count: int = 1,
        global_: bool = False,
    ) -> Fault:
        """Answer the next ``count`` matching requests (``FOREVER``: all of them) with 429
        (path is relative to /api/v10)."""
        count = _checked_count(count)
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, round(retry_after + 0.499))),
            "X-RateLimit-Limit": "1",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "emulated-429",
            "X-RateLimit-Scope": "global" if global_ else "user",
            # discord.py treats a 429 without Via as a Cloudflare ban and raises at once.
            "Via": "1.1 google",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
            "code": 0,  # the spec's RatelimitedResponse: an Error, with its code
        }
        fault = Fault(method.upper(), re.compile(path_regex), 429, body, headers, count)
        self.faults.append(fault)
        return fault

    def inject_error(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: int = 0,
        message: str | None = None,
        count: int = 1,
    ) -> Fault:
        """Answer the next ``count`` matching requests (``FOREVER``: all of them) with
        ``status`` and ``{code, message}``."""
        count = _checked_count(count)
        body = {"code": code, "message": message or f"{status}: Emulated failure"}
        fault = Fault(method.upper(), re.compile(path_regex), status, body, {}, count)
        self.faults.append(fault)
        return fault

    def inject_store_then_fail(
        self,
        method: str,
        path_regex: str,
        status: int = 502,
        *,
        count: int = 1,
        drop: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """The next ``count`` matching requests (``FOREVER``: all of them) succeed on Discord's side (a message is stored,
        visible and dispatched) but the bot gets ``status`` back, or with ``drop=True`` a reset
        connection and no answer at all, after ``delay`` seconds.

        This is the fault behind duplicate DMs: discord.py re-sends on 500, 502, 504 and 524.
        """
        count = _checked_count(count)
        body = {"message": f"{status}: Emulated failure after the request was processed", "code": 0}
        fault = Fault(
            method.upper(),
            re.compile(path_regex),
            status,
            body,
            {},
            count,
            after_store=True,
            drop=drop,
            delay=delay,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                # A forever fault keeps its -1: counting it down would make it -2, then dead.
                if fault.remaining != FOREVER:
                    fault.remaining -= 1
                fault.hits += 1
                return fault
        return None
