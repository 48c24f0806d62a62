"""The state of the Stripe sandbox (sandbox/stripe.py serves it): Checkout Sessions, the
PaymentIntent and Charge a payment makes, refunds and disputes, the events they raise and
their webhook deliveries, signed as Stripe signs them (`Stripe-Signature: t=..,v1=..`,
the hex HMAC-SHA256 of `"{t}.{raw body}"` with the endpoint secret).

Objects are kept in the shapes of API version 2024-06-20 and are handed out as copies of
what is stored, so nothing a caller does to a reply changes the sandbox. Stripe's wire
format (bracketed parameters, its errors) is sandbox/stripe_wire.py."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.state import ProviderState

DEFAULT_SECRET_KEY = "sk_test_sandbox_0000000000000000"  # noqa: S105 - the sandbox's own, public
DEFAULT_WEBHOOK_SECRET = "whsec_sandbox_0000000000000000"  # noqa: S105 - the sandbox's own, public
API_VERSION = "2024-06-20"
MIN_EXPIRY_AHEAD = 30 * 60  # `expires_at`: 30 minutes to 24 hours after creation
MAX_EXPIRY_AHEAD = 24 * 60 * 60  # ... and the default
MAX_CLIENT_REFERENCE_ID = 200
MAX_AMOUNT = 99_999_999  # eight digits of minor units, Stripe's ceiling
OLD_SIGNATURE_AGE = 600  # the `old` signature: well past the libraries' 300 s tolerance
WEBHOOK_TIMEOUT = 10.0  # an answer later than this counts as no answer
# Stripe's minimum charge per settlement currency, in minor units.
MIN_AMOUNTS = {
    "usd": 50, "eur": 50, "gbp": 30, "aud": 50, "cad": 50, "chf": 50, "inr": 50,
    "jpy": 50, "hkd": 400, "sgd": 50, "aed": 200, "mxn": 1000, "nok": 300, "sek": 300,
    "dkk": 250, "pln": 200, "czk": 1500, "huf": 17500, "brl": 50, "nzd": 50, "myr": 200,
    "thb": 1000, "ron": 200, "bgn": 100,
    "bhd": 500, "jod": 500, "kwd": 500, "omr": 500, "tnd": 500,
}  # fmt: skip
# Three-decimal currencies: Stripe takes their amounts in thousandths but only whole
# hundredths, so the last digit must be 0.
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
_ALPHANUMERIC = string.ascii_letters + string.digits
_KEY_PREFIX = re.compile(r"(?:sk|rk|pk)_(?:test|live)_")
NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the "
    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
)


def stripe_id(prefix: str, length: int = 24) -> str:
    """`pi_` + 24 alphanumeric characters, as Stripe's ids look (sessions are longer)."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def mask_key(key: str) -> str:
    """A refused key as Stripe quotes it: its `sk_test_` prefix and at most its last four
    characters, the rest starred; a short key is starred whole, so none is ever echoed."""
    match = _KEY_PREFIX.match(key)
    head = match.group(0) if match else ""
    rest = key[len(head) :]
    tail = rest[-4:] if len(rest) > 12 else ""
    return head + "*" * (len(rest) - len(tail)) + tail


def format_minor(amount: int, currency: str) -> str:
    """`50`, `usd` -> `0.50 usd`: an amount in minor units as a person reads it."""
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    if exponent == 0:
        return f"{amount} {currency}"
    whole, part = divmod(amount, 10**exponent)
    return f"{whole}.{part:0{exponent}d} {currency}"


@dataclass
class Delivery:
    event_id: str
    type: str
    status: int | None  # None: no answer (refused, timed out)
    signature: str  # good, wrong, missing, old
    at: float  # the wall clock


class StripeState(ProviderState):
    """Sessions, payment intents, charges, events and deliveries (on top of the shared
    faults and request log)."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str = DEFAULT_SECRET_KEY,
        *,
        wall_clock: Callable[[], float] = time.time,
        hang_seconds: float = 30.0,
    ) -> None:
        super().__init__(secret_key, hang_seconds=hang_seconds)
        self.wall_clock = wall_clock
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # refunds listed inside, newest first
        self.disputes: dict[str, dict[str, Any]] = {}
        # Session id -> `payment_intent_data[metadata]`, what its PaymentIntent and Charge
        # will carry; kept beside the session, which does not show it.
        self.intent_metadata: dict[str, dict[str, str]] = {}
        self.events: dict[str, bytes] = {}  # event id -> the exact body sent
        self.event_types: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        # Idempotency-Key -> (endpoint, params, status, body) of the first request's answer.
        self.idempotent: dict[str, tuple[str, dict[str, Any], int, bytes]] = {}
        self.webhook_url: str | None = None
        self.webhook_secret = DEFAULT_WEBHOOK_SECRET
        # Why the last key was refused: set by is_authorized, taken by the error_body that
        # follows it (sandbox.faults calls the two with no await between them).
        self._refusal: str | None = None

    # -- the provider hooks ------------------------------------------------------------

    def presented_key(self, request: web.Request) -> str | None:
        """The key sent: `Bearer <key>`, or Basic with the key as user and no password
        (what `curl -u sk_test_...:` sends); "" for a header we can't read, None for none."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return ""
            user, _, password = decoded.partition(":")
            return user if not password else ""
        return ""

    def is_authorized(self, request: web.Request) -> bool:
        key = self.presented_key(request) or ""
        ok = hmac.compare_digest(key.encode("utf-8", "replace"), self.api_key.encode())
        refusal = f"Invalid API Key provided: {mask_key(key)}" if key else NO_KEY_MESSAGE
        self._refusal = None if ok else refusal
        return ok

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": "invalid_request_error"}
        if status == 401:
            refusal, self._refusal = self._refusal, None
            message = message or refusal or "Invalid API Key provided."
        elif status == 429:
            error["code"] = "rate_limit"
            message = message or "Request rate limit exceeded. Retry with exponential backoff."
        elif status == 409:
            error["code"] = "idempotency_key_in_use"
            message = message or "There is currently another in-progress request using this key."
        elif status >= 500:
            error["type"] = "api_error"
        error["message"] = message or {
            400: "Invalid request.",
            404: "Unrecognized request URL. Please see https://stripe.com/docs.",
        }.get(status, "An unknown error occurred.")
        return {"error": error}

    def new_order_id(self) -> str:
        # A session's id; the `wrong_id` fault answers with one of these too.
        return stripe_id("cs_test_", 58)

    def reset(self) -> None:
        super().reset()
        for kept in (self.sessions, self.payment_intents, self.charges, self.disputes):
            kept.clear()
        self.intent_metadata.clear()
        self.events.clear()
        self.event_types.clear()
        self.deliveries.clear()
        self.idempotent.clear()

    # -- sessions ----------------------------------------------------------------------

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        """A session from parameters that passed `sandbox.stripe.validate_create`."""
        now = int(self.wall_clock())
        session_id = self.new_order_id()
        item = params["line_items"][0]
        price = item["price_data"]
        total = int(price["unit_amount"]) * int(item["quantity"])
        intent_data = params.get("payment_intent_data") or {}
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": str(price["currency"]).lower(),
            "customer": None,
            "expires_at": int(params.get("expires_at") or now + MAX_EXPIRY_AHEAD),
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self.intent_metadata[session_id] = dict(intent_data.get("metadata") or {})
        return copy.deepcopy(session)

    def session_now(self, session_id: str) -> dict[str, Any] | None:
        """The session as of now: an open one past its `expires_at` has expired (and its
        event was made, once), as Stripe's expiry job would have done by the time anyone
        asks."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        if session["status"] == "open" and self.wall_clock() >= session["expires_at"]:
            self.expire(session_id)
        return copy.deepcopy(session)

    def sessions_newest_first(self) -> list[dict[str, Any]]:
        """Every session as of now, newest first (the later made first among equals)."""
        current = [self.session_now(sid) or {} for sid in reversed(list(self.sessions))]
        return sorted(current, key=lambda s: s["created"], reverse=True)

    def expire(self, session_id: str) -> str | None:
        """Expire an open session: its `checkout.session.expired` event id, or None when
        it is not open."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            return None
        session.update(status="expired", url=None)
        return self.new_event("checkout.session.expired", session)

    def intent_view(self, intent_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.payment_intents[intent_id])

    # -- payments ----------------------------------------------------------------------

    def pay(self, session_id: str, *, is_async: bool = False) -> tuple[str, str, str]:
        """The payer pays: (payment intent id, charge id, event id). A card payment
        succeeds at once; an async one (a bank debit) stays `processing` until `settle`.
        A session that is no longer open still takes it, as a payer mid-checkout when it
        expired would. Raises ValueError for a session that already has a payment."""
        self.session_now(session_id)  # one past its time expires first, and says so
        session = self.sessions[session_id]
        if session["payment_intent"] is not None:
            raise ValueError("the session is already paid")
        now = int(self.wall_clock())
        amount, currency = session["amount_total"], session["currency"]
        intent_id, charge_id = stripe_id("pi_"), stripe_id("ch_")
        metadata = self.intent_metadata.get(session_id, {})
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0 if is_async else amount,
            "created": now,
            "currency": currency,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": dict(metadata),
            "status": "processing" if is_async else "succeeded",
        }
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if is_async else amount,
            "amount_refunded": 0,
            "captured": not is_async,
            "created": now,
            "currency": currency,
            "disputed": False,
            "livemode": False,
            "metadata": dict(metadata),
            "paid": not is_async,
            "payment_intent": intent_id,
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "status": "pending" if is_async else "succeeded",
        }
        session.update(
            status="complete",
            url=None,
            payment_intent=intent_id,
            payment_status="unpaid" if is_async else "paid",
        )
        return intent_id, charge_id, self.new_event("checkout.session.completed", session)

    def settle(self, session_id: str, *, succeeded: bool) -> str:
        """An async payment's outcome: its `checkout.session.async_payment_*` event id.
        Raises ValueError unless the session's payment is still processing."""
        session = self.sessions[session_id]
        intent_id = session["payment_intent"]
        intent = self.payment_intents.get(intent_id or "")
        if intent is None or intent["status"] != "processing":
            raise ValueError("the session has no payment processing")
        charge = self.charges[intent["latest_charge"]]
        if succeeded:
            intent.update(status="succeeded", amount_received=intent["amount"])
            charge.update(
                status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
            )
            session["payment_status"] = "paid"
            return self.new_event("checkout.session.async_payment_succeeded", session)
        # A failed debit leaves the intent wanting another payment method; nothing was paid.
        intent["status"] = "requires_payment_method"
        charge["status"] = "failed"
        return self.new_event("checkout.session.async_payment_failed", session)

    def captured_charge(self, intent_id: str) -> dict[str, Any]:
        """The charge that took the intent's money; ValueError when it took none."""
        intent = self.payment_intents[intent_id]
        if intent["status"] != "succeeded":
            raise ValueError(f"the payment intent is {intent['status']}, not succeeded")
        return self.charges[intent["latest_charge"]]

    def refund(self, intent_id: str, amount: int | None = None) -> tuple[str, str]:
        """A refund that goes through: (refund id, `charge.refunded` event id). Its
        charge lists every refund so far, newest first, and the sum in `amount_refunded`.
        `amount` defaults to what is left; more than that raises ValueError."""
        charge = self.captured_charge(intent_id)
        left = charge["amount_captured"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if not 0 < amount <= left:
            raise ValueError(f"amount must be 1..{left} (what is left to refund)")
        refund_id = stripe_id("re_")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(self.wall_clock()),
            "currency": charge["currency"],
            "payment_intent": intent_id,
            "status": "succeeded",
        }
        refunds = charge["refunds"]
        refunds["data"].insert(0, refund)
        refunds["total_count"] = len(refunds["data"])
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        return refund_id, self.new_event("charge.refunded", charge)

    def dispute(self, intent_id: str, amount: int | None = None) -> tuple[str, str]:
        """The payer's bank disputes the charge: (dispute id, `charge.dispute.created`
        event id). One dispute per charge, as Stripe has it; ValueError otherwise."""
        charge = self.captured_charge(intent_id)
        if charge["disputed"]:
            raise ValueError("the charge is already disputed")
        amount = charge["amount_captured"] if amount is None else amount
        if not 0 < amount <= charge["amount_captured"]:
            raise ValueError(f"amount must be 1..{charge['amount_captured']}")
        dispute_id = stripe_id("dp_")
        dispute = {
            "id": dispute_id,
            "object": "dispute",
            "amount": amount,
            "charge": charge["id"],
            "created": int(self.wall_clock()),
            "currency": charge["currency"],
            "livemode": False,
            "payment_intent": intent_id,
            "reason": "fraudulent",
            "status": "needs_response",
        }
        self.disputes[dispute_id] = dispute
        charge["disputed"] = True
        return dispute_id, self.new_event("charge.dispute.created", dispute)

    # -- events and their delivery -----------------------------------------------------

    def new_event(self, kind: str, obj: dict[str, Any]) -> str:
        """Record an event whose `data.object` is `obj` as it is now; the body is kept
        as bytes, so every delivery of it (a retry, a duplicate) is the same bytes."""
        event_id = stripe_id("evt_")
        body = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": int(self.wall_clock()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            # What Stripe names when an API request caused it; the sandbox's were not.
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
        self.events[event_id] = json.dumps(body).encode()
        self.event_types[event_id] = kind
        return event_id

    def signature_for(self, body: bytes, mode: str) -> str | None:
        """The `Stripe-Signature` header of `body` in `mode`: good, wrong (another
        secret), missing (None) or old (signed well, ten minutes ago)."""
        if mode == "missing":
            return None
        now = int(self.wall_clock())
        timestamp = now - OLD_SIGNATURE_AGE if mode == "old" else now
        secret = "whsec_not_the_endpoint_secret" if mode == "wrong" else self.webhook_secret
        signed = f"{timestamp}.".encode() + body
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={digest}"

    async def deliver(
        self, event_id: str, *, copies: int = 1, signature: str = "good"
    ) -> list[int | None]:
        """POST the event to the webhook URL `copies` times, one after another, each
        the same body (Stripe delivers at least once, so duplicates are real)."""
        if self.webhook_url is None:
            return []
        body = self.events[event_id]
        answers: list[int | None] = []
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(copies):
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                }
                signed = self.signature_for(body, signature)
                if signed is not None:
                    headers["Stripe-Signature"] = signed
                status: int | None
                try:
                    async with session.post(self.webhook_url, data=body, headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError):
                    status = None
                self.deliveries.append(
                    Delivery(
                        event_id, self.event_types[event_id], status, signature, self.wall_clock()
                    )
                )
                answers.append(status)
        return answers
