"""Issue 25: what the bot records about each provider's key, against the real sandboxes and
a real SQLite file: refusals close, answers past authentication reopen, and an answer to
an older request never undoes a newer one."""

from __future__ import annotations

from bot.catalog import load_catalog
from bot.providers.models import KeyCheck, KeyState
from bot.providers.registry import ProviderRegistry
from bot.services.poller import Poller, PollerSettings
from bot.services.provider_keys import ProviderCheck, ProviderKeys
from core.crypto import DeliveryCipher
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import orders as repo
from storage import provider_health, staff_alerts
from storage.database import Database
from tests.bot.helpers import track
from tests.support import REPO_ROOT, FakeClock


def keys_for(db: Database, adapters: ProviderRegistry, clock: FakeClock) -> ProviderKeys:
    return ProviderKeys(db, adapters, load_catalog(REPO_ROOT / "catalog.toml"), clock=clock)


async def key_alerts(db: Database) -> list[str]:
    return [a.message for a in await staff_alerts.unposted_alerts(db) if "API key" in a.message]


async def test_a_batch_with_one_refusal_closes_and_its_successes_dont_reopen(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    shop = cluster.state("digital_shop")
    for _ in range(4):
        await track(db, cipher, "digital_shop", shop.create_order(), 0)
    keys = keys_for(db, adapters, clock)
    poller = Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(concurrency=1, rate_per_second=1000, breaker_threshold=10),
        clock=clock,
        keys=keys,
    )
    shop.add_fault(Fault("auth", count=1))  # the first poll of four is refused
    assert await poller.poll_provider("digital_shop") == 4
    assert shop.faults == []  # the refusal happened
    assert await provider_health.key_state(db, "digital_shop") == "refused"
    (alert,) = await key_alerts(db)
    assert "digital_shop refused our API key" in alert and "DIGITAL_SHOP_API_KEY" in alert

    # The next batch is answered throughout: the key works again, and staff hear it once.
    clock.advance(600)
    await repo.postpone_provider_polls(db, "digital_shop", clock.now)
    assert await poller.poll_provider("digital_shop") == 4
    assert await provider_health.key_state(db, "digital_shop") == "accepted"
    alerts = await key_alerts(db)
    assert len(alerts) == 2 and "digital_shop accepts our API key again" in alerts[1]


async def test_an_answer_to_an_older_request_never_undoes_a_newer_one(
    db: Database, adapters: ProviderRegistry, clock: FakeClock
) -> None:
    keys = keys_for(db, adapters, clock)
    await keys.refused("boost", "HTTP 401", asked_at=2000)
    # A create sent before the refusal came back slowly, answered: still closed.
    await keys.accepted("boost", "an order was answered", asked_at=1999)
    assert await keys.is_refused("boost")
    await keys.accepted("boost", "a check", asked_at=2001)
    assert not await keys.is_refused("boost")
    # And the other way round: an old refusal doesn't close what a newer answer opened.
    await keys.refused("boost", "HTTP 401", asked_at=1500)
    assert not await keys.is_refused("boost")
    alerts = await key_alerts(db)
    assert len(alerts) == 2, alerts  # one closing, one reopening
    assert "Server Boost (1 month)" in alerts[0] and "every few minutes" in alerts[0]


async def test_a_refused_checkout_key_reopens_at_restart_and_staff_are_told(
    db: Database, adapters: ProviderRegistry, clock: FakeClock
) -> None:
    keys = keys_for(db, adapters, clock)
    await keys.refused("checkout", "HTTP 401", asked_at=1000)
    (closed,) = await key_alerts(db)
    # Its API can't be asked: no "asked again every few minutes" that would never happen.
    assert "every few minutes" not in closed and "until the restart" in closed
    uncheckable = KeyCheck(None, "no read endpoint", uncheckable=True)
    await keys.record(
        ProviderCheck("checkout", uncheckable, "CHECKOUT_API_KEY", "http://x"), asked_at=2000
    )
    assert await provider_health.key_state(db, "checkout") == KeyState.UNCHECKED
    reopened = (await key_alerts(db))[1]
    assert "open to buyers again" in reopened and "the next order checks CHECKOUT_API_KEY" in (
        reopened
    )
    # A restart with nothing refused says nothing.
    await keys.record(
        ProviderCheck("checkout", uncheckable, "CHECKOUT_API_KEY", "http://x"), asked_at=3000
    )
    assert len(await key_alerts(db)) == 2
