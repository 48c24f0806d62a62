"""Razorpay Payment Links (issue 28): `RazorpayClient` creates, fetches, finds and cancels
the link a buyer pays a top-up with. Calls go through the shared plumbing
(bot/providers/http.py): bounded in time and size, GETs retried, a create whose answer
was lost reported as ambiguous (the caller then looks for it by our reference id,
which Razorpay keeps unique).

Contract notes (docs/payments.md): basic auth `key_id:key_secret`; amounts in subunits;
`payments` is null until a payment is captured; unknown ids answer 400, not 404.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, StrictInt, StrictStr, ValidationError

from bot.payments.base import (
    CapturedPayment,
    EventUnreadable,
    LinkState,
    PaymentClient,
    PaymentEvent,
    PaymentLink,
    Reversal,
    for_staff,
)
from bot.providers.errors import ProviderProtocolError
from bot.providers.http import ProviderHttp, build_client, identifier
from core.domain import Money
from core.i18n import N_

STATES = {
    "created": LinkState.OPEN,
    "partially_paid": LinkState.PARTIALLY_PAID,
    "paid": LinkState.PAID,
    "expired": LinkState.EXPIRED,
    "cancelled": LinkState.CANCELLED,
}


class _LinkPayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payment_id: StrictStr
    amount: StrictInt
    status: StrictStr


class _Link(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    status: StrictStr
    amount: StrictInt
    amount_paid: StrictInt = 0
    currency: StrictStr
    short_url: StrictStr
    reference_id: StrictStr | None = None
    expire_by: StrictInt = 0
    payments: list[_LinkPayment] | None = None


class _LinkList(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payment_links: list[_Link]


class _EventPayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount: StrictInt
    currency: StrictStr
    status: StrictStr


class _EventRefund(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount: StrictInt
    currency: StrictStr
    payment_id: StrictStr


class _EventDispute(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount: StrictInt
    currency: StrictStr
    payment_id: StrictStr


class _DisputeEntity(BaseModel):
    entity: _EventDispute


class _LinkEntity(BaseModel):
    entity: _Link


class _PaymentEntity(BaseModel):
    entity: _EventPayment


class _RefundEntity(BaseModel):
    entity: _EventRefund


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payment_link: _LinkEntity | None = None
    payment: _PaymentEntity | None = None
    refund: _RefundEntity | None = None
    dispute: _DisputeEntity | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event: StrictStr
    payload: _Payload


class RazorpayClient(ProviderHttp, PaymentClient):
    name = "razorpay"
    key_settings = "RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET"
    auth_statuses = (401,)
    # Razorpay's smallest payment: ₹1.00 (100 paise).
    minimum_minor = {"*": 100}
    # How we say them: translated as they are read (`_error_message`).
    KNOWN_MESSAGES = {
        "the api key provided is invalid": N_("the API key is refused"),
        "the id provided does not exist": N_("no such payment link"),
        "payment link creation with reference id already attempted": N_(
            "a link with this reference exists already"
        ),
        "timestamp must be atleast 15 minutes in future": N_(
            "the expiry must be at least 15 minutes ahead"
        ),
        "cannot cancel or expire an already paid/partially paid link": N_(
            "the link is paid (or partly paid)"
        ),
        "cannot cancel or expire an expired link": N_("the link has ended already"),
    }

    def _error_message(self, body: Any) -> str | None:
        error = body.get("error")
        if not isinstance(error, dict):
            return None
        known = self._known(error.get("description"))
        if known is not None:
            return known  # English: logs and alerts; translated where a buyer reads it
        code, field = identifier(error.get("code")), identifier(error.get("field"))
        if code and field:
            return f"{code} ({field})"
        return code

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        return isinstance(body.get("error"), dict)

    def _to_link(self, link: _Link) -> PaymentLink:
        state = STATES.get(link.status)
        if state is None:
            raise ProviderProtocolError(
                self.name, for_staff(N_("a payment link in a state we don't know"))
            )
        currency = link.currency.upper()
        payments = tuple(
            CapturedPayment(p.payment_id, Money(p.amount, currency))
            for p in link.payments or ()
            if p.status == "captured"
        )
        return PaymentLink(
            remote_id=link.id,
            reference=link.reference_id or None,
            url=link.short_url,
            state=state,
            asked=Money(link.amount, currency),
            payments=payments,
            expires_at=float(link.expire_by) if link.expire_by else None,
        )

    async def create_link(
        self, *, reference: str, amount: Money, description: str, expires_at: float
    ) -> PaymentLink:
        body = {
            "amount": amount.minor,
            "currency": amount.currency,
            "accept_partial": False,  # partial payments are off (issue 28)
            "reference_id": reference,
            "description": description[:2048],
            "expire_by": int(expires_at),
            "notify": {"sms": False, "email": False},  # the bot tells the buyer itself
            "reminder_enable": False,
        }
        payload = await self._request("POST", "/v1/payment_links", json_body=body, idempotent=False)
        return self._to_link(self._parse(_Link, payload))

    async def fetch_link(self, remote_id: str) -> PaymentLink:
        if not remote_id.startswith("plink_") or not remote_id.isascii():
            raise ProviderProtocolError(self.name, for_staff(N_("not a payment link id")))
        payload = await self._request("GET", f"/v1/payment_links/{remote_id}", idempotent=True)
        return self._to_link(self._parse(_Link, payload))

    async def find_link(self, reference: str) -> PaymentLink | None:
        payload = await self._request(
            "GET",
            f"/v1/payment_links?reference_id={quote(reference, safe='')}",
            idempotent=True,
        )
        found = [
            link
            for link in self._parse(_LinkList, payload).payment_links
            if link.reference_id == reference
        ]
        return self._to_link(found[0]) if found else None

    async def cancel_link(self, remote_id: str) -> PaymentLink:
        payload = await self._request(
            "POST", f"/v1/payment_links/{remote_id}/cancel", idempotent=False
        )
        return self._to_link(self._parse(_Link, payload))

    async def check_key(self) -> None:
        # A list of at most one link: read-only, and refused with 401 for a bad key.
        await self._request("GET", "/v1/payment_links?count=1", idempotent=True)

    def parse_event(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """A Razorpay event: its id is the `X-Razorpay-Event-Id` header (the body has
        none). Link events carry the link (with our reference) and, when paid, the
        payment; refund events carry the refund and its payment."""
        event_id = headers.get("X-Razorpay-Event-Id") or headers.get("x-razorpay-event-id")
        if not event_id or len(event_id) > 64 or not event_id.isascii():
            raise EventUnreadable("no X-Razorpay-Event-Id")
        try:
            event = _Event.model_validate_json(body)
        except ValidationError:
            raise EventUnreadable("not a Razorpay event") from None
        payload = event.payload
        link = payload.payment_link.entity if payload.payment_link else None
        common = PaymentEvent(
            event_id=event_id,
            kind=event.event[:64],
            reference=(link.reference_id or None) if link else None,
            remote_id=link.id if link else None,
        )
        if event.event in ("payment_link.paid", "payment_link.partially_paid"):
            payment = payload.payment.entity if payload.payment else None
            if payment is None or payment.status != "captured":
                return common
            paid = CapturedPayment(payment.id, Money(payment.amount, payment.currency.upper()))
            return replace(common, payments=(paid,))
        if event.event in ("payment_link.expired", "payment_link.cancelled"):
            ended = LinkState.EXPIRED if event.event.endswith("expired") else LinkState.CANCELLED
            return replace(common, ended=ended)
        if event.event in ("refund.created", "refund.processed", "refund.failed") and (
            payload.refund
        ):
            refund = payload.refund.entity
            taken = Money(refund.amount, refund.currency.upper())
            reversal = Reversal(refund.payment_id, refund.id, taken, "refunded")
            if event.event == "refund.failed":
                return replace(common, undone=reversal)
            return replace(common, reversals=(reversal,))
        if event.event == "payment.dispute.created" and payload.dispute:
            dispute = payload.dispute.entity
            taken = Money(dispute.amount, dispute.currency.upper())
            disputed = Reversal(dispute.payment_id, dispute.id, taken, "disputed")
            return replace(common, reversals=(disputed,))
        return common

    async def aclose(self) -> None:
        await self._client.aclose()


def build_razorpay(
    base_url: str,
    key_id: str,
    key_secret: SecretStr,
    *,
    timeout: float,
    max_connections: int = 4,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RazorpayClient:
    token = base64.b64encode(f"{key_id}:{key_secret.get_secret_value()}".encode()).decode()
    client = build_client(
        base_url,
        {"Authorization": f"Basic {token}"},
        timeout=timeout,
        max_connections=max_connections,
        transport=transport,
    )
    razorpay = RazorpayClient(client, key_secret)
    razorpay.deadline = timeout
    return razorpay
