from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from core.domain import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    AmountError,
    Delivery,
    DeliveryItem,
    IllegalTransition,
    Money,
    OrderStatus,
    can_transition,
    check_transition,
    new_order_id,
    parse_amount,
)

ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))


def test_table_covers_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(
    ("old", "new"),
    # Sorted: the targets are sets, and every pytest-xdist worker must collect the same list.
    [(o, n) for o, targets in ALLOWED_TRANSITIONS.items() for n in sorted(targets)],
    ids=lambda s: s.value,
)
def test_every_allowed_transition_passes(old: OrderStatus, new: OrderStatus) -> None:
    check_transition(old, new)  # must not raise
    assert can_transition(old, new)


@given(st.sampled_from(ALL_PAIRS))
def test_every_other_transition_raises(pair: tuple[OrderStatus, OrderStatus]) -> None:
    old, new = pair
    if new in ALLOWED_TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(old, new)
        assert info.value.old is old and info.value.new is new


def test_disallowed_pairs_exhaustively() -> None:
    illegal = [(o, n) for o, n in ALL_PAIRS if n not in ALLOWED_TRANSITIONS[o]]
    assert illegal, "a table that allows everything is no table"
    for old, new in illegal:
        with pytest.raises(IllegalTransition):
            check_transition(old, new)


def test_self_transitions_are_not_transitions() -> None:
    for status in OrderStatus:
        assert not can_transition(status, status)


def test_terminal_states_are_explicit() -> None:
    assert {
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_COMPLETED,
        OrderStatus.FAILED,
        OrderStatus.REFUNDED,
        OrderStatus.CANCELLED,
    } == TERMINAL_STATUSES
    assert not OrderStatus.NEEDS_REVIEW.is_terminal
    assert OrderStatus.NEEDS_REVIEW.is_open
    # Refunded and cancelled are final for good.
    assert not ALLOWED_TRANSITIONS[OrderStatus.REFUNDED]
    assert not ALLOWED_TRANSITIONS[OrderStatus.CANCELLED]


def test_money_is_integer_minor_units() -> None:
    assert Money(19900, "INR").format() == "₹199.00 INR"
    assert Money(350, "USD") * 3 == Money(1050, "USD")
    assert Money(123456789, "USD").format() == "$1,234,567.89 USD"
    assert Money(500, "JPY").format() == "¥500 JPY"
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")


def test_delivery_never_prints_its_secret() -> None:
    delivery = Delivery(
        text=SecretStr("user:pass SECRET123"),
        items=(DeliveryItem(uid="a1", content=SecretStr("KEY-SECRET-456")),),
    )
    for shown in (repr(delivery), str(delivery), f"{delivery}", repr([delivery])):
        assert "SECRET123" not in shown
        assert "SECRET-456" not in shown
    assert delivery.reveal() == "user:pass SECRET123\n[a1] KEY-SECRET-456"
    assert Delivery.from_json(delivery.to_json()).reveal() == delivery.reveal()


def test_order_ids_are_unique_and_readable() -> None:
    ids = {new_order_id() for _ in range(2000)}
    assert len(ids) == 2000
    for oid in ids:
        assert oid.startswith("ORD-") and len(oid) == 14
        assert not set(oid[4:]) & set("ILOU")


# --- amounts staff type (issue 15) -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor", "code"),
    [
        ("12.50", "USD", 1250, "USD"),
        ("12.5", "USD", 1250, "USD"),
        ("12", "USD", 1200, "USD"),
        ("₹199", None, 19900, "INR"),
        ("199 INR", "INR", 19900, "INR"),
        ("$3", None, 300, "USD"),
        ("  0.01 usd ", None, 1, "USD"),
        ("500", "JPY", 500, "JPY"),
        ("0.10", "USD", 10, "USD"),
    ],
)
def test_amounts_are_read_exactly(text: str, currency: str | None, minor: int, code: str) -> None:
    assert parse_amount(text, currency) == Money(minor, code)


@pytest.mark.parametrize(
    ("text", "currency", "why"),
    [
        ("1,250", "USD", "thousands"),
        ("1 250", "USD", "thousands"),
        ("12.505", "USD", "decimal place"),
        ("5.5", "JPY", "decimal place"),
        ("-5", "USD", "amount like"),
        ("1e3", "USD", "amount like"),
        ("0", "USD", "more than zero"),
        ("0.00", "USD", "more than zero"),
        ("₹199", "USD", "not USD"),
        ("12", None, "which currency"),
        ("12", "XYZ", "isn't a currency"),
        ("nan", "USD", "amount like"),
        ("", "USD", "amount like"),
    ],
)
def test_ambiguous_or_wrong_amounts_are_refused(text: str, currency: str | None, why: str) -> None:
    with pytest.raises(AmountError, match=why):
        parse_amount(text, currency)


@given(
    minor=st.integers(min_value=1, max_value=10**11),
    currency=st.sampled_from(["USD", "EUR", "GBP", "INR", "BDT", "JPY"]),
)
def test_what_format_prints_reads_back_exactly(minor: int, currency: str) -> None:
    shown = Money(minor, currency).format().replace(",", "")
    assert parse_amount(shown) == Money(minor, currency)
