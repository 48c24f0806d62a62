"""Slash commands in the reader's language: discord.py hands every command name,
description, option and choice to this Translator when the tree is synced, and the
synced definitions carry `name_localizations` / `description_localizations` for each
Discord locale we have a catalog for (Hindi; Discord has no Bengali locale).

The strings come from the same gettext catalog as everything else, under a context that
says what they are (`command name`, `option description`, ...): a command name must be
lowercase with no spaces in every language, so translators must know which is which.
`python -m tools.messages extract` collects them from the loaded command tree.
"""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import TranslationContextLocation as Where

from core import i18n

CONTEXTS: dict[Where, str] = {
    Where.command_name: "command name",
    Where.group_name: "command name",
    Where.command_description: "command description",
    Where.group_description: "command description",
    Where.parameter_name: "option name",
    Where.parameter_description: "option description",
    Where.choice_name: "choice name",
}


def context_for(location: Where) -> str | None:
    return CONTEXTS.get(location)


class CatalogTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = i18n.language_from_discord(locale.value)
        where = context_for(context.location)
        if language is None or language == i18n.SOURCE_LANGUAGE or where is None:
            return None
        return i18n.translate_in(language, where, string.message)
