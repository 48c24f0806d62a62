"""Which language each member reads (issue 29): their /language choice, else Discord's
locale when the shop has that language, else the shop's default. DMs sent later (the
poller's, the notifier's, a worker's) use the choice, else the language the order or
top-up was made in."""

from __future__ import annotations

from core import i18n
from storage import languages
from storage.database import Database


class LanguageService:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Choices this process has read or written. Only the gateway answers interactions
        # and only it writes choices, so its copy stays true; and a form that must be the
        # first answer (within Discord's 3 seconds) waits on no I/O after the first time.
        # DMs (any process) always read the table.
        self._known: dict[int, str | None] = {}
        # The language Discord last said each member reads (their client's), for a DM
        # this process sends about no order (a staff credit): better than the default.
        self._discord: dict[int, str] = {}

    async def choice(self, user_id: int) -> str | None:
        chosen = await languages.get_choice(self.db, user_id)
        return chosen if chosen in i18n.LANGUAGES else None

    async def for_interaction(self, user_id: int, discord_locale: str | None) -> str:
        if user_id not in self._known:
            read = await self.choice(user_id)
            # A /language choice stored while we read wins over what we read.
            self._known.setdefault(user_id, read)
        from_discord = i18n.language_from_discord(discord_locale)
        if from_discord is not None:
            self._discord[user_id] = from_discord
        return i18n.resolve(self._known[user_id], discord_locale)

    async def for_dm(self, user_id: int, recorded: str | None) -> str:
        """A DM's language: the member's choice, else the one recorded when they ordered."""
        chosen = await self.choice(user_id)
        if chosen is not None:
            return chosen
        if recorded in i18n.LANGUAGES:
            return recorded
        return self._discord.get(user_id) or i18n.default_language()

    async def choose(self, user_id: int, language: str | None) -> None:
        """Store the member's choice; None goes back to Discord's language."""
        chosen = i18n.check_language(language) if language else None
        await languages.set_choice(self.db, user_id, chosen)
        self._known[user_id] = chosen
