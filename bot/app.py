"""The Bot subclass. `setup_hook` owns every long-lived resource: it creates them once,
injects them into services and cogs, and `close` releases them in reverse order."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any

import aiohttp
import asyncpg
import discord
from discord.ext import commands

from bot import product_names
from bot.catalog import Catalog, load_catalog
from bot.command_mentions import CommandMentions
from bot.command_translator import CatalogTranslator
from bot.config import Settings
from bot.jobs import JobSchedule
from bot.online_topups import OnlineTopups
from bot.providers.registry import ProviderRegistry, build_providers
from bot.self_check import SelfCheckFailed, discord_problems
from bot.services.languages import LanguageService
from bot.services.notifier import Notifier
from bot.services.order_queries import OrderQueries
from bot.services.ordering import OrderingService, ShopPolicy
from bot.services.poller import Poller, PollerSettings
from bot.services.process_health import ProcessHealth
from bot.services.provider_keys import check_keys
from bot.services.provider_status import ProviderReport, provider_reports
from bot.services.rate_limits import (
    SharedRateLimit,
    limit_discord_requests,
    share_provider_rates,
)
from bot.services.schedule import PollSchedule
from bot.services.shop import ShopService
from bot.services.staff_log import StaffLog
from bot.services.staff_orders import StaffOrders
from bot.services.staff_review import StaffReview
from bot.services.stats import StatsService
from bot.services.topup_queries import TopupQueries
from bot.services.wallet import WalletService
from bot.services.watchdog import StuckOrderWatch
from bot.tree import OrderTree
from core import i18n
from core.crypto import DeliveryCipher
from core.kinds import ProcessRole
from storage import orders as repo
from storage import provider_health, shop_state
from storage.database import Database, open_database
from storage.payments import BuyerLimits
from storage.postgres import PostgresDatabase, open_postgres
from storage.wakeups import WakeListener

log = logging.getLogger(__name__)

# Loaded in this order by setup_hook. One feature per cog file.
COGS: tuple[str, ...] = (
    "cogs.ordering",
    "cogs.orders",
    "cogs.wallet",
    "cogs.topups",
    "cogs.language",
    "cogs.admin",
)
# A worker answers no interactions: it only needs what shapes the messages it posts (the
# buttons on staff alerts, which the gateway answers).
WORKER_COGS: tuple[str, ...] = ("cogs.worker",)


class OrderBot(commands.Bot):
    def __init__(
        self, settings: Settings, *, role: ProcessRole = ProcessRole.ALL, **kwargs: Any
    ) -> None:
        # No privileged intents: interactions carry the member and roles we need,
        # and DMs are opened over REST.
        intents = discord.Intents.none()
        intents.guilds = True
        # The shop never joins a voice channel: discord.py's "PyNaCl / davey is not
        # installed, voice will NOT be supported" warnings are true and beside the point.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=OrderTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **kwargs,
        )
        self.settings = settings
        i18n.configure(default=settings.default_language, staff=settings.staff_language)
        self.cipher = DeliveryCipher(settings.delivery_encryption_key)
        self.catalog: Catalog = load_catalog(
            settings.catalog_path,
            settings.enabled_providers(),
            limit_currencies=settings.spend_limits,
        )
        product_names.register(self.catalog)
        self._db: Database | None = None
        self._providers: ProviderRegistry | None = None
        self._ordering: OrderingService | None = None
        self._order_queries: OrderQueries | None = None
        self._languages: LanguageService | None = None
        self._topup_queries: TopupQueries | None = None
        self._staff_orders: StaffOrders | None = None
        self._staff_review: StaffReview | None = None
        self._shop: ShopService | None = None
        self._stats: StatsService | None = None
        self._wallet: WalletService | None = None
        self.staff_log: StaffLog | None = None
        self.poller: Poller | None = None
        self.notifier: Notifier | None = None
        self.role = role
        self.process_health: ProcessHealth | None = None
        self.wakeups: WakeListener | None = None
        # Online top-ups, when a payment provider is configured (bot/online_topups.py).
        self.topups: OnlineTopups | None = None
        self.jobs = JobSchedule(self)
        # Strong references to background tasks we start, so they aren't garbage-collected.
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False
        # Set once the stop is complete: a worker (no gateway to wait on) waits for it.
        self.closed = asyncio.Event()
        self._close_task: asyncio.Task[None] | None = None

    # --- resources --------------------------------------------------------------------------

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("database is not open yet (setup_hook has not run)")
        return self._db

    @property
    def providers(self) -> ProviderRegistry:
        if self._providers is None:
            raise RuntimeError("providers are not ready yet (setup_hook has not run)")
        return self._providers

    @property
    def ordering(self) -> OrderingService:
        if self._ordering is None:
            raise RuntimeError("ordering service is not ready yet (setup_hook has not run)")
        return self._ordering

    @property
    def languages(self) -> LanguageService:
        if self._languages is None:
            raise RuntimeError("languages are not ready yet (setup_hook has not run)")
        return self._languages

    @property
    def order_queries(self) -> OrderQueries:
        if self._order_queries is None:
            raise RuntimeError("order queries are not ready yet (setup_hook has not run)")
        return self._order_queries

    @property
    def topup_queries(self) -> TopupQueries:
        if self._topup_queries is None:
            raise RuntimeError("top-up queries are not ready yet (setup_hook has not run)")
        return self._topup_queries

    @property
    def staff_orders(self) -> StaffOrders:
        if self._staff_orders is None:
            raise RuntimeError("staff service is not ready yet (setup_hook has not run)")
        return self._staff_orders

    @property
    def staff_review(self) -> StaffReview:
        if self._staff_review is None:
            raise RuntimeError("staff review is not ready yet (setup_hook has not run)")
        return self._staff_review

    @property
    def shop(self) -> ShopService:
        if self._shop is None:
            raise RuntimeError("shop service is not ready yet (setup_hook has not run)")
        return self._shop

    @property
    def stats(self) -> StatsService:
        if self._stats is None:
            raise RuntimeError("stats service is not ready yet (setup_hook has not run)")
        return self._stats

    @property
    def wallet(self) -> WalletService:
        if self._wallet is None:
            raise RuntimeError("wallet service is not ready yet (setup_hook has not run)")
        return self._wallet

    async def provider_health_report(self) -> list[ProviderReport]:
        return await provider_reports(self.db, self.providers)

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def setup_hook(self) -> None:
        # Logged in, not yet on the gateway: a guild, role, channel or permission that
        # isn't as the settings say stops here with one line each (bot.self_check).
        assert self.user is not None and self.application_id is not None
        problems = await discord_problems(
            self.http, self.settings, application_id=self.application_id, bot_id=self.user.id
        )
        if problems:
            raise SelfCheckFailed(problems)
        postgres = self.settings.postgres_url()
        if postgres is not None:
            self._db = await open_postgres(postgres)
            log.info("database ready on PostgreSQL")
        else:
            self._db = await open_database(self.settings.database_path)
            log.info("database ready at %s", self.settings.database_path)
        if self.db.shared:
            # Every process's REST requests to Discord share one rate (all of them count
            # against the bot's one global limit).
            limit_discord_requests(
                self.http,
                SharedRateLimit(self.db, "discord", self.settings.discord_rate_per_second),
            )
        self._providers = build_providers(self.settings)
        if self.db.shared:
            share_provider_rates(
                self.db, self.providers.all(), self.settings.provider_rate_per_second
            )
        self._ordering = OrderingService(
            self.db,
            self.cipher,
            self.catalog,
            self.providers,
            timings=self.settings.timings,
            policy=ShopPolicy(
                default_payment=self.settings.payment_mode,
                top_up_instructions=self.settings.top_up_instructions,
                limits=BuyerLimits(
                    max_open_orders=self.settings.max_open_orders,
                    daily_spend=self.settings.spend_limits,
                ),
            ),
        )
        self._order_queries = OrderQueries(self.db)
        self._languages = LanguageService(self.db)
        self._topup_queries = TopupQueries(self.db)
        self._wallet = WalletService(self.db)
        self._staff_orders = StaffOrders(self.db, self.cipher)
        self._staff_review = StaffReview(self.db, self.cipher, self.ordering)
        self._shop = ShopService(self.db)
        self._stats = StatsService(self.db)
        self.watchdog = StuckOrderWatch(self.db, self.settings.stuck_order_minutes)
        self.staff_log = StaffLog(
            self.db, self, self.settings.staff_channel_id, timings=self.settings.timings
        )
        settings = self.settings
        self.poller = Poller(
            self.db,
            self.cipher,
            self.providers,
            settings=PollerSettings(
                concurrency=settings.provider_concurrency,
                rate_per_second=settings.provider_rate_per_second,
                batch_size=settings.poll_batch_size,
                breaker_threshold=settings.breaker_threshold,
                breaker_cooldown=settings.breaker_cooldown_seconds,
                lease_seconds=settings.poll_lease_seconds,
                lease_margin=settings.timings.poll_lease_margin,
            ),
            schedule=PollSchedule.from_timings(settings.timings),
            keys=self.ordering.keys,
        )
        # A provider that asked us to hold off, or whose circuit was open, stays so.
        await self.poller.restore()
        self.notifier = Notifier(
            self.db,
            self.cipher,
            self,
            settings.notice_channel_id,
            timings=settings.timings,
        )
        self.process_health = ProcessHealth(
            self.db,
            self.role,
            clock=time.time,
            stall_after=settings.timings.process_stall_after,
            # A dead process's poll may still be answered for up to a call's deadline.
            takeover_grace=settings.provider_timeout_seconds,
        )
        await self.process_health.register()
        self.poller.owner = self.notifier.owner = self.process_health.process_id
        self.topups = await OnlineTopups.start(
            settings,
            self.db,
            self.cipher,
            owner=self.process_health.process_id,
            serve_webhooks=self.role.has_gateway,
            sold=[p.currency for p in self.catalog.all()],
        )
        if self.topups is not None:
            self.ordering.tops_up_online = self.topups.service.takes
        if self.role.runs_jobs:
            # On SQLite nothing is in flight in a process that just started: leases of a
            # killed predecessor are void, so its orders are polled again right away. (On
            # PostgreSQL another process may hold them: they expire instead.)
            released = await repo.release_all_leases(self.db)
            if released:
                log.info("released %d poll lease(s) left by the previous run", released)
        # Command names and descriptions in Hindi (core/locales), set before the cogs
        # add their commands and the tree is synced.
        await self.tree.set_translator(CatalogTranslator())
        for extension in COGS if self.role.has_gateway else WORKER_COGS:
            await self.load_extension(extension)
        if self.role.has_gateway:
            await self.sync_commands_if_changed()
        await self._learn_command_ids()
        if self.role.runs_jobs and isinstance(self.db, PostgresDatabase):
            # DMs owed and alerts raised wake their jobs at once (storage/wakeups.py).
            self.wakeups = WakeListener(self.db, self.jobs.wake)
            try:
                await self.wakeups.keep_listening()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("not listening for wake-ups yet (%s); jobs run on their intervals", exc)
        self.jobs.schedule()
        self.jobs.scheduler.start()
        log.info("%s process ready: its jobs are running", self.role.value)
        if self.role.runs_jobs:
            # Crash leftovers are resolved in the background so a slow provider can't
            # delay the bot coming online. Two independent tasks: Discord failing to show
            # a DM history must not keep an order from being re-sent, nor the reverse.
            # Both also run on the schedule, so whatever fails here is tried again.
            self.spawn(self._recover_notifications(), "startup-dm-reconciliation")
            self.spawn(self._recover_submissions(), "startup-submission-recovery")
            self.spawn(self._check_providers(), "startup-provider-check")

    async def _check_providers(self) -> None:
        """Each provider's key, asked once at start-up (bot/services/provider_keys.py). A
        refused key is a warning here, not a reason to stay closed: the log says so,
        `/admin providers` shows it, and that provider's products are closed to buyers
        until it works. A provider that doesn't answer is a warning too. Providers
        holding us off (a Retry-After still running) or whose circuit is open are not
        asked: the restarted bot honours both."""
        try:
            now = time.time()
            rows = await provider_health.load_all(self.db)
            held = frozenset(
                name
                for name, row in rows.items()
                if row.hold_until > now or (row.circuit != "closed" and row.open_until > now)
            )
            asked_at = time.time()
            for check in await check_keys(self.providers, skip=held):
                await self.ordering.keys.record(check, asked_at=asked_at)
                if check.refused or check.inconclusive:
                    log.warning("start-up check: %s", check.line)
                if check.inconclusive and check.provider not in held:
                    await provider_health.record_check_failure(
                        self.db, check.provider, f"start-up check: {check.check.detail}"
                    )
        except Exception:
            log.exception("the start-up provider check failed; polling goes on regardless")

    async def _recover_notifications(self) -> None:
        assert self.notifier is not None
        try:
            settled = await self.notifier.reconciler.reconcile_interrupted()
        except Exception:
            log.exception("startup DM reconciliation failed; the scheduled run will retry")
            return
        if settled:
            log.info("settled %d notification(s) interrupted by the previous run", settled)

    async def _recover_submissions(self) -> None:
        try:
            await self.ordering.recovery.recover_submitting(at_startup=True)
        except Exception:
            log.exception("startup submission recovery failed; the scheduled run will retry")

    def _in_flight(self) -> int:
        """Work that must not be cut: job runs, provider sends, DMs being sent."""
        sending = len(self._ordering.submitter._in_flight) if self._ordering else 0
        notifying = len(self.notifier._in_flight) if self.notifier else 0
        return len(self.jobs.running) + sending + notifying

    async def _drain(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        # Three independent sets, polled for at most `grace`: simpler than three events.
        while self._in_flight() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        left = self._in_flight()
        if left:
            # Cut off: whatever was mid-way is recovered at the next start (a re-send with
            # the same request, staff review, or a DM looked for in the history).
            log.warning("stopping with %d piece(s) of work still in flight", left)
        else:
            log.info("in-flight work finished; stopping")

    async def _learn_command_ids(self) -> None:
        """The guild's command ids, so alerts name commands as mentions (every process
        posts alerts; a worker asks Discord too). Without them alerts keep code spans."""
        if self.staff_log is None:
            return
        try:
            commands = await self.tree.fetch_commands(
                guild=discord.Object(id=self.settings.guild_id)
            )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("command ids unknown (%s); alerts name commands as text", exc)
            return
        self.staff_log.mentions = CommandMentions.from_commands(commands)

    async def sync_commands_if_changed(self) -> None:
        """Sync to the shop's guild only, and only when our commands differ from what
        Discord has (never globally, never blindly at every start: sync is rate-limited)."""
        guild = discord.Object(id=self.settings.guild_id)
        self.tree.copy_global_to(guild=guild)
        # The translated definitions: a changed Hindi name or description is a change.
        translator = self.tree.translator or CatalogTranslator()
        payload = [
            await c.get_translated_payload(self.tree, translator)
            for c in self.tree.get_commands(guild=guild)
        ]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"commands_hash:{self.settings.guild_id}"
        remote = await self.tree.fetch_commands(guild=guild)
        same_names = {c.name for c in remote} == {c["name"] for c in payload}
        if same_names and await shop_state.get_value(self.db, key) == digest:
            log.info("slash commands unchanged; not syncing")
            return
        synced = await self.tree.sync(guild=guild)
        await shop_state.set_value(self.db, key, digest)
        log.info("synced %d slash command(s) to guild %s", len(synced), self.settings.guild_id)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        # discord.py's close() lets go of the event loop (MISSING) while the gateway may
        # still hand over a last event: its handler would be a coroutine created and never
        # run. A closed bot takes no events, so it is dropped here.
        if self.loop is discord.utils.MISSING:
            return
        super().dispatch(event_name, *args, **kwargs)

    async def on_ready(self) -> None:
        log.info("ready as %s (%s)", self.user, self.user.id if self.user else "?")

    def spawn_close(self) -> None:
        """From a signal handler: start the graceful stop (once)."""
        self._start_closing()

    def _start_closing(self) -> asyncio.Task[None]:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close_once())
        return self._close_task

    async def close(self) -> None:
        """Stop gracefully, once: every caller (a signal, `async with` ending, discord.py
        itself) waits for the same stop to finish. Cut short, it would leave the database
        thread running, and the interpreter waits for that thread at exit."""
        await asyncio.shield(self._start_closing())

    async def _close_once(self) -> None:
        """Take no new work (the scheduler pauses), let what is in flight finish within
        the shutdown grace (job runs, provider sends, DMs), then disconnect and close the
        providers and the database."""
        if not self.closing:
            self.closing = True
            # Paused, not shut down yet: APScheduler's shutdown cancels the job runs in
            # progress, and those are what the grace is for.
            if self.jobs.scheduler.running:
                self.jobs.scheduler.pause()
            await self._drain(self.settings.timings.shutdown_grace)
        if self.jobs.scheduler.running:
            self.jobs.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        try:
            await super().close()
            log.info("disconnected from Discord")
        finally:
            if self._providers is not None:
                await self._providers.aclose()
                self._providers = None
            if self.topups is not None:
                await self.topups.aclose()
                self.topups = None
            if self.wakeups is not None:
                await self.wakeups.close()
            if self._db is not None:
                await self._say_goodbye()
                await self._db.close()
                self._db = None
            log.info("closed the providers and the database")
            self.closed.set()

    async def _say_goodbye(self) -> None:
        """The last writes of a clean stop, once no request can still be in flight: the
        leases of a poll run that was cut off go back (another process polls those orders
        now, not after the lease), and the process is marked stopped, not dead."""
        try:
            if self.poller is not None and self.poller.leased:
                leased, self.poller.leased = self.poller.leased, {}
                await repo.release_leases(self.db, leased)
                log.info("gave back %d poll lease(s)", len(leased))
            if self.process_health is not None:
                await self.process_health.stop()
        except Exception:
            # Nothing is lost: the leases expire and the watch reports the silence.
            log.exception("could not record the stop in the database")
