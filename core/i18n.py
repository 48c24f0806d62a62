"""Languages: every sentence a person reads goes through here.

The shop speaks English, Hindi and Bengali. Each sentence is written once, in English, as
a gettext message id with named placeholders::

    _("Order {order_id} is on its way.", order_id=order.id)

and is looked up in the catalog of the *current language* (core/locales/<lang>/
LC_MESSAGES/orderbot.mo, compiled from the .po beside it by `make messages`).

The current language is a context variable, set where we learn who reads the text:
* an interaction sets the buyer's language (their `/language` choice, else Discord's
  locale when the shop has it, else the shop's default) for its own task, in the
  tree's and every view's `interaction_check` (bot/languages.py);
* a DM is built inside `speaking(lang)` with the buyer's choice, else the language
  recorded on the order;
* staff text (alerts, the staff log, the staff console) uses the shop's staff
  language: alert builders are wrapped in `in_staff_language`.

Why named placeholders and `.format` instead of f-strings: gettext catalogs hold the
text before it is filled in, and a translator must be able to move `{amount}` to where
Hindi or Bengali grammar wants it (both put the verb last).

Numbers and money follow the language through Babel (CLDR): Indian digit grouping for
Hindi and Bengali (`1,00,000`), and Bengali's own digits (`১,২৩৪`), CLDR's default
numbering system for `bn`. Ids, codes and anything a person typed are never passed
through `number`: they stay exactly as typed.
"""

from __future__ import annotations

import functools
import gettext
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from babel import Locale
from babel.support import Translations

log = logging.getLogger(__name__)

DOMAIN = "orderbot"
LOCALE_DIR = Path(__file__).with_name("locales")

# The languages the shop ships, complete. English is the source language: its catalog
# is the message ids themselves.
SOURCE_LANGUAGE = "en"
LANGUAGES: tuple[str, ...] = ("en", "hi", "bn")

# Discord's locale codes (`en-US`, `hi`, ...) that name a language we have. Discord has
# no Bengali locale: Bengali readers choose it with /language.
DISCORD_LOCALES: dict[str, str] = {"en-US": "en", "en-GB": "en", "hi": "hi"}

# CLDR's digits per numbering system, for the ones our languages use by default
# (Babel formats with ASCII digits and only switches the separators).
_ZERO_DIGIT = {"beng": "০", "deva": "०"}

_current: ContextVar[str | None] = ContextVar("orderbot_language", default=None)
_configured = {"default": SOURCE_LANGUAGE, "staff": SOURCE_LANGUAGE}


class UnknownLanguage(ValueError):
    pass


def check_language(code: str) -> str:
    """`code` as a language the shop ships, or UnknownLanguage naming the choices."""
    cleaned = code.strip().lower().replace("_", "-")
    if cleaned not in LANGUAGES:
        raise UnknownLanguage(
            f"{code!r} isn't a language the bot ships; use one of {', '.join(LANGUAGES)}."
        )
    return cleaned


def configure(*, default: str, staff: str) -> None:
    """The shop's default language (buyers with no choice and no Discord locale we have)
    and its staff language. Called once at start-up from the settings."""
    _configured["default"] = check_language(default)
    _configured["staff"] = check_language(staff)


def default_language() -> str:
    return _configured["default"]


def staff_language() -> str:
    return _configured["staff"]


def current() -> str:
    """The language of the text being written now."""
    return _current.get() or _configured["default"]


def use(language: str) -> None:
    """Write in `language` for the rest of this task: an interaction callback runs in its
    own task, so this never leaks into another member's interaction."""
    _current.set(language)


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Write in `language` inside the block (a DM, a staff line), then go back."""
    token = _current.set(language or _configured["default"])
    try:
        yield
    finally:
        _current.reset(token)


P = ParamSpec("P")
R = TypeVar("R")


def in_staff_language(builder: Callable[P, R]) -> Callable[P, R]:
    """Builds its text in the staff language, whoever's interaction raised it (an alert
    raised while a Hindi buyer confirms is still read by staff)."""

    @functools.wraps(builder)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with speaking(staff_language()):
            return builder(*args, **kwargs)

    return wrapper


def language_from_discord(locale: str | None) -> str | None:
    """The shop language for a Discord locale (`hi` -> hi, `en-GB` -> en), or None."""
    if not locale:
        return None
    return DISCORD_LOCALES.get(str(locale))


def resolve(choice: str | None, discord_locale: str | None) -> str:
    """Whom we write to, in what: their explicit /language choice, then Discord's locale
    if the shop has that language, then the shop's default."""
    if choice in LANGUAGES:
        return choice
    return language_from_discord(discord_locale) or _configured["default"]


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English: the message ids themselves)."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    loaded = Translations.load(str(LOCALE_DIR), [language], DOMAIN)
    if not isinstance(loaded, Translations):
        # A missing .mo is a packaging fault; English keeps the bot usable meanwhile.
        log.error("no compiled catalog for %s under %s; writing English", language, LOCALE_DIR)
    return loaded


def _fill(text: str, source: str, values: dict[str, Any]) -> str:
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        # A translation with a broken placeholder must not lose the message: the English
        # one is sent instead (tests/bot/test_translations.py keeps this from shipping).
        log.error("translation of %r into %s has broken placeholders", source[:60], current())
        return source.format(**values)


def _(message: str, /, **values: Any) -> str:
    """`message` in the current language, its `{placeholders}` filled from `values`."""
    return _fill(translations(current()).gettext(message), message, values)


def _n(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """The plural form for `count` in the current language; `{count}` is filled with the
    count as that language writes numbers."""
    text = translations(current()).ngettext(singular, plural, count)
    return _fill(text, singular if count == 1 else plural, {"count": number(count), **values})


def _p(context: str, message: str, /, **values: Any) -> str:
    """`message` under a context (`command name`, `button`) that tells translators which
    of two identical English words this is."""
    return _fill(translations(current()).pgettext(context, message), message, values)


def N_(message: str, /) -> str:
    """Marks `message` for the catalog without translating it yet: for tables built at
    import, translated with `_` where they are shown."""
    return message


def translate_in(language: str, context: str | None, message: str) -> str | None:
    """`message` in `language`, or None when the catalog has no translation (Discord's
    command localizations: a missing one falls back to the English definition)."""
    catalog = translations(language)
    found = catalog.pgettext(context, message) if context else catalog.gettext(message)
    return None if found == message and language != SOURCE_LANGUAGE else found


@functools.cache
def locale(language: str) -> Locale:
    return Locale.parse(language)


@functools.cache
def _digit_table(language: str) -> dict[int, str] | None:
    zero = _ZERO_DIGIT.get(locale(language).default_numbering_system or "latn")
    if zero is None:
        return None
    return {ord("0") + i: chr(ord(zero) + i) for i in range(10)}


def native_digits(text: str, language: str | None = None) -> str:
    """ASCII digits as the language writes them by default (Bengali: ০-৯)."""
    table = _digit_table(language or current())
    return text.translate(table) if table else text


def number(value: int, language: str | None = None) -> str:
    """A count as the language writes it: grouping and digits (`1,00,000`, `১,২৩৪`)."""
    lang = language or current()
    return native_digits(locale(lang).decimal_formats[None].apply(value, locale(lang)), lang)


def language_name(code: str, in_language: str | None = None) -> str:
    """`hi` -> `हिन्दी` (in itself) or `Hindi` (in English): CLDR's names."""
    name = locale(code).get_display_name(locale(in_language or code)) or code
    return name[:1].upper() + name[1:]
