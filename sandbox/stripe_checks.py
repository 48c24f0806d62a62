"""What the Stripe sandbox (sandbox/stripe.py) checks of a request before acting on it,
as Stripe does: the create parameters (one inline-priced line item, the currency's
minimum charge, three-decimal amounts ending in 0, `expires_at` 30 minutes to 24 hours
ahead, nothing unknown or empty) and the list filters."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from typing import Any

from sandbox.stripe_state import (
    MAX_AMOUNT,
    MAX_CLIENT_REFERENCE_ID,
    MAX_EXPIRY_AHEAD,
    MIN_AMOUNTS,
    MIN_EXPIRY_AHEAD,
    THREE_DECIMAL,
    format_minor,
)
from sandbox.stripe_wire import StripeError

# The create parameters in Stripe's reference. Those the sandbox has no use for are
# taken and ignored, so a client may send whatever Stripe would take; others are refused.
CREATE_FIELDS = frozenset(
    "after_expiration allow_promotion_codes automatic_tax billing_address_collection "
    "cancel_url client_reference_id consent_collection currency custom_fields custom_text "
    "customer customer_creation customer_email customer_update discounts expand expires_at "
    "invoice_creation line_items locale metadata mode payment_intent_data "
    "payment_method_collection payment_method_configuration payment_method_options "
    "payment_method_types phone_number_collection redirect_on_completion return_url "
    "shipping_address_collection shipping_options submit_type success_url "
    "tax_id_collection ui_mode".split()
)
LIST_FIELDS = frozenset(
    {"created", "expand", "limit", "payment_intent", "starting_after", "status"}
)
# `created[gte]=t` keeps a session whose `created` >= t: each test is op(t, created).
CREATED_TESTS = {"eq": operator.eq, "gt": operator.lt, "gte": operator.le}
CREATED_TESTS |= {"lt": operator.gt, "lte": operator.ge}
STATUSES = ("open", "complete", "expired")
SIGNATURES = ("good", "wrong", "missing", "old")
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def missing(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", param, code="parameter_missing")


def parse_int(value: Any, param: str, *, least: int | None = None) -> int:
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise StripeError(
            f"Invalid integer: {str(value)[:40]}", param, code="parameter_invalid_integer"
        )
    if least is not None and int(value) < least:
        raise StripeError(
            f"This value must be greater than or equal to {least}.",
            param,
            code="parameter_invalid_integer",
        )
    return int(value)


def refuse_unknown(given: dict[str, Any], known: frozenset[str], prefix: str = "") -> None:
    for name in given:
        if name not in known:
            param = f"{prefix}[{name}]" if prefix else name
            raise StripeError(
                f"Received unknown parameter: {param}", param, code="parameter_unknown"
            )


def check_metadata(value: Any, param: str) -> None:
    if value is not None and (
        not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
    ):
        raise StripeError("Invalid object", param)


def check_line_items(items: Any) -> None:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise StripeError("Invalid array", "line_items")
    if len(items) != 1:
        # The sandbox's limit, not Stripe's: a top-up is one line.
        raise StripeError("The Stripe sandbox takes exactly one line item.", "line_items")
    item, at = items[0], "line_items[0]"
    if "price" in item:
        raise StripeError("The Stripe sandbox takes price_data, not a Price.", f"{at}[price]")
    price = item.get("price_data")
    if not isinstance(price, dict):
        raise missing(f"{at}[price_data]")
    currency = price.get("currency")
    if currency is None:
        raise missing(f"{at}[price_data][currency]")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise StripeError(f"Invalid currency: {currency}", f"{at}[price_data][currency]")
    currency = currency.lower()  # Stripe takes `USD` and answers `usd`
    product = price.get("product_data")
    if not isinstance(product, dict) or not product.get("name"):
        raise missing(f"{at}[price_data][product_data][name]")
    param = f"{at}[price_data][unit_amount]"
    if "unit_amount" not in price:
        raise missing(param)
    unit = parse_int(price["unit_amount"], param, least=0)
    if "quantity" not in item:
        raise missing(f"{at}[quantity]")
    total = unit * parse_int(item["quantity"], f"{at}[quantity]", least=1)
    if currency in THREE_DECIMAL and unit % 10:
        raise StripeError(
            f"Amounts in {currency} must end in 0: Stripe takes whole hundredths only.",
            param,
            code="invalid_amount",
        )
    # The minimum is on what is charged; a currency we have no minimum for needs 1.
    least = MIN_AMOUNTS.get(currency, 1)
    if total < least:
        raise StripeError(
            "The Checkout Session's total amount due must add up to at least "
            f"{format_minor(least, currency)}",
            param,
            code="amount_too_small",
        )
    if total > MAX_AMOUNT:
        raise StripeError(
            f"Amount must be no more than {format_minor(MAX_AMOUNT, currency)}",
            param,
            code="amount_too_large",
        )


def validate_create(params: dict[str, Any], now: float) -> None:
    """Raise Stripe's refusal (400) of a create request whose session can't be made."""
    refuse_unknown(params, CREATE_FIELDS)
    for name, value in params.items():
        if value == "":
            # Stripe reads an empty value as "unset", which a create can't do.
            raise StripeError(
                f"You passed an empty string for '{name}'. We assume empty values are an "
                f"attempt to unset a parameter; however '{name}' cannot be unset.",
                name,
                code="parameter_invalid_empty",
            )
    if "mode" not in params:
        raise missing("mode")
    if params["mode"] != "payment":
        raise StripeError("Invalid mode: the Stripe sandbox makes payment sessions.", "mode")
    if "line_items" not in params:
        raise missing("line_items")
    check_line_items(params["line_items"])
    if "expires_at" in params:
        ahead = parse_int(params["expires_at"], "expires_at") - int(now)
        if not MIN_EXPIRY_AHEAD <= ahead <= MAX_EXPIRY_AHEAD:
            bound = "at least 30 minutes" if ahead < MIN_EXPIRY_AHEAD else "less than 24 hours"
            raise StripeError(
                f"The `expires_at` timestamp must be {bound} from Checkout Session creation.",
                "expires_at",
            )
    reference = params.get("client_reference_id", "")
    if not isinstance(reference, str) or len(reference) > MAX_CLIENT_REFERENCE_ID:
        raise StripeError(
            f"Invalid string: {str(reference)[:20]}...; must be at most 200 characters",
            "client_reference_id",
        )
    check_metadata(params.get("metadata"), "metadata")
    intent_data = params.get("payment_intent_data", {})
    if not isinstance(intent_data, dict):
        raise StripeError("Invalid object", "payment_intent_data")
    check_metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")


def expansions(params: dict[str, Any], allowed: str) -> list[str]:
    """What `expand[]` asks for; only `allowed` can be."""
    wanted = params.get("expand", [])
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
        raise StripeError("Invalid array", "expand")
    for index, name in enumerate(wanted):
        if name != allowed:
            raise StripeError(f"This property cannot be expanded ({name}).", f"expand[{index}]")
    return wanted


def list_filters(params: dict[str, Any]) -> list[tuple[str, Callable[[Any], bool]]]:
    """`(field, test)` pairs a listed session must pass."""
    refuse_unknown(params, LIST_FIELDS)
    filters: list[tuple[str, Callable[[Any], bool]]] = []
    status = params.get("status")
    if status is not None:
        if status not in STATUSES:
            raise StripeError(f"Invalid status: must be one of {', '.join(STATUSES)}", "status")
        filters.append(("status", functools.partial(operator.eq, status)))
    if params.get("payment_intent") is not None:
        filters.append(("payment_intent", functools.partial(operator.eq, params["payment_intent"])))
    created = params.get("created", {})
    for op, value in (created if isinstance(created, dict) else {"eq": created}).items():
        param = f"created[{op}]" if isinstance(created, dict) else "created"
        if op not in CREATED_TESTS:
            raise StripeError(
                f"Received unknown parameter: {param}", param, code="parameter_unknown"
            )
        bound = parse_int(value, param)
        filters.append(("created", functools.partial(CREATED_TESTS[op], bound)))
    return filters
