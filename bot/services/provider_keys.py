"""Whether each provider accepts our API key, and what follows from it.

A wrong or revoked key used to be found by the first buyer who paid. Now:
* at start-up (and by `check-config --online`) each provider that has a documented read
  endpoint is asked about an order that can't exist: 404 means the key got past
  authentication, 401/403 that it was refused. Nothing is created; an API with no read
  endpoint (the checkout API) is never sent anything to check it;
* every poll and every order says the same thing in passing: a success means accepted, a
  401/403 refused;
* a refused key closes that provider's products to buyers (`/boost`, `/buy` and Confirm
  answer "can't be ordered right now", and nothing is charged) until a check, a poll or
  an order shows the key works. Refused keys are asked again on a schedule, so a key the
  provider reinstates reopens the products without a restart.

The state lives in `provider_health` (storage), so /admin providers shows it and a
restarted bot remembers it. Staff hear of each change once, not once per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.catalog import Catalog
from bot.providers.models import KeyCheck, KeyState
from bot.providers.registry import ProviderRegistry
from core import alerts
from storage import provider_health, staff_alerts
from storage.database import Database

log = logging.getLogger(__name__)

# How long one key check may take: a provider that hangs must not hold up start-up.
KEY_CHECK_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    """One provider's line in the self-check."""

    provider: str
    check: KeyCheck
    setting: str
    base_url: str

    @property
    def refused(self) -> bool:
        return self.check.state is KeyState.REFUSED

    @property
    def inconclusive(self) -> bool:
        """It didn't answer, asked us to wait, or answered garbage: a warning."""
        return self.check.state is None and not self.check.uncheckable

    @property
    def line(self) -> str:
        if self.refused:
            return (
                f"{self.provider} refused {self.setting} ({self.check.detail}): copy the key "
                f"again from your {self.provider} account and set {self.setting}. Until it "
                "works, the bot keeps this provider's products closed to buyers."
            )
        if self.inconclusive:
            return (
                f"{self.provider} at {self.base_url}: {self.check.detail}. The key wasn't "
                f"checked; orders for it wait and are retried. Check "
                f"{self.provider.upper()}_API_BASE_URL and that the service is up."
            )
        if self.check.uncheckable:
            return f"{self.provider}: {self.setting} not checked: {self.check.detail}."
        return f"{self.provider}: {self.setting} accepted."


async def check_keys(
    providers: ProviderRegistry, *, skip: frozenset[str] = frozenset()
) -> list[ProviderCheck]:
    """Every configured provider's key, checked concurrently (one that hangs doesn't slow
    the others). Providers in `skip` asked us to hold off and are not asked."""

    async def one(name: str) -> ProviderCheck:
        adapter = providers.get(name)
        assert adapter is not None
        if name in skip:
            check = KeyCheck(None, "holding off (it asked us to wait); not asked")
        else:
            check = await adapter.check_key(within=KEY_CHECK_TIMEOUT)
        return ProviderCheck(name, check, adapter.key_setting, adapter.base_url)

    return list(await asyncio.gather(*(one(n) for n in providers.names())))


class ProviderKeys:
    """The bot's record of each provider's key, and the alerts when it changes."""

    def __init__(
        self,
        db: Database,
        providers: ProviderRegistry,
        catalog: Catalog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.providers = providers
        self.catalog = catalog
        self.clock = clock

    def _products(self, provider: str) -> list[str]:
        return [p.name for p in self.catalog.enabled() if p.provider == provider]

    def _setting(self, provider: str) -> str:
        adapter = self.providers.get(provider)
        return adapter.key_setting if adapter is not None else f"{provider.upper()}_API_KEY"

    async def is_refused(self, provider: str) -> bool:
        return await provider_health.key_state(self.db, provider) == KeyState.REFUSED

    def _checkable(self, provider: str) -> bool:
        adapter = self.providers.get(provider)
        return adapter is not None and adapter.key_check_path() is not None

    async def refused(self, provider: str, detail: str, *, asked_at: float) -> None:
        """A 401/403 to a request sent at `asked_at`: the provider's products close, and
        staff hear of it once."""
        before = await provider_health.set_key_state(
            self.db, provider, KeyState.REFUSED, detail, asked_at=asked_at
        )
        if before is None:
            return
        log.warning("%s refused our API key (%s); its products are closed", provider, detail)
        await staff_alerts.raise_alert(
            self.db,
            alerts.provider_key_refused(
                provider,
                detail,
                setting=self._setting(provider),
                products=self._products(provider),
                checked_again=self._checkable(provider),
                now=self.clock(),
            ),
        )

    async def accepted(
        self, provider: str, detail: str = "key accepted", *, asked_at: float
    ) -> None:
        """A request sent at `asked_at` got past authentication. Cheap when nothing
        changes (one read), so the poller and the submitter call it after every success."""
        if await provider_health.key_state(self.db, provider) == KeyState.ACCEPTED:
            return
        before = await provider_health.set_key_state(
            self.db, provider, KeyState.ACCEPTED, detail, asked_at=asked_at
        )
        if before == KeyState.REFUSED:
            log.warning("%s accepts our API key again; its products are open", provider)
            await staff_alerts.raise_alert(
                self.db,
                alerts.provider_key_accepted(
                    provider, products=self._products(provider), now=self.clock()
                ),
            )

    async def record(self, result: ProviderCheck, *, asked_at: float) -> None:
        """What a check sent at `asked_at` found. An inconclusive check changes nothing.
        An API that can't be checked starts unchecked again at start-up: its key may have
        been fixed since it was refused, and only an order can tell (staff are told that
        its products are open again)."""
        state = result.check.state
        if state is KeyState.REFUSED:
            await self.refused(result.provider, result.check.detail, asked_at=asked_at)
        elif state is KeyState.ACCEPTED:
            await self.accepted(result.provider, result.check.detail, asked_at=asked_at)
        elif result.check.uncheckable:
            before = await provider_health.set_key_state(
                self.db, result.provider, KeyState.UNCHECKED, None, asked_at=asked_at
            )
            if before == KeyState.REFUSED:
                log.warning(
                    "%s refused our key before the restart; its products are open again and "
                    "the next order checks the key",
                    result.provider,
                )
                await staff_alerts.raise_alert(
                    self.db,
                    alerts.provider_key_unchecked(
                        result.provider,
                        setting=self._setting(result.provider),
                        products=self._products(result.provider),
                        now=self.clock(),
                    ),
                )

    async def check_refused_again(self) -> int:
        """The scheduled job: ask each provider whose key was refused again (where its API
        can be asked). Returns how many now accept it."""
        refused = await provider_health.refused_keys(self.db)
        holds = await provider_health.load_all(self.db)
        now = self.clock()
        names = [
            name
            for name in refused
            if (adapter := self.providers.get(name)) is not None
            and self._checkable(name)
            # It asked us to wait, or its circuit is open: its own probe decides first.
            and holds[name].hold_until <= now
            and not (holds[name].circuit != "closed" and holds[name].open_until > now)
        ]
        reopened = 0
        for name in names:
            adapter = self.providers.get(name)
            assert adapter is not None
            try:
                asked_at = self.clock()
                check = await adapter.check_key(within=KEY_CHECK_TIMEOUT)
                if check.state is KeyState.ACCEPTED:
                    reopened += 1
                await self.record(
                    ProviderCheck(name, check, adapter.key_setting, adapter.base_url),
                    asked_at=asked_at,
                )
            except Exception:
                log.exception("checking %s's key again failed", name)
        return reopened
