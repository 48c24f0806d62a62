"""Money: integer minor units and an ISO 4217 code, for every currency in use today.

Which currencies exist, how many decimals each has, and how an amount is written all
come from Babel (CLDR) instead of a table of our own:
* a currency is known when it is legal tender somewhere now (CLDR's territory
  currencies, tender and without an end date): 150-odd codes, BHD and JPY among them,
  and no withdrawn ones (DEM) or metals (XAU);
* its decimals are CLDR's (`get_currency_precision`): BHD 3, USD 2, JPY 0. The minor
  unit of every amount the bot stores is 10^-decimals of the currency, so these must
  never change under stored money: Babel is pinned in pyproject.toml, and
  tests/bot/test_money.py fails if an upgrade changes any currency's decimals;
* symbols, digit grouping and digits follow the language being written
  (core/i18n.py): `$3.50 USD`, `₹1,00,000.00 INR` in Hindi, `১,২৩৪.০০৳ BDT` in Bengali.

Nothing here does I/O, and amounts never pass through a float.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, numbers
from babel.core import get_global
from babel.numbers import NumberPattern

from core import i18n
from core.i18n import _, _n

DEFAULT_LOCALE = "en"


@functools.cache
def currencies_in_use() -> frozenset[str]:
    """Every ISO 4217 code that is legal tender somewhere today, by CLDR."""
    in_use: set[str] = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, end, tender in entries:
            if tender and end is None:
                in_use.add(code)
    return frozenset(in_use)


def known_currency(code: str) -> bool:
    return code in currencies_in_use()


def similar_currencies(code: str) -> list[str]:
    """Codes in use a typo of `code` could have meant: the same letters in another order
    (BDH -> BHD) first, then one letter off (USF -> USD), at most three."""
    code = code.upper()
    in_use = sorted(currencies_in_use())
    swapped = [c for c in in_use if c != code and sorted(c) == sorted(code)]
    one_off = [
        c
        for c in in_use
        if c not in swapped
        and len(c) == len(code)
        and sum(a != b for a, b in zip(c, code, strict=True)) == 1
    ]
    return (swapped + one_off)[:3]


@functools.cache
def currency_digits(code: str) -> int:
    """Decimals of the currency's minor unit (BHD 3, USD 2, JPY 0)."""
    return int(numbers.get_currency_precision(code))


@functools.cache
def _symbol(code: str, locale: str) -> str:
    """The currency's symbol in `locale`, or "" where the locale writes the code itself
    (the code follows every amount anyway)."""
    symbol = str(numbers.get_currency_symbol(code, locale=locale))
    return "" if symbol == code else symbol


@functools.cache
def _symbols_to_codes(locale: str) -> dict[str, str]:
    """Symbols that name exactly one currency in `locale` (`$` USD, `₹` INR, `CA$` CAD),
    longest first, so `CA$` is tried before `$`."""
    seen: dict[str, set[str]] = {}
    for code in currencies_in_use():
        # Spaces as parse_amount leaves them (`F CFA` is written with a narrow no-break
        # space).
        symbol = " ".join(_symbol(code, locale).split())
        if symbol:
            seen.setdefault(symbol, set()).add(code)
    unique = {s: next(iter(c)) for s, c in seen.items() if len(c) == 1}
    return dict(sorted(unique.items(), key=lambda item: -len(item[0])))


@functools.cache
def _layout(language: str, code: str) -> tuple[str, NumberPattern, str]:
    """How `language` writes an amount of `code`, worked out once per pair (a format's
    cost is then the number alone, bench/money.py): the symbol before or after the number
    as CLDR's currency pattern puts it, and the language's digit grouping with exactly
    the currency's decimals."""
    where = _locale(language)
    grouping = str(where.decimal_formats[None].pattern).split(";")[0].split(".")[0]
    digits = currency_digits(code)
    number = numbers.parse_pattern(grouping + ("." + "0" * digits if digits else ""))
    symbol = _symbol(code, language)
    if not symbol:  # no symbol of its own here: the number alone, then the code
        return "", number, ""
    currency = str(where.currency_formats["standard"].pattern).split(";")[0]
    if currency.strip().startswith("¤"):
        return symbol + (" " if "¤ " in currency or "¤\xa0" in currency else ""), number, ""
    return "", number, ("\xa0" if " ¤" in currency or "\xa0¤" in currency else "") + symbol


@functools.cache
def _symbols_everywhere() -> dict[str, str]:
    """Symbols that name one currency in every language the shop writes (`৳`, `US$` as
    Bengali writes them, `$` and `₹`), longest first: an amount copied from any reply
    reads back. A symbol two languages give to different currencies is left out."""
    seen: dict[str, set[str]] = {}
    for language in i18n.LANGUAGES:
        for symbol, code in _symbols_to_codes(language).items():
            seen.setdefault(symbol, set()).add(code)
    unique = {symbol: next(iter(codes)) for symbol, codes in seen.items() if len(codes) == 1}
    return dict(sorted(unique.items(), key=lambda item: -len(item[0])))


@functools.cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units plus an ISO 4217 code. Never a float."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int (minor units)")

    def __mul__(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    @property
    def digits(self) -> int:
        return currency_digits(self.currency)

    def amount(self) -> Decimal:
        """The exact decimal amount (1250 BHD minor units -> Decimal('1.250'))."""
        return Decimal(self.minor).scaleb(-self.digits)

    def format(self, locale: str | None = None) -> str:
        """`$3.50 USD`, `¥500 JPY`, `1.250 BHD`: the language's symbol, grouping and
        digits (CLDR's currency pattern: `₹1,00,000.00 INR` in Hindi, `১,২৩৪.০০৳ BDT` in
        Bengali), all of the currency's decimals, and the code, so no two currencies read
        alike. `locale` defaults to the language being written (core/i18n.py)."""
        language = locale or i18n.current()
        before, number, after = _layout(language, self.currency)
        text = number.apply(abs(self.amount()), _locale(language))
        sign = "-" if self.minor < 0 else ""
        return i18n.native_digits(f"{sign}{before}{text}{after} {self.currency}", language)

    def __str__(self) -> str:
        return self.format()


_AMOUNT = re.compile(r"^(?P<whole>\d{1,12})(?:\.(?P<frac>\d{1,4}))?$")
_CODE_FIRST = re.compile(r"^(?P<code>[A-Za-z]{3})(?![A-Za-z])\s*(?P<rest>.*)$")
_CODE_LAST = re.compile(r"^(?P<rest>.*?)\s*(?<![A-Za-z])(?P<code>[A-Za-z]{3})$")


class AmountError(ValueError):
    """An amount staff typed that can't be read exactly; the message says why."""


def _strip_marker(body: str) -> tuple[str, str | None]:
    """One currency code or symbol taken off either end of `body`: (the rest, its code)."""
    for pattern in (_CODE_FIRST, _CODE_LAST):
        match = pattern.match(body)
        if match and match["code"].upper() in currencies_in_use():
            return match["rest"].strip(), match["code"].upper()
    for symbol, code in _symbols_everywhere().items():
        if body.startswith(symbol):
            return body[len(symbol) :].strip(), code
        if body.endswith(symbol):
            return body[: -len(symbol)].strip(), code
    return body, None


def parse_amount(text: str, currency: str | None = None) -> Money:
    """An amount as people write it (`12.50`, `₹199`, `199 INR`, `$3`, `1.250 BHD`),
    exactly in minor units: never through a float. A currency symbol or code in the text
    must agree with `currency` when both are given. Refused as ambiguous: thousands
    separators (`1,250` is 1250 in one country and 1.25 in another), more decimals than
    the currency has, signs, exponents, zero."""
    raw = " ".join(text.split())
    code = currency.upper() if currency else None
    body, seen = raw, set[str]()
    for _attempt in range(2):  # a symbol, a code, or both (`$3.00 USD`)
        body, found_code = _strip_marker(body)
        if found_code is None:
            break
        seen.add(found_code)
    if len(seen) > 1:
        raise AmountError(_("`{amount}` names more than one currency.", amount=raw[:20]))
    found = next(iter(seen), None)
    if found and code and found != code:
        raise AmountError(
            _("`{amount}` is in {found}, not {wanted}.", amount=raw[:20], found=found, wanted=code)
        )
    code = code or found
    if code is None:
        raise AmountError(_("Say which currency, e.g. `12.50 USD`."))
    if not known_currency(code):
        raise AmountError(
            _("`{code}` isn't a currency in use (ISO 4217, e.g. USD or INR).", code=code[:10])
        )
    if "," in body or "_" in body or " " in body:
        raise AmountError(
            _(
                "Write `{amount}` without thousands separators, e.g. `1250.00`: a comma is "
                "a decimal point in some countries.",
                amount=raw[:20],
            )
        )
    match = _AMOUNT.match(body)
    if match is None:
        raise AmountError(_("`{amount}` isn't an amount like `12.50`.", amount=raw[:20]))
    digits = currency_digits(code)
    frac = match["frac"] or ""
    if len(frac) > digits:
        raise AmountError(
            _n(
                "{code} has {count} decimal place; `{amount}` has {typed}.",
                "{code} has {count} decimal places; `{amount}` has {typed}.",
                digits,
                code=code,
                amount=raw[:20],
                typed=i18n.number(len(frac)),
            )
        )
    minor = int(match["whole"]) * 10**digits + int(frac.ljust(digits, "0") or "0")
    if minor == 0:
        raise AmountError(_("The amount must be more than zero."))
    return Money(minor, code)
