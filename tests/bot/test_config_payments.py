"""The online top-up settings (issue 28): keys come in pairs, the webhook listens on an
IP address, and webhook secrets are a list, newest first, never printed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.config_payments import PaymentSettings, parse_listen
from bot.config_problems import describe_validation_error


def settings(**values: Any) -> PaymentSettings:
    return PaymentSettings(_env_file=None, **values)


def test_no_keys_means_no_online_top_ups() -> None:
    empty = settings()
    assert not empty.razorpay_enabled and empty.top_up_currencies() == {}
    assert empty.webhook_listen() is None


def test_a_key_id_without_its_secret_names_the_missing_one() -> None:
    with pytest.raises(ValidationError) as missing:
        settings(razorpay_key_id="rzp_test_abc")
    assert "set RAZORPAY_KEY_SECRET" in said(missing.value)
    with pytest.raises(ValidationError) as wrong:
        settings(razorpay_key_id="abc", razorpay_key_secret="s3cret-value")
    # What the owner is shown (load_settings' lines): the rule, never the value.
    assert "rzp_test_" in said(wrong.value) and "s3cret-value" not in said(wrong.value)


def said(exc: ValidationError) -> str:
    return "\n".join(describe_validation_error(exc, env_style=True))


def test_webhook_secrets_are_a_list_newest_first_and_stay_secret() -> None:
    configured = settings(
        razorpay_key_id="rzp_test_abc",
        razorpay_key_secret="key-secret",
        razorpay_webhook_secrets=" new-one , old-one ,",
        payment_webhook_listen="127.0.0.1:8089",
    )
    assert configured.top_up_currencies() == {"INR": "razorpay"}
    secrets = configured.webhook_secrets()["razorpay"]
    assert [s.get_secret_value() for s in secrets] == ["new-one", "old-one"]
    assert "new-one" not in repr(configured) and "key-secret" not in repr(configured)
    assert configured.webhook_listen() == ("127.0.0.1", 8089)


@pytest.mark.parametrize("value", ["8089", "localhost:8089", "127.0.0.1:0", "127.0.0.1:x"])
def test_a_listen_address_must_be_ip_and_port(value: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(value)
    assert parse_listen("[::1]:9000") == ("::1", 9000)


def test_stripe_takes_every_other_currency_the_shop_sells() -> None:
    both = settings(
        razorpay_key_id="rzp_test_abc",
        razorpay_key_secret="key-secret",
        stripe_secret_key="sk_test_stripe-secret",
        stripe_webhook_secrets="whsec_new,whsec_old",
    )
    assert both.top_up_currencies(["INR", "usd", "BHD"]) == {
        "INR": "razorpay",
        "USD": "stripe",
        "BHD": "stripe",
    }
    # A shop selling nothing yet: USD through Stripe.
    alone = settings(stripe_secret_key="sk_live_x")
    assert alone.top_up_currencies([]) == {"USD": "stripe"}
    assert alone.top_up_currencies(["INR"]) == {"INR": "stripe"}
    secrets = both.webhook_secrets()["stripe"]
    assert [s.get_secret_value() for s in secrets] == ["whsec_new", "whsec_old"]
    assert "sk_test_stripe-secret" not in repr(both)


def test_a_publishable_stripe_key_is_refused_by_name_without_its_value() -> None:
    with pytest.raises(ValidationError) as wrong:
        settings(stripe_secret_key="pk_test_visible-in-browsers")
    assert "not the publishable one" in said(wrong.value)
    assert "pk_test_visible" not in said(wrong.value)
