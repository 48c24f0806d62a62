"""The Bot subclass. `setup_hook` owns every long-lived resource: it creates them once,
injects them into services and cogs, and `close` releases them in reverse order."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bot.catalog import Catalog, load_catalog
from bot.config import Settings
from bot.crypto import DeliveryCipher
from storage.database import Database, open_database

log = logging.getLogger(__name__)

# Loaded in this order by setup_hook. One feature per cog file.
COGS: tuple[str, ...] = ()


class OrderBot(commands.Bot):
    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        # No privileged intents: interactions carry the member and roles we need,
        # and DMs are opened over REST.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **kwargs,
        )
        self.settings = settings
        self.cipher = DeliveryCipher(settings.delivery_encryption_key)
        self.catalog: Catalog = load_catalog(settings.catalog_path, settings.enabled_providers())
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("database is not open yet (setup_hook has not run)")
        return self._db

    async def setup_hook(self) -> None:
        self._db = await open_database(self.settings.database_path)
        log.info("database ready at %s", self.settings.database_path)
        for extension in COGS:
            await self.load_extension(extension)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._db is not None:
                await self._db.close()
                self._db = None
