"""Webhook signatures of the payment providers, verified before anything is read or
stored (issue 28). Every comparison is constant-time (`hmac.compare_digest`).

Secrets are a list, newest first: after a rotation the provider may still retry events
signed with the old secret, and those must verify until it is removed from the list.

- Razorpay: `X-Razorpay-Signature` is the hex HMAC-SHA256 of the raw body with the
  webhook secret. Nothing in it is timed, so a replay is caught by the event id (stored
  once, `storage.payment_events.record_event`), not here.
- Stripe: `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>…]`, each v1 the HMAC-SHA256
  of `"{t}.{raw body}"` with the endpoint secret. A timestamp outside the tolerance is
  refused, so an old event replayed is refused even with a good signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

from pydantic import SecretStr

# Stripe's libraries refuse a signature older than this by default.
STRIPE_TOLERANCE_SECONDS = 300
# A header longer than this is not a signature (a few v1 values during a rotation are).
MAX_HEADER_LENGTH = 2048


class SignatureProblem(StrEnum):
    """Why a webhook was refused (401). Said in logs by name only: never the body."""

    MISSING = "no signature header"
    MALFORMED = "a signature header we can't read"
    MISMATCH = "a signature that matches none of our webhook secrets"
    STALE = "a signature timestamp older than the tolerance (a replay, or a clock far off)"


class SignatureRefused(Exception):
    def __init__(self, problem: SignatureProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _hmac_hex(secret: SecretStr, payload: bytes) -> str:
    return hmac.new(secret.get_secret_value().encode(), payload, hashlib.sha256).hexdigest()


def _matches_any(expected: Sequence[str], given: Sequence[str]) -> bool:
    # Every pair is compared (no early exit on the first secret), so the time taken says
    # nothing about which secret, if any, was close.
    found = False
    for mine in expected:
        for theirs in given:
            found |= hmac.compare_digest(mine.encode(), theirs.encode())
    return found


def verify_razorpay(body: bytes, header: str | None, secrets: Sequence[SecretStr]) -> None:
    """Raise SignatureRefused unless `header` is the signature of `body` by one of
    `secrets`."""
    if not header:
        raise SignatureRefused(SignatureProblem.MISSING)
    header = header.strip()
    if len(header) != 64 or not all(c in "0123456789abcdefABCDEF" for c in header):
        raise SignatureRefused(SignatureProblem.MALFORMED)
    if not secrets or not _matches_any([_hmac_hex(s, body) for s in secrets], [header.lower()]):
        raise SignatureRefused(SignatureProblem.MISMATCH)


def sign_razorpay(body: bytes, secret: SecretStr) -> str:
    """The header value Razorpay would send (for the sandbox and the tests)."""
    return _hmac_hex(secret, body)


def verify_stripe(
    body: bytes,
    header: str | None,
    secrets: Sequence[SecretStr],
    *,
    now: float,
    tolerance: float = STRIPE_TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureRefused unless `header` carries a v1 signature of `t.body` by one
    of `secrets`, with `t` no more than `tolerance` seconds before `now`."""
    if not header:
        raise SignatureRefused(SignatureProblem.MISSING)
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureRefused(SignatureProblem.MALFORMED)
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value.lower())
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise SignatureRefused(SignatureProblem.MALFORMED)
    signed = timestamp.encode() + b"." + body
    if not secrets or not _matches_any([_hmac_hex(s, signed) for s in secrets], signatures):
        raise SignatureRefused(SignatureProblem.MISMATCH)
    # Too old only, as Stripe's own libraries check: our clock running behind must not
    # refuse every event, and a future timestamp still needed the secret to sign.
    if now - int(timestamp) > tolerance:
        raise SignatureRefused(SignatureProblem.STALE)


def sign_stripe(body: bytes, secret: SecretStr, *, timestamp: int) -> str:
    """The header value Stripe would send (for the sandbox and the tests)."""
    return f"t={timestamp},v1={_hmac_hex(secret, str(timestamp).encode() + b'.' + body)}"
