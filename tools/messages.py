"""The message catalogs (core/locales): extract, compile, check.

    python -m tools.messages extract   # source + slash commands -> orderbot.pot, then
                                       # each language's .po gains the new messages
    python -m tools.messages compile   # .po -> .mo (what the bot reads; ships in the wheel)
    python -m tools.messages check     # what is missing or broken, per language

`make messages` runs extract then compile. Two sources feed the template:
* every `_()`, `_n()`, `_p()` and `N_()` call in core/, storage/, bot/ and cogs/ (Babel's
  Python extractor), with the `# Translators:` comment above it;
* every slash-command name, description, option and choice, read from the command tree
  the cogs build (the strings discord.py hands to bot/command_translator.py), each under
  a context naming what it is: Discord's rules differ for each (a name is lowercase with
  no spaces, 1-32 characters; a description at most 100).
"""

from __future__ import annotations

import asyncio
import io
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "core" / "locales"
TEMPLATE = LOCALES / "orderbot.pot"
SOURCE_DIRS = ("core", "storage", "bot", "cogs")
TRANSLATED = ("hi", "bn")
KEYWORDS: dict[str, Any] = {
    "_": None,
    "_n": (1, 2),
    "_p": ((1, "c"), 2),
    "N_": None,
}
HEADER = "Messages of orderbot, the Discord shop bot. See docs/languages.md."


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "orderbot.po"


def mo_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "orderbot.mo"


def _new_catalog(language: str | None = None) -> Catalog:
    return Catalog(
        locale=language,
        domain="orderbot",
        project="orderbot",
        version="1",
        copyright_holder="orderbot contributors",
        msgid_bugs_address="https://github.com/orderbot/orderbot/issues",
        header_comment=f"# {HEADER}\n#",
        fuzzy=False,
    )


def source_messages(catalog: Catalog) -> None:
    for directory in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / directory,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            catalog.add(
                message,
                locations=[(f"{directory}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )


async def command_strings() -> list[tuple[str, str]]:
    """(context, text) of every string the slash commands hand to the Translator, read
    by building the tree as the bot does (the cogs' own setup functions)."""
    import discord
    from discord import app_commands
    from discord.ext import commands

    from bot.app import COGS
    from bot.command_translator import context_for
    from bot.tree import OrderTree

    seen: dict[tuple[str, str], None] = {}

    class Recorder(app_commands.Translator):
        async def translate(
            self,
            string: app_commands.locale_str,
            locale: discord.Locale,
            context: app_commands.TranslationContextTypes,
        ) -> str | None:
            where = context_for(context.location)
            if where is not None and locale is discord.Locale.hindi:
                seen[(where, string.message)] = None
            return None

    from bot.catalog import load_catalog
    from bot.config import Settings

    class Stand(commands.Bot):
        staff_log = None
        # The settings' defaults and the shipped catalog: what the cogs read to build
        # their commands.
        settings = Settings.model_construct()
        catalog = load_catalog(ROOT / "bot" / "templates" / "catalog.toml")

    stand = Stand(command_prefix="!", intents=discord.Intents.none(), tree_cls=OrderTree)
    for extension in COGS:
        await stand.load_extension(extension)
    recorder = Recorder()
    for command in stand.tree.get_commands():
        await command.get_translated_payload(stand.tree, recorder)
    return list(seen)


def template() -> Catalog:
    catalog = _new_catalog()
    source_messages(catalog)
    for context, text in asyncio.run(command_strings()):
        catalog.add(text, locations=[("<slash-commands>", 0)], context=context)
    return catalog


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=language)


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    path.write_bytes(buffer.getvalue())


def extract() -> None:
    pot = template()
    _write(TEMPLATE, pot)
    for language in TRANSLATED:
        path = po_path(language)
        catalog = read_catalog(path, language) if path.exists() else _new_catalog(language)
        catalog.update(pot, no_fuzzy_matching=True, update_creation_date=False)
        _write(path, catalog)
    print(f"{len(pot)} messages in {TEMPLATE.relative_to(ROOT)}")


def compiled(language: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(po_path(language), language))
    return buffer.getvalue()


def compile_all() -> None:
    for language in TRANSLATED:
        mo_path(language).write_bytes(compiled(language))
    print(f"compiled {', '.join(TRANSLATED)}")


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid[:70]!r}"


def _fields(text: str) -> set[str]:
    names = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is not None:
            names.add(field)
    return names


def placeholders(text: str) -> set[str] | None:
    """The `{names}` of a message, or None when its braces don't parse."""
    try:
        return _fields(text)
    except ValueError:
        return None


def messages(catalog: Catalog) -> Iterator[Message]:
    for message in catalog:
        if message.id:
            yield message


def _all(value: object) -> tuple[str, ...]:
    """A message's id or string as a tuple (one entry, or one per plural form)."""
    if isinstance(value, list | tuple):
        return tuple(str(v or "") for v in value)
    return (str(value or ""),)


def problems(language: str) -> list[Problem]:
    """What keeps `language` from being complete: a message with no translation (or a
    fuzzy one, which gettext ignores), a translation whose placeholders aren't the
    message's, a compiled catalog older than its .po."""
    found: list[Problem] = []
    catalog = read_catalog(po_path(language), language)
    pot_ids = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0])
        for m in messages(template_catalog())
    }
    for message in messages(catalog):
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if (message.context, msgid) not in pot_ids:
            continue
        strings = _all(message.string)
        if message.fuzzy or not all(strings):
            found.append(Problem(language, msgid, "not translated"))
            continue
        sources = _all(message.id)
        # A plural's forms may leave `{count}` out ("one order"); nothing else may.
        free = {"count"} if len(sources) > 1 else set()
        want = set().union(*(placeholders(s) or set() for s in sources)) - free
        for text in strings:
            got = placeholders(text)
            if got is None or (got - free) != want:
                found.append(
                    Problem(language, msgid, f"placeholders {sorted(got or [])} != {sorted(want)}")
                )
    missing = pot_ids - {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in messages(catalog)
    }
    found.extend(
        Problem(language, msgid, "not in the .po (run make messages)")
        for _c, msgid in sorted(missing, key=str)
    )
    if not mo_path(language).exists() or _mo_table(mo_path(language).read_bytes()) != _mo_table(
        compiled(language)
    ):
        found.append(
            Problem(language, str(mo_path(language).relative_to(ROOT)), "stale: run make messages")
        )
    return found


def _mo_table(data: bytes) -> dict[Any, Any]:
    catalog = read_mo(io.BytesIO(data))
    return {(m.context, _all(m.id)): _all(m.string) for m in catalog if m.id}


def template_catalog() -> Catalog:
    return read_catalog(TEMPLATE)


PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        extract()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = [p for language in TRANSLATED for p in problems(language)]
        for problem in found:
            print(problem)
        print(f"{len(found)} problem(s)")
        return 1 if found else 0
    else:
        print("usage: python -m tools.messages extract|compile|check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
