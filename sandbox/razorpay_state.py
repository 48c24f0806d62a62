"""The state of the Razorpay sandbox (sandbox/razorpay.py serves it): payment links,
payments, the events they raise and their webhook deliveries, signed as Razorpay signs
them (a hex HMAC-SHA256 of the raw body with the webhook secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.state import ProviderState
from sandbox.util import is_int, json_response

DEFAULT_KEY_ID = "rzp_test_sandboxkey0001"
DEFAULT_KEY_SECRET = "sandbox-razorpay-secret"  # noqa: S105 - the sandbox's own, public
DEFAULT_WEBHOOK_SECRET = "sandbox-razorpay-webhook-secret"  # noqa: S105 - the sandbox's own, public
MIN_AMOUNT = 100  # subunits: "The amount must be at least INR 1.00"
MIN_EXPIRY_AHEAD = 15 * 60
MAX_REFERENCE_ID = 40
WEBHOOK_TIMEOUT = 5.0  # Razorpay's own: an answer later than this is a failure
CREATE_FIELDS = frozenset(
    {
        "amount",
        "currency",
        "accept_partial",
        "first_min_partial_amount",
        "upi_link",
        "description",
        "reference_id",
        "customer",
        "expire_by",
        "notify",
        "notes",
        "callback_url",
        "callback_method",
        "reminder_enable",
        "options",
    }
)
_ALPHANUMERIC = string.ascii_letters + string.digits


def razorpay_id(prefix: str) -> str:
    """`plink_` + 14 alphanumeric characters, as Razorpay's ids are."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(14))


@dataclass
class Delivery:
    event_id: str
    event: str
    status: int | None  # None: no answer (refused, timed out)
    signature: str
    at: float


class RazorpayState(ProviderState):
    """Links, payments, held events and deliveries (on top of the shared faults/log)."""

    name = "razorpay"

    def __init__(
        self,
        key_id: str = DEFAULT_KEY_ID,
        key_secret: str = DEFAULT_KEY_SECRET,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(key_id)
        self.key_secret = key_secret
        self.wall_clock = wall_clock
        self.links: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}  # payment id -> payment entity
        self.events: dict[str, bytes] = {}  # event id -> the exact body sent
        self.event_names: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.webhook_url: str | None = None
        self.webhook_secret = DEFAULT_WEBHOOK_SECRET
        self.account_id = "acc_" + razorpay_id("")[:14]
        self._references: set[str] = set()

    # -- the provider hooks ------------------------------------------------------------

    def is_authorized(self, request: web.Request) -> bool:
        token = base64.b64encode(f"{self.api_key}:{self.key_secret}".encode()).decode()
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Basic {token}".encode())

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        code = "SERVER_ERROR" if status >= 500 else "BAD_REQUEST_ERROR"
        description = message or {
            401: "The api key provided is invalid",
            404: "The requested URL was not found on the server.",
            429: "Too many requests",
        }.get(status, "The server encountered an error. The incident has been reported to admins.")
        return {
            "error": {
                "code": code,
                "description": description,
                "source": "NA",
                "step": "NA",
                "reason": "NA",
                "metadata": {},
            }
        }

    def reset(self) -> None:
        super().reset()
        self.links.clear()
        self.payments.clear()
        self.events.clear()
        self.event_names.clear()
        self.deliveries.clear()
        self._references.clear()

    # -- links -------------------------------------------------------------------------

    def bad_request(self, description: str, field_name: str | None = None) -> web.Response:
        body = self.error_body(400, description)
        body["error"].update(
            {
                "source": "business",
                "step": "payment_initiation",
                "reason": "input_validation_failed",
            }
        )
        if field_name:
            body["error"]["field"] = field_name
        return json_response(body, 400)

    def validate_create(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return self.bad_request("wrong input fields sent.")
        unknown = set(body) - CREATE_FIELDS
        if unknown:
            return self.bad_request(
                f"{sorted(unknown)[0]} is/are not required and should not be sent"
            )
        if "amount" not in body:
            return self.bad_request("The amount field is required.", "amount")
        amount = body["amount"]
        if not is_int(amount):
            return self.bad_request("The amount must be an integer.", "amount")
        currency = body.get("currency", "INR")
        if not isinstance(currency, str) or len(currency) != 3:
            return self.bad_request("The currency must be 3 characters.", "currency")
        if amount < MIN_AMOUNT:
            return self.bad_request(
                f"The amount must be at least {currency.upper()} 1.00", "amount"
            )
        reference = body.get("reference_id")
        if reference is not None:
            if not isinstance(reference, str) or len(reference) > MAX_REFERENCE_ID:
                return self.bad_request(
                    "The reference id may not be greater than 40 characters.", "reference_id"
                )
            if reference in self._references:
                return self.bad_request(
                    "payment link creation with reference ID already attempted", "reference_id"
                )
        expire_by = body.get("expire_by")
        if expire_by is not None:
            if not is_int(expire_by):
                return self.bad_request("The expire by must be an integer.", "expire_by")
            if expire_by != 0 and expire_by < self.wall_clock() + MIN_EXPIRY_AHEAD:
                return self.bad_request(
                    "timestamp must be atleast 15 minutes in future", "expire_by"
                )
        if body.get("callback_url") is not None and body.get("callback_method") != "get":
            return self.bad_request(
                "The callback method field is required when callback url is present.",
                "callback_method",
            )
        return None

    def create_link(self, body: dict[str, Any]) -> dict[str, Any]:
        now = int(self.wall_clock())
        link_id = razorpay_id("plink_")
        reference = body.get("reference_id") or ""
        if reference:
            self._references.add(reference)
        link = {
            "accept_partial": bool(body.get("accept_partial", False)),
            "amount": body["amount"],
            "amount_paid": 0,
            "callback_method": body.get("callback_method", ""),
            "callback_url": body.get("callback_url", ""),
            "cancelled_at": 0,
            "created_at": now,
            "currency": str(body.get("currency", "INR")).upper(),
            "customer": body.get("customer") or [],
            "description": body.get("description", ""),
            "expire_by": body.get("expire_by") or 0,
            "expired_at": 0,
            "first_min_partial_amount": body.get("first_min_partial_amount", 0),
            "id": link_id,
            "notes": body.get("notes"),
            "notify": body.get("notify") or {"email": False, "sms": False},
            "order_id": "order_" + link_id[len("plink_") :],
            "payments": None,
            "reference_id": reference,
            "reminder_enable": bool(body.get("reminder_enable", False)),
            "reminders": [],
            "short_url": f"https://rzp.io/rzp/{link_id[-7:]}",
            "status": "created",
            "updated_at": now,
            "upi_link": False,
            "user_id": "",
        }
        self.links[link_id] = link
        return link

    def link_now(self, link_id: str) -> dict[str, Any] | None:
        """The link as of now: one past its `expire_by` has expired (and said so)."""
        link = self.links.get(link_id)
        if link is None:
            return None
        expire_by = link["expire_by"]
        now = self.wall_clock()
        if link["status"] in ("created", "partially_paid") and expire_by and now >= expire_by:
            self.expire(link_id)
        return link

    def expire(self, link_id: str) -> str | None:
        link = self.links[link_id]
        if link["status"] not in ("created", "partially_paid"):
            return None
        now = int(self.wall_clock())
        link.update(status="expired", expired_at=now, updated_at=now)
        return self.new_event("payment_link.expired", {"payment_link": {"entity": dict(link)}})

    def cancel(self, link_id: str) -> tuple[dict[str, Any] | None, str | None]:
        link = self.links[link_id]
        if link["status"] in ("paid", "partially_paid"):
            return None, "cannot cancel or expire an already paid/partially paid link"
        if link["status"] in ("expired", "cancelled"):
            return None, "cannot cancel or expire an expired link"
        now = int(self.wall_clock())
        link.update(status="cancelled", cancelled_at=now, updated_at=now, payments=[])
        self.new_event("payment_link.cancelled", {"payment_link": {"entity": dict(link)}})
        return link, None

    def pay(self, link_id: str, amount: int | None) -> tuple[str, str]:
        """The payer pays: (payment id, event id). A link that is not payable still
        takes the money here, because a real payer can be mid-checkout when it ends."""
        link = self.links[link_id]
        due = link["amount"] - link["amount_paid"]
        paid = due if amount is None else amount
        now = int(self.wall_clock())
        payment_id = razorpay_id("pay_")
        payment = {
            "id": payment_id,
            "entity": "payment",
            "amount": paid,
            "currency": link["currency"],
            "status": "captured",
            "order_id": link["order_id"],
            "method": "upi",
            "amount_refunded": 0,
            "refund_status": None,
            "captured": True,
            "description": "#" + link_id[len("plink_") :],
            "email": "payer@example.com",
            "contact": "+919876543210",
            "created_at": now,
        }
        self.payments[payment_id] = payment
        link["amount_paid"] += paid
        link["payments"] = [
            *(link["payments"] or []),
            {
                "amount": paid,
                "created_at": now,
                "method": "upi",
                "payment_id": payment_id,
                "status": "captured",
            },
        ]
        partial = link["accept_partial"] and link["amount_paid"] < link["amount"]
        if link["status"] in ("created", "partially_paid"):
            link["status"] = "partially_paid" if partial else "paid"
        link["updated_at"] = now
        order = {
            "id": link["order_id"][len("order_") :],
            "entity": "order",
            "amount": link["amount"],
            "amount_paid": link["amount_paid"],
            "amount_due": max(0, link["amount"] - link["amount_paid"]),
            "currency": link["currency"],
            "receipt": link["reference_id"],
            "status": "attempted" if partial else "paid",
        }
        name = "payment_link.partially_paid" if partial else "payment_link.paid"
        event_id = self.new_event(
            name,
            {
                "payment_link": {"entity": dict(link)},
                "order": {"entity": order},
                "payment": {"entity": dict(payment)},
            },
        )
        return payment_id, event_id

    def refund(self, payment_id: str, amount: int) -> str:
        """A refund that goes through: its `refund.processed` event id."""
        return self.refund_steps(payment_id, amount)[1]

    def refund_steps(self, payment_id: str, amount: int, *, fails: bool = False) -> tuple[str, str]:
        """A refund's two events, (`refund.created`, then `refund.processed` or
        `refund.failed`), one refund id. A failed refund leaves the payment as it was."""
        payment = self.payments[payment_id]
        refund_id = razorpay_id("rfnd_")

        def event(name: str, status: str) -> str:
            refund = {
                "id": refund_id,
                "entity": "refund",
                "amount": amount,
                "currency": payment["currency"],
                "payment_id": payment_id,
                "status": status,
                "created_at": int(self.wall_clock()),
            }
            return self.new_event(
                name, {"refund": {"entity": refund}, "payment": {"entity": dict(payment)}}
            )

        payment["amount_refunded"] += amount
        created = event("refund.created", "pending")
        if fails:
            payment["amount_refunded"] -= amount
            return created, event("refund.failed", "failed")
        payment["refund_status"] = (
            "full" if payment["amount_refunded"] >= payment["amount"] else "partial"
        )
        return created, event("refund.processed", "processed")

    def dispute(self, payment_id: str, amount: int) -> str:
        """The payer's bank opens a dispute (a chargeback): `payment.dispute.created`,
        carrying the dispute and its payment."""
        payment = self.payments[payment_id]
        dispute = {
            "id": razorpay_id("disp_"),
            "entity": "dispute",
            "payment_id": payment_id,
            "amount": amount,
            "currency": payment["currency"],
            "amount_deducted": 0,
            "reason_code": "chargeback",
            "status": "open",
            "phase": "chargeback",
            "created_at": int(self.wall_clock()),
        }
        return self.new_event(
            "payment.dispute.created",
            {"payment": {"entity": dict(payment)}, "dispute": {"entity": dispute}},
        )

    # -- events and their delivery -----------------------------------------------------

    def new_event(self, name: str, payload: dict[str, Any]) -> str:
        event_id = razorpay_id("evt_")
        body = {
            "entity": "event",
            "account_id": self.account_id,
            "event": name,
            "contains": list(payload),
            "payload": payload,
            "created_at": int(self.wall_clock()),
        }
        self.events[event_id] = json.dumps(body).encode()
        self.event_names[event_id] = name
        return event_id

    def signature_for(self, body: bytes, mode: str) -> str | None:
        if mode == "missing":
            return None
        key = self.webhook_secret if mode == "good" else "not-the-webhook-secret"
        return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()

    async def deliver(
        self, event_id: str, *, copies: int = 1, signature: str = "good"
    ) -> list[int | None]:
        """POST the event to the webhook URL `copies` times (one after another, each
        with the same event id), as Razorpay's at-least-once delivery may."""
        if self.webhook_url is None:
            return []
        body = self.events[event_id]
        answers: list[int | None] = []
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(copies):
                headers = {"Content-Type": "application/json", "X-Razorpay-Event-Id": event_id}
                signed = self.signature_for(body, signature)
                if signed is not None:
                    headers["X-Razorpay-Signature"] = signed
                status: int | None
                try:
                    async with session.post(self.webhook_url, data=body, headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError):
                    status = None
                self.deliveries.append(
                    Delivery(event_id, self.event_names[event_id], status, signature, time.time())
                )
                answers.append(status)
        return answers
