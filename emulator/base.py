"""What every part of the emulator shares: the base class its parts build on.

:class:`EmulatorBase` owns the change notification every ``wait_for_*`` sleeps on
(``_notify``, ``_wait``), background tasks, acknowledgement (a message or modal becomes
clickable only once the bot has read the response that created it), the contract-violation
log, the visibility check every driven user passes, and the file store (attachments of
messages and of command options alike). The state it declares is set by
:class:`emulator.server.Emulator`.
"""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .rest_base import PENDING_ACK
from .util import Snowflakes, as_int
from .world import VIEW_CHANNEL, World

if TYPE_CHECKING:
    from .contract import ContractChecker, ContractViolation
    from .gateway import Gateway

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """A file the emulator holds: a message attachment or a command option's upload."""

    id: int
    filename: str
    content_type: str
    data: bytes


class EmulatorBase:
    """Shared state and plumbing of :class:`emulator.server.Emulator`."""

    # Set by Emulator.__init__.
    world: World
    contract: ContractChecker
    validate_contract: bool
    gateway: Gateway
    #: How long after the bot got a message a driven user can click it at the earliest.
    reaction_time: float
    base_url: str
    contract_violations: list[ContractViolation]
    unhandled: list[str]
    files: dict[int, StoredFile]
    _ids: Snowflakes
    _changed: asyncio.Event | None
    changes: int
    _tasks: set[asyncio.Task[Any]]
    # Messages and interaction answers whose HTTP response is not yet written: no user can
    # see them yet, so no user can click them (see ``acknowledge``).
    _unacknowledged: set[tuple[str, int]]
    _acknowledged_at: dict[tuple[str, int], float]

    # -- change notification and waiting --------------------------------------------------

    def _notify(self) -> None:
        # Counted for whoever redraws on change (the playground page's event stream).
        self.changes += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def diagnostics(self) -> str:
        parts = []
        if self.contract_violations:
            parts.append(f"contract violations: {[str(v) for v in self.contract_violations[-5:]]}")
        if self.unhandled:
            parts.append(f"unhandled routes: {self.unhandled[-5:]}")
        if not self.gateway.connected_sessions():
            parts.append("no bot is connected to the gateway")
        return "; ".join(parts)

    async def _wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                extra = self.diagnostics()
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}"
                    + (f" ({extra})" if extra else "")
                )
            if self._changed is None:
                self._changed = asyncio.Event()
            event = self._changed
            # Re-check at least every 50 ms: a predicate may look at state outside the
            # emulator (the bot's cache), which does not notify.
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_for_bot(self, timeout: float = 10.0) -> None:
        """Until a bot session is identified and connected to the gateway."""
        await self._wait(
            lambda: True if self.gateway.connected_sessions() else None,
            timeout,
            "a bot to connect to the gateway",
        )

    # -- acknowledgement ------------------------------------------------------------------

    def hold_until_acknowledged(self, kind: str, ident: int) -> None:
        """Hide what the current request created from users until its response is written.

        On Discord a user sees a message (or a modal) only after it exists, and the bot has
        its answer well before a human can click. Here the driver runs in the same event loop
        as the REST handler, so without this a test could click a component before the bot
        has read the response that registers its view, and the click would be dropped.
        """
        pending = PENDING_ACK.get()
        if pending is not None:
            pending.append((kind, ident))
            self._unacknowledged.add((kind, ident))

    def acknowledge(self, items: Sequence[tuple[str, int]]) -> None:
        now = time.monotonic()
        for item in items:
            self._unacknowledged.discard(item)
            self._acknowledged_at[item] = now
        # Only the last moments matter (see _wait_acknowledged); keep the map small.
        stale = [k for k, t in self._acknowledged_at.items() if now - t > 1.0]
        for key in stale:
            del self._acknowledged_at[key]
        if items:
            self._notify()

    async def _wait_acknowledged(self, kind: str, ident: int, timeout: float) -> None:
        key = (kind, ident)
        if key in self._unacknowledged:
            await self._wait(
                lambda: True if key not in self._unacknowledged else None,
                timeout,
                f"the bot to receive the response that created {kind} {ident}",
            )
        # The response is written; give the bot's loop a moment to read it, as a human's
        # reaction time always does on Discord.
        acked = self._acknowledged_at.get(key)
        if acked is not None:
            wait = acked + self.reaction_time - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    # -- contract -------------------------------------------------------------------------

    def record_violation(self, violation: ContractViolation) -> None:
        self.contract_violations.append(violation)
        log.error("contract violation: %s", violation)
        self._notify()

    def assert_no_contract_violations(self) -> None:
        if self.contract_violations:
            lines = "\n".join(f"  {v}" for v in self.contract_violations)
            raise AssertionError(f"the bot sent requests Discord would reject:\n{lines}")

    # -- what a user can see ---------------------------------------------------------------

    def _check_can_see(self, user_id: int, channel_id: int) -> None:
        """Nobody can type in, or click in, a guild channel they can't see."""
        channel = self.world.channels[channel_id]
        if channel.guild_id is None:
            return
        if not self.world.channel_permissions(user_id, channel_id) & VIEW_CHANNEL:
            raise PermissionError(f"user {user_id} cannot see channel {channel_id}")

    # -- stored files ---------------------------------------------------------------------

    def attachment_bytes(self, attachment: int | str | Mapping[str, Any]) -> bytes:
        return self.files[as_int(attachment)].data

    def _store_file(self, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
        aid = self._ids.next()
        self.files[aid] = StoredFile(aid, filename, content_type, data)
        url = f"{self.base_url}/_emulator/attachments/{aid}/{filename}"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
