"""Issue 25: every ISO 4217 currency in use, through Babel, in integer minor units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    AmountError,
    Money,
    currencies_in_use,
    currency_digits,
    known_currency,
    parse_amount,
)

SNAPSHOT = Path(__file__).with_name("currency_digits.json")


def test_every_currency_in_use_is_known_and_no_withdrawn_one() -> None:
    codes = currencies_in_use()
    assert len(codes) >= 150
    for code in ("USD", "EUR", "INR", "BDT", "PKR", "AED", "BHD", "KWD", "JPY", "KRW"):
        assert known_currency(code), code
    for gone in ("DEM", "FRF", "XAU", "USN", "XYZ", "usd"):
        assert not known_currency(gone), gone


def test_the_decimals_stored_money_means_never_change_under_it() -> None:
    """Every stored amount is minor units of its currency: if a Babel upgrade changed a
    currency's decimals, 1.250 BHD in the database would start reading as 12.50 BHD. This
    fails first; the upgrade then needs a data migration, not a version bump."""
    now = {code: currency_digits(code) for code in sorted(currencies_in_use())}
    assert now == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money(1250, "BHD"), "1.250 BHD"),
        (Money(5, "KWD"), "0.005 KWD"),
        (Money(480, "JPY"), "¥480 JPY"),
        (Money(1234567, "JPY"), "¥1,234,567 JPY"),
        (Money(19900, "INR"), "₹199.00 INR"),
        (Money(123456789, "USD"), "$1,234,567.89 USD"),
        (Money(-350, "USD"), "-$3.50 USD"),
        (Money(123456, "BDT"), "1,234.56 BDT"),
        (Money(99, "PKR"), "0.99 PKR"),
        (Money(2**53 - 1, "BHD"), "9,007,199,254,740.991 BHD"),  # no float on the way
    ],
)
def test_amounts_are_written_with_the_currencys_own_decimals(money: Money, shown: str) -> None:
    assert money.format() == shown


@pytest.mark.parametrize(
    ("text", "money"),
    [
        ("1.250 BHD", Money(1250, "BHD")),
        ("1.25 bhd", Money(1250, "BHD")),
        ("BHD 0.005", Money(5, "BHD")),
        ("¥480", Money(480, "JPY")),
        ("480 JPY", Money(480, "JPY")),
        ("CA$3", Money(300, "CAD")),
        ("AED 10", Money(1000, "AED")),
    ],
)
def test_any_currency_in_use_is_read_exactly(text: str, money: Money) -> None:
    assert parse_amount(text) == money


@pytest.mark.parametrize(
    ("text", "currency", "why"),
    [
        ("1.2505 BHD", None, "BHD has 3 decimal place"),
        ("4.5", "JPY", "JPY has 0 decimal place"),
        ("12", "DEM", "isn't a currency in use"),
        ("$3 CAD", None, "more than one currency"),
    ],
)
def test_what_a_currency_cant_hold_is_refused(text: str, currency: str | None, why: str) -> None:
    with pytest.raises(AmountError, match=why):
        parse_amount(text, currency)


@given(
    minor=st.integers(min_value=1, max_value=10**11),
    currency=st.sampled_from(sorted(currencies_in_use())),
)
def test_what_format_prints_reads_back_exactly_in_every_currency(minor: int, currency: str) -> None:
    shown = Money(minor, currency).format().replace(",", "")
    assert parse_amount(shown) == Money(minor, currency)


@pytest.mark.parametrize("currency", sorted(currencies_in_use()))
def test_each_currency_round_trips_its_smallest_and_a_large_amount(currency: str) -> None:
    for minor in (1, 10 ** currency_digits(currency) + 1, 10**11 + 7):
        shown = Money(minor, currency).format()
        assert currency in shown
        assert parse_amount(shown.replace(",", "")) == Money(minor, currency), shown
