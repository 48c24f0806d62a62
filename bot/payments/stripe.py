"""Stripe Checkout Sessions (issue 28): `StripeClient` creates, fetches, finds and expires
the Checkout Session a buyer pays a top-up with. Calls go through the shared plumbing
(bot/providers/http.py): bounded in time and size, reads retried.

Contract notes (docs/payments.md):
- Requests are form-encoded with bracket notation; answers are JSON; the secret key is a
  bearer token.
- A create carries `Idempotency-Key: <our top-up id>`: Stripe answers a repeat with the
  session it made the first time, so a create is retried like a read, and a second
  session is never made for one top-up.
- A session is `open`, `complete` or `expired`; `payment_status` says whether a complete
  one is `paid` (a card) or still `unpaid` (a bank debit settling: the
  `async_payment_succeeded` or `_failed` event, or a later fetch, says which).
- What was paid is the paid session's `amount_total` in its `currency`, read the same way
  by the poll and the webhook; the PaymentIntent (fetched with `expand[]=payment_intent`)
  gives the payment id a credit is keyed by, and says whether a bank debit failed.
- Stripe's minimum charge per currency, and its rule that three-decimal currencies
  (BHD, JOD, KWD, OMR, TND) take amounts ending in 0, are checked before asking.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, StrictInt, StrictStr, ValidationError

from bot.payments.base import (
    AmountRefused,
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
from core.i18n import N_, _

# Stripe's minimum charge amounts, in minor units (its "Minimum and maximum charge
# amounts" table); a currency not listed is held to one minor unit here and Stripe's own
# answer decides.
MINIMUM_MINOR = {
    "USD": 50, "EUR": 50, "GBP": 30, "AUD": 50, "CAD": 50, "CHF": 50, "INR": 50,
    "JPY": 50, "HKD": 400, "SGD": 50, "AED": 200, "MXN": 1000, "NOK": 300, "SEK": 300,
    "DKK": 250, "PLN": 200, "CZK": 1500, "HUF": 17500, "BRL": 50, "NZD": 50, "MYR": 200,
    "THB": 1000, "RON": 200, "BGN": 100,
    "BHD": 500, "JOD": 500, "KWD": 500, "OMR": 500, "TND": 500,
}  # fmt: skip
# Card payments in these take amounts whose last digit is 0.
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# How far back `find_link` looks for a session made under our reference (a session
# lives at most 24 hours).
FIND_WINDOW = 25 * 3600


class _Intent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount_received: StrictInt = 0
    currency: StrictStr
    status: StrictStr


class _Session(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    status: StrictStr | None = None
    payment_status: StrictStr
    amount_total: StrictInt
    currency: StrictStr
    url: StrictStr | None = None
    client_reference_id: StrictStr | None = None
    expires_at: StrictInt | None = None
    payment_intent: _Intent | StrictStr | None = None


class _SessionList(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_Session]


class _Refund(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount: StrictInt
    currency: StrictStr
    status: StrictStr | None = None


class _Refunds(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_Refund] = []


class _Charge(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount_refunded: StrictInt
    currency: StrictStr
    payment_intent: StrictStr | None = None
    refunds: _Refunds | None = None


class _Dispute(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    amount: StrictInt
    currency: StrictStr
    payment_intent: StrictStr | None = None


class _EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    object: dict[str, Any]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr
    type: StrictStr
    data: _EventData


PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class StripeClient(ProviderHttp, PaymentClient):
    name = "stripe"
    key_settings = "STRIPE_SECRET_KEY"
    auth_statuses = (401, 403)
    minimum_minor = MINIMUM_MINOR
    # How we say them: translated as they are read (`_error_message`).
    KNOWN_MESSAGES = {
        "invalid api key provided": N_("the API key is refused"),
        "no such checkout.session": N_("no such Checkout Session"),
        'only checkout sessions with a status in ["open"] can be expired.': N_(
            "the session has ended already"
        ),
    }

    def payable(self, amount: Money) -> Money:
        least = super().payable(amount)
        if least.currency in THREE_DECIMAL and least.minor % 10:
            return Money(least.minor + 10 - least.minor % 10, least.currency)
        return least

    def check_amount(self, amount: Money) -> None:
        super().check_amount(amount)
        if amount.currency in THREE_DECIMAL and amount.minor % 10:
            raise AmountRefused(
                _(
                    "Card payments in {currency} must end in 0 (e.g. {example}).",
                    currency=amount.currency,
                    example=Money(amount.minor - amount.minor % 10 + 10, amount.currency).format(),
                )
            )

    def _error_message(self, body: Any) -> str | None:
        error = body.get("error")
        if not isinstance(error, dict):
            return None
        message = error.get("message")
        known = self._known(message.split(":")[0] if isinstance(message, str) else None)
        if known is not None:
            return known  # English: logs and alerts; translated where a buyer reads it
        code, param = identifier(error.get("code")), identifier(error.get("param"))
        if code and param:
            return f"{code} ({param})"
        return code or identifier(error.get("type"))

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        return isinstance(body.get("error"), dict)

    def _to_link(self, session: _Session) -> PaymentLink:
        currency = session.currency.upper()
        intent = session.payment_intent
        payments: tuple[CapturedPayment, ...] = ()
        if session.status == "complete" and session.payment_status == "paid":
            # What was paid is read from the session, as the webhook reads it: both
            # paths then credit the same figures (a presentment currency would otherwise
            # make the intent's differ from the session's).
            paid = Money(session.amount_total, currency)
            if isinstance(intent, _Intent):
                payments = (CapturedPayment(intent.id, paid),)
            elif isinstance(intent, str):
                payments = (CapturedPayment(intent, paid),)
            else:
                raise ProviderProtocolError(
                    self.name, for_staff(N_("a paid session without its payment"))
                )
        if session.status == "open":
            state = LinkState.OPEN
        elif session.status == "expired":
            state = LinkState.EXPIRED
        elif session.status == "complete" and session.payment_status == "paid":
            state = LinkState.PAID
        elif (
            session.status == "complete"
            and isinstance(intent, _Intent)
            and intent.status == "requires_payment_method"
        ):
            # A bank debit that failed: this session can't be paid any more.
            state = LinkState.CANCELLED
        elif session.status == "complete":
            state = LinkState.SETTLING  # a bank debit still settling: asked again later
        else:
            raise ProviderProtocolError(
                self.name, for_staff(N_("a Checkout Session in a state we don't know"))
            )
        return PaymentLink(
            remote_id=session.id,
            reference=session.client_reference_id or None,
            url=session.url or "",
            state=state,
            asked=Money(session.amount_total, currency),
            payments=payments,
            expires_at=float(session.expires_at) if session.expires_at else None,
        )

    async def create_link(
        self, *, reference: str, amount: Money, description: str, expires_at: float
    ) -> PaymentLink:
        form = {
            "mode": "payment",
            "client_reference_id": reference,
            "line_items[0][price_data][currency]": amount.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(amount.minor),
            "line_items[0][price_data][product_data][name]": description[:250],
            "line_items[0][quantity]": "1",
            "expires_at": str(int(expires_at)),
            # Where the payment page sends the buyer afterwards: Discord itself.
            "success_url": "https://discord.com/channels/@me",
            "metadata[topup_id]": reference,
        }
        # The same key makes a repeat return the first session: a create is as safe to
        # retry as a read.
        payload = await self._request(
            "POST",
            "/v1/checkout/sessions",
            form_body=form,
            headers={"Idempotency-Key": f"orderbot-{reference}"},
            idempotent=True,
        )
        return self._to_link(self._parse(_Session, payload))

    async def fetch_link(self, remote_id: str) -> PaymentLink:
        if not remote_id.startswith("cs_") or not remote_id.isascii():
            raise ProviderProtocolError(self.name, for_staff(N_("not a Checkout Session id")))
        payload = await self._request(
            "GET",
            f"/v1/checkout/sessions/{quote(remote_id, safe='')}?expand[]=payment_intent",
            idempotent=True,
        )
        return self._to_link(self._parse(_Session, payload))

    async def find_link(self, reference: str) -> PaymentLink | None:
        since = int(time.time() - FIND_WINDOW)
        payload = await self._request(
            "GET",
            f"/v1/checkout/sessions?limit=100&created[gte]={since}",
            idempotent=True,
        )
        found = [
            s for s in self._parse(_SessionList, payload).data if s.client_reference_id == reference
        ]
        return await self.fetch_link(found[0].id) if found else None

    async def cancel_link(self, remote_id: str) -> PaymentLink:
        payload = await self._request(
            "POST", f"/v1/checkout/sessions/{quote(remote_id, safe='')}/expire", idempotent=False
        )
        return self._to_link(self._parse(_Session, payload))

    async def check_key(self) -> None:
        # A list of at most one session: read-only, and refused with 401 for a bad key.
        await self._request("GET", "/v1/checkout/sessions?limit=1", idempotent=True)

    def parse_event(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """A Stripe event: its id is in the body. Session events carry the session (with
        our reference); `charge.refunded` the charge and its refunds;
        `charge.dispute.created` the dispute."""
        try:
            event = _Event.model_validate_json(body)
            obj = event.data.object
            common = PaymentEvent(event_id=event.id[:64], kind=event.type[:64])
            if event.type.startswith("checkout.session."):
                session = _Session.model_validate(obj)
                common = replace(
                    common, reference=session.client_reference_id or None, remote_id=session.id
                )
                if event.type in PAID_EVENTS and session.payment_status == "paid":
                    if not isinstance(session.payment_intent, str):
                        return common
                    paid = Money(session.amount_total, session.currency.upper())
                    return replace(
                        common, payments=(CapturedPayment(session.payment_intent, paid),)
                    )
                if event.type == "checkout.session.expired":
                    return replace(common, ended=LinkState.EXPIRED)
                if event.type == "checkout.session.async_payment_failed":
                    return replace(common, ended=LinkState.CANCELLED)
                return common
            if event.type == "charge.refunded":
                return replace(common, reversals=_refunds_of(_Charge.model_validate(obj)))
            if event.type == "charge.dispute.created":
                dispute = _Dispute.model_validate(obj)
                if dispute.payment_intent is None:
                    return common
                taken = Money(dispute.amount, dispute.currency.upper())
                disputed = Reversal(dispute.payment_intent, dispute.id, taken, "disputed")
                return replace(common, reversals=(disputed,))
            return common
        except ValidationError:
            raise EventUnreadable("not a Stripe event we can read") from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _refunds_of(charge: _Charge) -> tuple[Reversal, ...]:
    """Every refund of a refunded charge, each applied once by its id (so a lost earlier
    event costs nothing). Without the refunds list (API versions from 2022-11-15 leave
    it out), the charge's total refunded so far, as a cumulative reversal: each event
    takes only what no earlier total asked for, in whatever order they come."""
    if charge.payment_intent is None:
        return ()
    intent = charge.payment_intent
    refunds = charge.refunds.data if charge.refunds else []
    if refunds:
        return tuple(
            Reversal(intent, r.id, Money(r.amount, r.currency.upper()), "refunded") for r in refunds
        )
    taken = Money(charge.amount_refunded, charge.currency.upper())
    reference = f"{charge.id}:{charge.amount_refunded}"
    return (Reversal(intent, reference, taken, "refunded", cumulative=True),)


def build_stripe(
    base_url: str,
    secret_key: SecretStr,
    *,
    timeout: float,
    max_connections: int = 4,
    transport: httpx.AsyncBaseTransport | None = None,
) -> StripeClient:
    client = build_client(
        base_url,
        {
            "Authorization": f"Bearer {secret_key.get_secret_value()}",
            # Pinned, so the shapes read here don't move with the account's default.
            "Stripe-Version": "2024-06-20",
        },
        timeout=timeout,
        max_connections=max_connections,
        transport=transport,
    )
    stripe = StripeClient(client, secret_key)
    stripe.deadline = timeout
    return stripe
