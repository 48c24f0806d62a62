"""Checkout orders API: `POST /orders` → 201, 422 on bad parameters. Integer minor units,
INR, `contact.phone_number` required, and an optional client-chosen `id`.

We always send our own order id as `id`, which makes the POST idempotent: a retry after
a lost reply finds the existing order instead of creating a second one. The contract has
no GET, so status after creation comes from staff (manual delivery)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderRejected, SubmissionAmbiguous, SubmissionConflict
from bot.providers.http import identifier
from bot.providers.models import Capabilities, CreateRequest, PreparedCreate, ProviderOrder
from core.domain import OrderStatus
from core.i18n import N_

# Synthetic raw status: the contract's 201 reply carries no status field.
RAW_CREATED = "CREATED"
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Contact(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    email: str | None = None
    phone_number: str


class LineItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    amount: int | None = None
    quantity: int | None = None
    sale_amount: int | None = None


class CheckoutOrder(BaseModel):
    """Both the request body and the 201 reply (the reply echoes the order)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    app_execution_id: str | None = None
    type: Literal["physical_goods", "digital_goods"] | None = None
    contact: Contact
    items: list[LineItem] | None = None
    currency: Literal["INR"] | None = None
    subtotal: int | None = None
    total_amount: int | None = None


class CheckoutClient(ProviderAdapter):
    name = "checkout"
    key_setting = "CHECKOUT_API_KEY"
    capabilities = Capabilities(
        can_create=True, can_poll=False, idempotent_create=True, can_link=False
    )
    needs_contact = True  # the contract requires contact.phone_number
    currencies = ("INR",)  # the contract's only currency

    KNOWN_MESSAGES = {
        "parameter error": N_("the parameters were refused"),
        "unauthorized": N_("unauthorized"),
        "conflict: order id already used": N_("the order id is already used"),
    }

    def _error_message(self, body: Any) -> str | None:
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            fields = sorted(
                {identifier(e.get("field")) or "a field" for e in errors if isinstance(e, dict)}
            )
            if fields:
                return f"invalid {', '.join(fields)}"
        return self._known(body.get("message"))

    def check_remote_id(self, remote_id: str) -> str | None:
        # Ours: the checkout API takes the id we send (see core.domain.new_order_id).
        if ORDER_ID.fullmatch(remote_id.strip()):
            return None
        return "A checkout order id is the bot's own order id, like `ORD-AB12CD34EF`."

    def prepare_create(self, request: CreateRequest) -> PreparedCreate:
        contact = dict(request.contact or {})
        if not contact.get("phone_number"):
            raise ProviderRejected(
                self.name,
                "contact.phone_number is required",
                status_code=None,
                user_message=N_("A phone number is required for this product."),
            )
        total = request.total
        body = CheckoutOrder(
            id=request.order_id,
            type=request.options.get("type", "digital_goods"),
            contact=Contact(**{k: v for k, v in contact.items() if v}),
            items=[
                LineItem(
                    name=request.product_name,
                    amount=request.unit_price.minor,
                    quantity=request.quantity,
                    sale_amount=request.unit_price.minor,
                )
            ],
            currency="INR",
            subtotal=total.minor,
            total_amount=total.minor,
        )
        return PreparedCreate(
            "POST", "/orders", body.model_dump(exclude_none=True), our_id=request.order_id
        )

    async def send_create(self, prepared: PreparedCreate) -> ProviderOrder:
        try:
            payload = await self._request(
                prepared.method,
                prepared.path,
                json_body=prepared.body,
                idempotent=True,  # our id makes a replay land on the same order
                ok_statuses=(200, 201),
            )
        except ProviderRejected as exc:
            if exc.status_code == 409:
                # The API holds an order under our id with other contents: it has *an*
                # order, maybe ours from an earlier send. Re-sending can't settle that.
                raise SubmissionConflict(
                    self.name,
                    f"HTTP 409: the provider already has an order with id {prepared.our_id} "
                    "and different contents",
                    remote_id=prepared.our_id,
                ) from None
            raise
        order = self._parse(CheckoutOrder, payload)
        if order.id is not None and order.id != prepared.our_id:
            # We asked for our id; an answer under another one means the provider didn't
            # key the order by it, so a re-send could make a second order.
            # Its id is named for staff but not kept as this order's: it may be another
            # order's (of ours, even).
            raise SubmissionAmbiguous(
                self.name,
                f"the provider answered with order id {self._safe_text(repr(order.id[:40]))} "
                f"instead of ours ({prepared.our_id})",
            )
        return ProviderOrder(
            remote_id=prepared.our_id or "",
            status=OrderStatus.SUBMITTED,  # awaiting manual delivery by staff
            raw_status=RAW_CREATED,
            status_message=N_("Order received; staff will deliver it."),
            price=None if order.total_amount is None else str(order.total_amount),
            currency=order.currency or "INR",
            payload=payload,
        )
