"""Server-boost reseller: `POST /order`, `GET /order/:id`, raw key in `Authorization`,
replies wrapped in `{status: true, data: {...}}` (or `{status: false, message}`)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderProtocolError, ProviderRejected, SubmissionAmbiguous
from bot.providers.models import (
    NIL_UUID,
    Capabilities,
    CreateRequest,
    PreparedCreate,
    ProviderOrder,
)
from core.domain import OrderStatus
from core.i18n import N_

# The provider links its status enum from a page we don't have; these are the values
# seen in its docs and the obvious siblings. Anything else is "unknown, still open".
STATUS_MAP: dict[str, OrderStatus] = {
    "PENDING": OrderStatus.SUBMITTED,
    "QUEUED": OrderStatus.SUBMITTED,
    "PROCESSING": OrderStatus.PROCESSING,
    "IN_PROGRESS": OrderStatus.PROCESSING,
    "COMPLETED": OrderStatus.COMPLETED,
    "PARTIAL": OrderStatus.PARTIALLY_COMPLETED,
    "FAILED": OrderStatus.FAILED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REFUNDED": OrderStatus.REFUNDED,
}

INVITE_CODE = re.compile(r"^[A-Za-z0-9-]{2,32}$")
REMOTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BoostOrderData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1)
    invite_code: str = Field(alias="inviteCode")
    # The docs show the request's amount as a string and the response's as a number.
    amount: int
    price: int | float | None = None
    status: str
    created_at: str | None = Field(default=None, alias="createdAt")

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_from_string(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value


class BoostEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: bool
    data: BoostOrderData | None = None
    message: str | None = None


class BoostCreateBody(BaseModel):
    invite_code: str = Field(alias="inviteCode", serialization_alias="inviteCode")
    amount: str  # as the docs show it

    model_config = ConfigDict(populate_by_name=True)


class BoostClient(ProviderAdapter):
    name = "boost"
    key_setting = "BOOST_API_KEY"
    capabilities = Capabilities(
        can_create=True, can_poll=True, idempotent_create=False, can_link=False
    )

    KNOWN_MESSAGES = {
        "invalid invite": N_("that invite doesn't work (expired, or not a server invite)"),
        "invalid amount": N_("that number of boosts isn't available"),
        "invitecode is required": N_("the invite is missing"),
        "amount is required": N_("the amount is missing"),
        "invalid json body": N_("the request was malformed"),
        "unauthorized": N_("unauthorized"),
        "forbidden": N_("forbidden"),
        "not found": N_("no such order"),
        "insufficient balance": N_("the shop's balance at the provider is too low"),
        "the provider refused the order": N_("the provider refused the order"),
    }

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        # Its envelope: {"status": true, "data": …} on success, so false on an error.
        return body.get("status") is False

    def _error_message(self, body: Any) -> str | None:
        return self._known(body.get("message") or body.get("error"))

    def key_check_path(self) -> str:
        # The nil UUID: shaped like the ids it hands out, and never one of them.
        return f"/order/{NIL_UUID}"

    def check_remote_id(self, remote_id: str) -> str | None:
        # The docs show a UUID; anything path-safe and short is accepted.
        if REMOTE_ID.fullmatch(remote_id.strip()):
            return None
        return "A boost order id is letters, digits and dashes, like a UUID."

    def prepare_create(self, request: CreateRequest) -> PreparedCreate:
        invite = str(request.details.get("invite_code", ""))
        if not INVITE_CODE.match(invite):
            raise ProviderRejected(
                self.name,
                "invalid invite code format",
                status_code=None,
                user_message=N_("That invite code doesn't look right."),
            )
        body = BoostCreateBody(invite_code=invite, amount=str(request.quantity))
        return PreparedCreate("POST", "/order", body.model_dump(by_alias=True))

    async def send_create(self, prepared: PreparedCreate) -> ProviderOrder:
        # No idempotency key in this contract: never retried automatically.
        payload = await self._request(
            prepared.method,
            prepared.path,
            json_body=prepared.body,
            idempotent=False,
            ok_statuses=(200, 201, 202),  # any success carries the order
        )
        try:
            answer = self._to_order(payload)
        except ProviderProtocolError as exc:
            # A success we can't fully read: the provider may well have made the order.
            # Its id, if it is readable and usable, is kept for staff.
            data = payload.get("data") if isinstance(payload, dict) else None
            candidate = data.get("id") if isinstance(data, dict) else None
            usable = candidate if self.is_usable_id(candidate) else None
            raise SubmissionAmbiguous(self.name, exc.message, remote_id=usable) from None
        if not self.is_usable_id(answer.remote_id):
            # It has the order, under an id we won't put in a request path.
            raise SubmissionAmbiguous(
                self.name,
                f"the provider accepted the order under an unusable id "
                f"{self._safe_text(repr(answer.remote_id[:40]))}",
            )
        data = payload["data"]
        echoed = (str(data.get("inviteCode")), str(data.get("amount")))
        sent = (str(prepared.body.get("inviteCode")), str(prepared.body.get("amount")))
        if echoed != sent:
            # An answer about some other order (a cache, a mix-up): recording it would
            # tell our buyer another order's outcome. Its id isn't ours to keep.
            raise SubmissionAmbiguous(
                self.name,
                f"the provider answered about another order (invite "
                f"{self._safe_text(repr(echoed[0][:40]))}, amount {self._safe_text(echoed[1][:10])}"
                f" instead of {sent[0]}, {sent[1]})",
            )
        return answer

    async def get_order(self, remote_id: str) -> ProviderOrder:
        path = f"/order/{self._path_id(remote_id)}"
        answer = self._to_order(await self._request("GET", path, idempotent=True))
        self._check_reply_id(remote_id, answer.remote_id)
        return answer

    def _to_order(self, payload: Any) -> ProviderOrder:
        envelope = self._parse(BoostEnvelope, payload)
        if not envelope.status:
            message = self._known(envelope.message) or "the provider refused the order"
            raise ProviderRejected(
                self.name, f"HTTP 200 refusal: {message}", status_code=200, user_message=message
            )
        if envelope.data is None:
            raise ProviderProtocolError(self.name, "status true without data")
        data = envelope.data
        raw_status = data.status.strip()
        return ProviderOrder(
            remote_id=data.id,
            status=STATUS_MAP.get(raw_status.upper()),
            raw_status=raw_status,
            status_message=None,
            price=None if data.price is None else str(data.price),
            currency=None,  # the contract does not say
            payload=payload,
        )
