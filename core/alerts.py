"""The catalogue of staff alerts: one builder per kind, each saying what staff should run.

Every alert the shop raises is built here, never inline where it is raised, so staff read
one voice and a reviewer reads every alert in one file. Builders are pure (text from
facts, no I/O), which is why they live in core: storage raises some of them inside its
own transactions (a partial refund, a status change's alert) and may not import `bot`.

Each builder returns a `core.kinds.Alert`; `storage.staff_alerts.raise_alert(_in)` records
it in the outbox, and `bot/services/staff_log.py` posts it.
"""

from __future__ import annotations

from typing import Protocol

from core.domain import Money
from core.kinds import Alert, AlertKind


class OrderFacts(Protocol):
    """What an alert may say about an order (storage's OrderRecord has all of it)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> int: ...
    @property
    def provider(self) -> str: ...
    @property
    def product_name(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def total(self) -> Money: ...
    @property
    def remote_id(self) -> str | None: ...


__all__ = ["Alert", "AlertKind", "OrderFacts"]

# --- submission, polling, notifying, providers (bot/services: submission, poller, ---------
# --- poll_answers, notifier, ordering, watchdog; bot/providers) ----------------------------

# --- staff actions, wallet, shop, payments (bot/services: staff_*, wallet, shop; storage) -
