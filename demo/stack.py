"""Everything the bot needs, on 127.0.0.1, with no network and no accounts:
the four sandbox providers, the Discord emulator, and the real bot configured only
through its settings (environment variables).

The bot runs as a subprocess (`python -m bot run`: the demo, and the tests where the
process is the point: kill -9, SIGTERM, the lock) or, with ``in_process=True``, as the
same `OrderBot` started by the same `serve` in the caller's event loop, which is what the
journey tests use: no interpreter to start, and a failing assertion can look at the
bot's objects. Either way it reads the same settings from the same variables."""

# The stack API takes ``timeout=`` like asyncio.wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import discord.gateway
import discord.http
from cryptography.fernet import Fernet
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.__main__ import serve
from bot.app import OrderBot
from bot.config import Settings
from bot.logging_setup import LOG_FORMAT, SecretRedactingFilter, hold_back_libraries
from demo.payments import PaymentSandboxes
from demo.workers import WorkerProcesses, stop_process
from emulator.server import Emulator
from sandbox.runner import SandboxCluster
from storage import lock as database_lock
from storage.lock import DatabaseInUse

REPO_ROOT = Path(__file__).resolve().parents[1]

# Variables the bot reads; stripped from the inherited environment so a developer's
# shell or .env can't leak into the stack.
BOT_SETTING_PREFIXES = (
    "DISCORD_",
    "GUILD_ID",
    "DEFAULT_LANGUAGE",
    "STAFF_",
    "NOTICE_",
    "DATABASE_",
    "DELIVERY_",
    "CATALOG_",
    "BOOST_",
    "CHECKOUT_",
    "NAMEFI_",
    "DIGITAL_SHOP_",
    "RAZORPAY_",
    "STRIPE_",
    "LOG_LEVEL",
    "LOG_FILE",
    "ORDER_",
    "PROVIDER_",
    "POLL_",
    "NOTIFY_",
    "STUCK_",
    "PAYMENT_",
    "TOP_UP_",
    "BUYER_",
    "MAX_OPEN_",
    "DAILY_",
    "RESUBMIT_",
    "DM_",
    "TIMINGS",
    "BREAKER_",
    "DEFAULT_PHONE_",
)

# A proxy in the caller's shell would carry the bot's requests off this machine.
PROXY_VARIABLES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY"}
)

# The test stack's waits (core.timings): a journey takes a second, not a minute, and the
# bot does exactly what it does with the defaults, only sooner. The owner-tuned ones are
# set through their own variables (`fast_timings_env`).
FAST_TIMINGS = (
    "staff_log_interval=0.1,resubmit_interval=0.2,dm_reconcile_interval=0.2,"
    "stuck_check_interval=0.5,first_poll_delay=0.1,poll_after_change=0.2,"
    "poll_processing_cap=0.5,poll_pending_cap=1,poll_failure_base=0.2,poll_min_delay=0.05,"
    "dm_retry_base=0.2,staff_channel_retry=0.5,staff_digest_interval=2,shutdown_grace=5,"
    "key_recheck_interval=0.5,topup_check_interval=0.2,topup_first_check=0.3,"
    "topup_check_every=0.3,topup_event_grace=0.3"
)


def fast_timings_env() -> dict[str, str]:
    return {
        "TIMINGS": FAST_TIMINGS,
        "POLL_INTERVAL_SECONDS": "0.1",
        "NOTIFY_INTERVAL_SECONDS": "0.1",
        "RESUBMIT_DELAYS_SECONDS": "0.5,1,2",
        "BREAKER_COOLDOWN_SECONDS": "3",
    }


class BotProcessError(RuntimeError):
    pass


class LocalStack:
    def __init__(
        self,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        emulator: Emulator | None = None,
        sandbox: SandboxCluster | None = None,
        in_process: bool = False,
        fast: bool = False,
        command: tuple[str, ...] = ("run",),
        payments: PaymentSandboxes | None = None,
    ) -> None:
        self.workdir = workdir
        # Online top-ups through the Razorpay sandbox (demo/payments.py), when given.
        self.payments = payments
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator = emulator or Emulator(port=0)
        self.sandbox = sandbox or SandboxCluster(port=0)
        # fast: the short test timings (FAST_TIMINGS) under whatever `env` says.
        self.extra_env = {**(fast_timings_env() if fast else {}), **(env or {})}
        if fast and env and "TIMINGS" in env:
            # Merged, the caller's last: TIMINGS names each wait once, the last one wins.
            self.extra_env["TIMINGS"] = f"{FAST_TIMINGS},{env['TIMINGS']}"
        self.in_process = in_process
        self._served: InProcessBot | None = None
        self.fernet_key = Fernet.generate_key().decode()
        self.database_path = workdir / "data" / "orderbot.sqlite3"
        # The bot's working folder: one of ours, never the folder `workdir` names (a shop
        # owner's `--workdir .` holds their .env, which the bot would read from its cwd).
        self.run_dir = workdir / "run"
        self.log_path = workdir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        self._log_file: Any = None
        self.starts = 0
        # How the bot is started (`run`, or `run --no-workers` beside `workers`).
        self.command = command
        self.workers = WorkerProcesses(workdir, self.bot_env, cwd=self.run_dir)

    async def __aenter__(self) -> LocalStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.sandbox.start()
        if self.payments is not None:
            await self.payments.start()
        await self.emulator.start()
        await self.start_bot()
        await self.let_staff_see_admin()

    async def let_staff_see_admin(self, timeout: float = 30.0) -> None:
        """What the README tells a shop owner to do once: /admin is visible by default only
        to members who can manage the server, so in Server Settings → Integrations → the
        bot → /admin, they add the staff role."""
        emu = self.emulator
        await emu.wait_for_command("admin", guild_id=emu.world.guild_id, timeout=timeout)
        await emu.set_command_permissions(
            "admin", [{"id": emu.world.staff_role_id, "type": 1, "permission": True}]
        )

    async def stop(self) -> None:
        # The emulator and the sandboxes stop even when the bot's stop fails.
        try:
            try:
                await self.workers.stop_all()
            finally:
                await self.stop_bot()
        finally:
            try:
                await self.emulator.stop()
            finally:
                try:
                    await self.sandbox.stop()
                finally:
                    if self.payments is not None:
                        await self.payments.stop()

    def bot_cwd(self) -> Path:
        """The bot's working folder, made here, without a .env the bot would read."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if (self.run_dir / ".env").exists():
            raise BotProcessError(
                f"{self.run_dir / '.env'} exists: the bot would read it. Remove it, or give "
                "another --workdir."
            )
        return self.run_dir

    def bot_env(self) -> dict[str, str]:
        world = self.emulator.world
        # Settings are read case-insensitively; the proxies would route its requests
        # elsewhere (httpx honours them): none of the caller's are the bot's.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().startswith(BOT_SETTING_PREFIXES) and k.upper() not in PROXY_VARIABLES
        }
        env.update(
            {
                "PYTHONPATH": str(REPO_ROOT),
                "PYTHONUNBUFFERED": "1",
                "DISCORD_TOKEN": self.emulator.token,
                "DISCORD_API_BASE_URL": self.emulator.base_url,
                "GUILD_ID": str(world.guild_id),
                "STAFF_ROLE_ID": str(world.staff_role_id),
                "STAFF_CHANNEL_ID": str(world.staff_channel_id),
                "NOTICE_CHANNEL_ID": str(world.notice_channel_id),
                **(
                    {}
                    if "DATABASE_URL" in self.extra_env
                    else {"DATABASE_PATH": str(self.database_path)}
                ),
                "DELIVERY_ENCRYPTION_KEY": self.fernet_key,
                "CATALOG_PATH": str(REPO_ROOT / "catalog.toml"),
                "ORDER_COOLDOWN_SECONDS": "0",
                "LOG_LEVEL": "INFO",
                # The stack's journeys that aren't about paying run with nobody asked to
                # pay; the demo and the payment tests set the real default (wallet).
                "PAYMENT_MODE": "free",
            }
        )
        for name, prefix, secret in (
            ("boost", "BOOST", "KEY"),
            ("checkout", "CHECKOUT", "KEY"),
            ("namefi", "NAMEFI", "TOKEN"),
            ("digital_shop", "DIGITAL_SHOP", "KEY"),
        ):
            env[f"{prefix}_API_BASE_URL"] = self.sandbox.base_url(name)
            env[f"{prefix}_API_{secret}"] = self.sandbox.api_key(name)
        if self.payments is not None:
            env.update(self.payments.bot_env())
        env.update(self.extra_env)
        return env

    async def start_bot(self, timeout: float = 30.0) -> None:
        """Start the bot (`python -m bot run`, or in this loop) and wait until it is on
        the gateway."""
        if self.process is not None and self.process.returncode is None:
            raise BotProcessError("the bot is already running")
        if self.in_process:
            if self._served is not None and not self._served.done():
                raise BotProcessError("the bot is already running")
            self.starts += 1
            sessions_before = len(self.emulator.gateway.sessions)
            self._served = InProcessBot(self.bot_env(), self.log_path, self.workdir)
            self._served.start()
            deadline = asyncio.get_running_loop().time() + timeout
            while len(self.emulator.gateway.sessions) <= sessions_before:
                if self._served.done():
                    raise BotProcessError(
                        f"the bot stopped with status {await self._served.wait()}:\n"
                        f"{self.bot_log()[-4000:]}"
                    )
                if asyncio.get_running_loop().time() > deadline:
                    raise BotProcessError(
                        f"the bot did not connect in {timeout}s:\n{self.bot_log()[-4000:]}"
                    )
                await asyncio.sleep(0.02)
            await self._on_the_gateway(deadline, self._served.done)
            return
        self._log_file = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.command,
            cwd=self.bot_cwd(),
            env=self.bot_env(),
            stdout=self._log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.starts += 1
        sessions_before = len(self.emulator.gateway.sessions)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.emulator.gateway.sessions) <= sessions_before:
            if self.process.returncode is not None:
                raise BotProcessError(
                    f"the bot exited with status {self.process.returncode}:\n{self.bot_log()[-4000:]}"
                )
            if asyncio.get_running_loop().time() > deadline:
                raise BotProcessError(
                    f"the bot did not connect in {timeout}s:\n{self.bot_log()[-4000:]}"
                )
            await asyncio.sleep(0.05)
        process = self.process
        await self._on_the_gateway(deadline, lambda: process.returncode is not None)

    async def _on_the_gateway(self, deadline: float, exited: Callable[[], bool]) -> None:
        """Until the new session is connected, or the bot has already stopped again: a
        test that armed a crash point can see it reached right after IDENTIFY (the
        caller then reads its exit status), which is no reason to wait out the timeout."""
        loop = asyncio.get_running_loop()
        while not self.emulator.gateway.connected_sessions():
            if exited():
                return
            if loop.time() > deadline:
                raise BotProcessError(f"the bot did not stay connected:\n{self.bot_log()[-4000:]}")
            await asyncio.sleep(0.02)

    async def stop_bot(self, *, kill: bool = False, timeout: float = 15.0) -> int | None:
        """SIGTERM (a clean shutdown) or SIGKILL (a crash). Returns the exit status."""
        if self._served is not None:
            if kill:
                raise BotProcessError(
                    "kill -9 needs the bot in a process of its own: @pytest.mark.stack(process=True)"
                )
            served, self._served = self._served, None
            return await served.stop(timeout)
        process, self.process = self.process, None
        if process is None:
            return None
        await stop_process(process, kill=kill, timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return process.returncode

    async def admin(
        self,
        subcommand_path: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        timeout: float = 15.0,
    ) -> tuple[Any, dict[str, Any]]:
        """Type ``/admin <subcommand_path> options`` in Discord, as the staff member in the
        staff channel unless told otherwise. Returns the interaction and the bot's answer
        (its first message once it is no longer "thinking"; a modal's caller reads the
        interaction instead)."""
        emu = self.emulator
        world = emu.world
        driven = await emu.send_slash_command(
            world.staff_id if user_id is None else user_id,
            "admin",
            dict(options or {}),
            subcommand_path=subcommand_path,
            channel_id=world.staff_channel_id if channel_id is None else channel_id,
        )
        first = await driven.wait_for_response(timeout)
        if first["type"] == 9:  # a modal: the caller fills it in
            return driven, first
        if first["type"] == 4:
            return driven, await driven.wait_for_original(timeout=timeout)
        return driven, await driven.wait_for_followup(timeout=timeout)

    async def staff_link_order(self, provider: str, remote_id: str, member_id: int) -> str:
        """Staff type ``/admin order link``; returns the bot's order id from its answer."""
        _, answer = await self.admin(
            "order link", {"provider": provider, "remote_id": remote_id, "member": member_id}
        )
        text = answer.get("content") or ""
        match = re.search(r"as order `(ORD-[0-9A-Z]{10})`", text)
        if match is None:
            raise BotProcessError(f"/admin order link did not link the order: {text!r}")
        return match.group(1)

    async def credit(self, member_id: int, amount: str, note: str = "paid by UPI") -> str:
        """Staff type ``/admin wallet credit`` after a member paid; returns the answer."""
        _, answer = await self.admin(
            "wallet credit", {"member": member_id, "amount": amount, "note": note}
        )
        text = str(answer.get("content") or "")
        if "Credited" not in text:
            raise BotProcessError(f"/admin wallet credit did not credit: {text!r}")
        return text

    def bot_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


# Loggers of the other parts that run in the test's process, kept out of the bot's log.
NOT_THE_BOT = ("emulator", "sandbox", "demo", "tests")


class _FastRetries(types.ModuleType):
    """discord.http's view of asyncio while a bot runs in the test's loop: its retry
    backoff after a 5xx (1, 3, 5, 7 s, integers from `1 + tries * 2`) is a hundredth as
    long; every other wait (a rate limit's Retry-After, a bucket reset) is unchanged.
    The requests, their number and their order are discord.py's own."""

    def __init__(self) -> None:
        super().__init__("asyncio")

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        if type(delay) is int and delay in (1, 3, 5, 7, 9):
            delay = delay / 100
        return await asyncio.sleep(delay, result)


class _OnlyGiven(Settings):
    """Settings from exactly the variables given: not the test runner's environment,
    not a .env in the working directory (what the subprocess gets with its own env)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(env: Mapping[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else name
        # `KEY=` means unset, as it does for the process (env_ignore_empty).
        if env.get(key.upper(), "") != "":
            values[key] = env[key.upper()]
    return _OnlyGiven(**values)


class InProcessBot:
    """`serve` (what `python -m bot run` runs) as a task in the current event loop, its
    log written to ``log_path`` through the same redacting filter, and the database lock
    held as the process would hold it."""

    def __init__(self, env: Mapping[str, str], log_path: Path, workdir: Path) -> None:
        self.settings = settings_from(env)
        self.log_path = log_path
        self.workdir = workdir
        self.bot: OrderBot | None = None
        self._task: asyncio.Task[int] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="in-process bot")

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait(self) -> int:
        assert self._task is not None
        return await self._task

    async def stop(self, timeout: float = 15.0) -> int:
        """What SIGTERM does: the graceful stop, then the exit status."""
        if self.bot is not None and not self.done():
            self.bot.spawn_close()
        assert self._task is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            # A stop that hangs is a failure to report, not a loop to leave running: the
            # serve task and the bot's own close are both cancelled, and waited for a
            # bounded time.
            closing = getattr(self.bot, "_close_task", None)
            for task in (closing, self._task):
                if task is not None:
                    task.cancel()
            await asyncio.wait({self._task}, timeout=5)
            raise BotProcessError(f"the bot did not stop within {timeout}s") from None

    def _created(self, bot: OrderBot) -> None:
        self.bot = bot

    async def _serve(self) -> int:
        settings = self.settings
        redactor = SecretRedactingFilter(settings.secret_values())
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(redactor)
        handler.setLevel(settings.log_level)
        # The bot's log only: the emulator, the sandboxes and the test share this process.
        handler.addFilter(lambda record: not record.name.startswith(NOT_THE_BOT))
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(min(level, logging.getLevelName(settings.log_level)))
        hold_back_libraries()
        fast, discord.http.asyncio = discord.http.asyncio, _FastRetries()
        # `serve` points discord.py at the emulator process-wide; put back afterwards.
        endpoints = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        try:
            postgres = settings.postgres_url()
            if postgres is not None:
                from storage.postgres import Holder, hold_database

                async with hold_database(postgres, what="run", holder=Holder.GATEWAY):
                    return await serve(settings, handle_signals=False, on_created=self._created)
            with database_lock.exclusive(settings.database_path):
                return await serve(settings, handle_signals=False, on_created=self._created)
        except DatabaseInUse as exc:
            logging.getLogger("bot").error("%s", exc)
            return 2
        finally:
            discord.http.asyncio = fast
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = endpoints
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()
