"""One provider's trouble holds only that provider: the bot's own poll schedule (one job per
provider, bot/app.py) with the real APScheduler, the real poller and the real sandboxes,
on a fake clock. Throughput is counted in polls per simulated interval, never in seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from bot.app import OrderBot
from bot.config import Settings
from bot.providers.registry import ProviderRegistry, build_adapter
from bot.services.poller import CircuitState, Poller, PollerSettings
from core.crypto import DeliveryCipher
from core.domain import OrderStatus
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from storage import notifications as outbox
from storage import orders as repo
from storage.database import Database
from tests.bot.helpers import track
from tests.support import PROVIDERS, REPO_ROOT, FakeClock

# The shop's reply never comes while the test runs: the sandbox holds it, and the bot would
# wait this long for it, so its poll is in flight from the moment it hangs to the end.
FOREVER = 3600.0
# Far more than any wait between two polls of a pending order (poll_pending_cap plus
# jitter): one step of the fake clock makes every open order due once.
INTERVAL = 200.0


def gets(cluster: SandboxCluster, name: str) -> int:
    return len([r for r in cluster.state(name).requests if r.method == "GET"])


async def wait_until(check: Callable[[], Awaitable[bool]], failure: Callable[[], str]) -> None:
    """The scheduler runs the jobs in real time: re-read the state until `check` holds.
    The 10 s only bound how long a failure takes (a pass takes a few of the 0.05 s runs)."""
    deadline = time.monotonic() + 10
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        await asyncio.sleep(0.01)


def scheduled_bot(cluster: SandboxCluster, fernet_key: str, poller: Poller) -> OrderBot:
    """The bot's own schedule (`bot.jobs.schedule`) around `poller`, with only its poll jobs
    kept: no Discord, no other job."""
    urls = {name: cluster.base_url(name) for name in PROVIDERS}
    keys = {name: SecretStr(cluster.api_key(name)) for name in PROVIDERS}
    settings = Settings(
        _env_file=None,
        discord_token=SecretStr("not-used"),
        guild_id=1,
        staff_role_id=2,
        staff_channel_id=3,
        notice_channel_id=4,
        delivery_encryption_key=SecretStr(fernet_key),
        catalog_path=REPO_ROOT / "catalog.toml",
        boost_api_base_url=urls["boost"],
        boost_api_key=keys["boost"],
        checkout_api_base_url=urls["checkout"],
        checkout_api_key=keys["checkout"],
        namefi_api_base_url=urls["namefi"],
        namefi_api_token=keys["namefi"],
        digital_shop_api_base_url=urls["digital_shop"],
        digital_shop_api_key=keys["digital_shop"],
        poll_interval_seconds=0.05,
    )
    bot = OrderBot(settings)
    bot.poller = poller

    async def idle() -> None:
        return None

    unused: Any = SimpleNamespace(
        send_due=idle,
        post_pending=idle,
        alert_stuck_orders=idle,
        reconciler=SimpleNamespace(reconcile_stale=idle),
    )
    bot.notifier = bot.staff_log = bot.watchdog = unused
    bot.jobs.schedule()
    for job in bot.jobs.scheduler.get_jobs():
        if not job.id.startswith("poll"):
            job.remove()
    return bot


async def test_a_hanging_provider_holds_only_its_own_poll_job(
    db: Database,
    cipher: DeliveryCipher,
    fernet_key: str,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    shop, namefi = cluster.state("digital_shop"), cluster.state("namefi")
    shop.hang_seconds = FOREVER
    registry = ProviderRegistry(
        {
            name: build_adapter(
                name,
                cluster.base_url(name),
                SecretStr(cluster.api_key(name)),
                timeout=FOREVER if name == "digital_shop" else 1.0,
                max_connections=8,
            )
            for name in ("namefi", "digital_shop")
        }
    )
    poller = Poller(
        db, cipher, registry, settings=PollerSettings(rate_per_second=1000), clock=clock
    )
    stuck = await track(db, cipher, "digital_shop", shop.create_order(), clock.now)
    for _ in range(3):
        await track(db, cipher, "namefi", namefi.create_order(), clock.now)
    shop.add_fault(Fault("hang", method="GET", count=-1))

    async def namefi_polled(total: int) -> bool:
        """Namefi got `total` GETs, and the run that sent them has recorded them (its
        orders are no longer leased), so the next step of the clock finds them due."""
        if gets(cluster, "namefi") < total:
            return False
        row = await db.fetch_one(
            "SELECT COUNT(*) FROM orders WHERE provider = 'namefi' AND poll_lease_until IS NOT NULL"
        )
        return row is not None and row[0] == 0

    async def first_runs_done() -> bool:
        return gets(cluster, "digital_shop") == 1 and await namefi_polled(3)

    async def namefi_interval(total: int, interval: int) -> None:
        await wait_until(
            lambda: namefi_polled(total),
            lambda: (
                f"Namefi GETs after {interval} simulated interval(s) beside a hanging"
                f" provider: {gets(cluster, 'namefi')}, wanted {total}"
            ),
        )

    bot = scheduled_bot(cluster, fernet_key, poller)
    bot.jobs.scheduler.start()
    try:
        # The first runs: the shop's poll hangs, Namefi's three orders are polled.
        await wait_until(
            first_runs_done,
            lambda: (
                f"first runs: shop {gets(cluster, 'digital_shop')}, namefi {gets(cluster, 'namefi')}"
            ),
        )
        # Each simulated interval, every Namefi order is polled once more, while the shop's
        # poll still hangs. With one poll job for all providers, its run waits for the shop
        # and no interval after the first gets a single Namefi poll.
        for interval in range(1, 4):
            clock.advance(INTERVAL)
            await namefi_interval(3 * (interval + 1), interval)
        assert gets(cluster, "namefi") == 12  # once per order per interval, never more
        # The shop's one poll was in flight all along: asked once, never answered (nothing
        # recorded for its order), and its order still leased to that run.
        assert gets(cluster, "digital_shop") == 1
        order = await repo.get_order(db, stuck)
        assert order is not None and order.poll_count == 0
        assert (
            await repo.claim_due_orders(
                db, provider="digital_shop", now=clock.now, lease_until=clock.now + 1, limit=10
            )
            == []
        )
    finally:
        bot.jobs.scheduler.shutdown(wait=False)
        hanging = list(bot.jobs.running)
        for task in hanging:
            task.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)
        await registry.aclose()


async def test_an_open_circuit_holds_only_its_own_provider(
    db: Database,
    cipher: DeliveryCipher,
    adapters: ProviderRegistry,
    cluster: SandboxCluster,
    clock: FakeClock,
) -> None:
    broken, healthy = cluster.state("namefi"), cluster.state("digital_shop")
    for _ in range(2):
        await track(db, cipher, "namefi", broken.create_order(), clock.now)
    broken.add_fault(Fault("server_error", count=-1))
    poller = Poller(
        db,
        cipher,
        adapters,
        settings=PollerSettings(rate_per_second=1000, breaker_threshold=2, breaker_cooldown=30),
        clock=clock,
    )
    await poller.poll_due_orders()
    namefi = poller.gates["namefi"].health
    assert namefi.circuit is CircuitState.OPEN
    open_until, asked = namefi.open_until, gets(cluster, "namefi")
    # An order of another provider, linked while the circuit is open, is polled on its own
    # schedule, pending then completed, all within the cooldown.
    remote = healthy.create_order(
        timeline=[
            {"after": 0, "status": "PENDING"},
            {"after": 10, "status": "COMPLETED", "deliveryData": "u:p"},
        ]
    )
    oid = await track(db, cipher, "digital_shop", remote, clock.now)
    await poller.poll_due_orders()
    pending = await repo.get_order(db, oid)
    assert pending is not None and pending.poll_count == 1 and not pending.status.is_terminal
    clock.advance(20)
    await poller.poll_due_orders()
    done = await repo.get_order(db, oid)
    assert done is not None and done.status is OrderStatus.COMPLETED
    assert [n.kind for n in await outbox.list_notifications(db, oid)] == ["final"]
    # Namefi's circuit stayed open all along, and not one request went through it.
    assert clock.now < open_until
    assert namefi.circuit is CircuitState.OPEN and namefi.open_until == open_until
    assert gets(cluster, "namefi") == asked
