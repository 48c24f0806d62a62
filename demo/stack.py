"""Everything the bot needs, on 127.0.0.1, with no network and no accounts:
the four sandbox providers, the Discord emulator, and the real bot as a subprocess
configured only through its settings (environment variables)."""

# The stack API takes ``timeout=`` like asyncio.wait_for.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from emulator.server import Emulator
from sandbox.runner import SandboxCluster

REPO_ROOT = Path(__file__).resolve().parents[1]

# Variables the bot reads; stripped from the inherited environment so a developer's
# shell or .env can't leak into the stack.
BOT_SETTING_PREFIXES = (
    "DISCORD_",
    "GUILD_ID",
    "STAFF_",
    "NOTICE_",
    "DATABASE_",
    "DELIVERY_",
    "CATALOG_",
    "BOOST_",
    "CHECKOUT_",
    "NAMEFI_",
    "DIGITAL_SHOP_",
    "LOG_LEVEL",
    "ORDER_",
    "PROVIDER_",
    "POLL_",
    "NOTIFY_",
)


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
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator = emulator or Emulator(port=0)
        self.sandbox = sandbox or SandboxCluster(port=0)
        self.extra_env = dict(env or {})
        self.fernet_key = Fernet.generate_key().decode()
        self.database_path = workdir / "data" / "orderbot.sqlite3"
        self.log_path = workdir / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        self._log_file: Any = None
        self.starts = 0

    async def __aenter__(self) -> LocalStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.sandbox.start()
        await self.emulator.start()
        await self.start_bot()

    async def stop(self) -> None:
        await self.stop_bot()
        await self.emulator.stop()
        await self.sandbox.stop()

    def bot_env(self) -> dict[str, str]:
        world = self.emulator.world
        env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_SETTING_PREFIXES)}
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
                "DATABASE_PATH": str(self.database_path),
                "DELIVERY_ENCRYPTION_KEY": self.fernet_key,
                "CATALOG_PATH": str(REPO_ROOT / "catalog.toml"),
                "ORDER_COOLDOWN_SECONDS": "0",
                "LOG_LEVEL": "INFO",
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
        env.update(self.extra_env)
        return env

    async def start_bot(self, timeout: float = 30.0) -> None:
        """Start `python -m bot run` and wait until it is on the gateway."""
        if self.process is not None and self.process.returncode is None:
            raise BotProcessError("the bot is already running")
        self._log_file = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.workdir,
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
        await self.emulator.wait_for_bot(timeout=timeout)

    async def stop_bot(self, *, kill: bool = False, timeout: float = 15.0) -> int | None:
        """SIGTERM (a clean shutdown) or SIGKILL (a crash). Returns the exit status."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return process.returncode

    async def link_external_order(self, provider: str, remote_id: str, member_id: int) -> str:
        """What `/admin order link` does: the staff service function, run against the
        bot's own database file while the bot runs; its poller then tracks the order."""
        from pydantic import SecretStr

        from bot.catalog import load_catalog
        from bot.crypto import DeliveryCipher
        from bot.providers.registry import ProviderRegistry, build_adapter
        from bot.services.ordering import OrderingService
        from storage.database import open_database

        env = self.bot_env()
        secret = env["NAMEFI_API_TOKEN" if provider == "namefi" else f"{provider.upper()}_API_KEY"]
        adapter = build_adapter(
            provider,
            self.sandbox.base_url(provider),
            SecretStr(secret),
            timeout=5,
            max_connections=2,
        )
        db = await open_database(self.database_path)
        try:
            service = OrderingService(
                db,
                DeliveryCipher(SecretStr(self.fernet_key)),
                load_catalog(REPO_ROOT / "catalog.toml"),
                ProviderRegistry({provider: adapter}),
            )
            order = await service.link_external_order(
                staff_id=self.emulator.world.staff_id,
                member_id=member_id,
                guild_id=self.emulator.world.guild_id,
                provider=provider,
                remote_id=remote_id,
            )
            return order.id
        finally:
            await adapter.aclose()
            await db.close()

    def bot_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
