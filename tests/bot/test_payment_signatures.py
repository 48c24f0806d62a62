"""Webhook signature checks for Razorpay and Stripe (issue 28): a good signature by any
listed secret verifies; a missing, malformed, forged or stale one is refused by name."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from bot.payments.signatures import (
    STRIPE_TOLERANCE_SECONDS,
    SignatureProblem,
    SignatureRefused,
    sign_razorpay,
    sign_stripe,
    verify_razorpay,
    verify_stripe,
)

NEW, OLD = SecretStr("whsec_new_secret"), SecretStr("whsec_old_secret")
BODY = json.dumps({"event": "payment_link.paid", "payload": {"amount": 50000}}).encode()


def refused(call: object) -> SignatureProblem:
    with pytest.raises(SignatureRefused) as caught:
        assert callable(call)
        call()
    return caught.value.problem


def test_razorpay_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    # Computed independently of the module under test: what Razorpay documents.
    expected = hmac.new(b"whsec_new_secret", BODY, hashlib.sha256).hexdigest()
    assert sign_razorpay(BODY, NEW) == expected
    verify_razorpay(BODY, expected, [NEW])
    verify_razorpay(BODY, expected.upper(), [NEW])


def test_razorpay_rotated_secret_still_verifies_until_removed() -> None:
    signed_by_old = sign_razorpay(BODY, OLD)
    verify_razorpay(BODY, signed_by_old, [NEW, OLD])
    assert refused(lambda: verify_razorpay(BODY, signed_by_old, [NEW])) is (
        SignatureProblem.MISMATCH
    )


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, SignatureProblem.MISSING),
        ("", SignatureProblem.MISSING),
        ("not-hex", SignatureProblem.MALFORMED),
        ("z" * 64, SignatureProblem.MALFORMED),
        ("0" * 64, SignatureProblem.MISMATCH),
    ],
)
def test_razorpay_refusals(header: str | None, problem: SignatureProblem) -> None:
    assert refused(lambda: verify_razorpay(BODY, header, [NEW])) is problem


def test_razorpay_one_changed_byte_of_the_body_is_refused() -> None:
    signature = sign_razorpay(BODY, NEW)
    tampered = BODY.replace(b"50000", b"90000")
    assert refused(lambda: verify_razorpay(tampered, signature, [NEW])) is (
        SignatureProblem.MISMATCH
    )
    assert refused(lambda: verify_razorpay(BODY, signature, [])) is SignatureProblem.MISMATCH


def test_stripe_signature_covers_the_timestamp_and_the_body() -> None:
    header = sign_stripe(BODY, NEW, timestamp=1_700_000_000)
    expected = hmac.new(b"whsec_new_secret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    verify_stripe(BODY, header, [NEW], now=1_700_000_010)
    # The same signature under another timestamp is a forgery.
    moved = header.replace("t=1700000000", "t=1700000005")
    assert refused(lambda: verify_stripe(BODY, moved, [NEW], now=1_700_000_010)) is (
        SignatureProblem.MISMATCH
    )


def test_stripe_replay_outside_the_tolerance_is_refused() -> None:
    header = sign_stripe(BODY, NEW, timestamp=1_700_000_000)
    late = 1_700_000_000 + STRIPE_TOLERANCE_SECONDS + 1
    assert refused(lambda: verify_stripe(BODY, header, [NEW], now=late)) is (SignatureProblem.STALE)
    verify_stripe(BODY, header, [NEW], now=late - 1)


def test_stripe_rotation_sends_several_v1_and_any_may_match() -> None:
    old_header = sign_stripe(BODY, OLD, timestamp=1_700_000_000)
    new_sig = sign_stripe(BODY, NEW, timestamp=1_700_000_000).split("v1=")[1]
    both = f"{old_header},v1={new_sig},v0=ignored"
    verify_stripe(BODY, both, [NEW], now=1_700_000_000)
    verify_stripe(BODY, old_header, [NEW, OLD], now=1_700_000_000)
    assert refused(lambda: verify_stripe(BODY, old_header, [NEW], now=1_700_000_000)) is (
        SignatureProblem.MISMATCH
    )


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, SignatureProblem.MISSING),
        ("v1=abc", SignatureProblem.MALFORMED),
        ("t=1700000000", SignatureProblem.MALFORMED),
        ("t=soon,v1=abc", SignatureProblem.MALFORMED),
        ("t=1700000000,v1=" + "0" * 64, SignatureProblem.MISMATCH),
        ("t=1,v1=" + "a" * 3000, SignatureProblem.MALFORMED),
    ],
)
def test_stripe_refusals(header: str | None, problem: SignatureProblem) -> None:
    assert refused(lambda: verify_stripe(BODY, header, [NEW], now=1_700_000_000)) is problem
