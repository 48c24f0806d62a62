"""Namefi: `GET /orders/{orderId}` with `Authorization: Bearer`. Errors arrive in the
envelope `{defined, code, status, message, data}`. Tracking only: staff link orders."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.providers.base import ProviderAdapter
from bot.providers.http import identifier
from bot.providers.models import NIL_UUID, Capabilities, ProviderOrder
from core.domain import OrderStatus

STATUS_MAP: dict[str, OrderStatus] = {
    "CREATED": OrderStatus.SUBMITTED,
    "PENDING": OrderStatus.SUBMITTED,
    "PROCESSING": OrderStatus.PROCESSING,
    "SUCCEEDED": OrderStatus.COMPLETED,
    "PARTIALLY_COMPLETED": OrderStatus.PARTIALLY_COMPLETED,
    "FAILED": OrderStatus.FAILED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REFUNDED": OrderStatus.REFUNDED,
}

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class NamefiOrderCore(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    user_id: str | None = Field(default=None, alias="userId")
    status: str
    amount_in_usd_cents: int | None = Field(default=None, alias="amountInUSDCents")
    created_at: str | None = Field(default=None, alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")


class NamefiOrderItem(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str | None = None
    normalized_domain_name: str | None = Field(default=None, alias="normalizedDomainName")
    duration_in_years: int | None = Field(default=None, alias="durationInYears")
    type: str | None = None
    status: str | None = None


class NamefiOrderResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    order: NamefiOrderCore
    items: list[NamefiOrderItem] = Field(default_factory=list)
    payments: list[dict[str, Any]] = Field(default_factory=list)


class NamefiClient(ProviderAdapter):
    name = "namefi"
    ids_ignore_case = True  # UUIDs
    key_setting = "NAMEFI_API_TOKEN"
    capabilities = Capabilities(
        can_create=False, can_poll=True, idempotent_create=False, can_link=True
    )
    # Its 403 is about one order ("User must own the order"), not about our token.
    auth_statuses = (401,)

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        # Its documented errors: {"code": "NOT_FOUND", "status": 404, …}.
        return identifier(body.get("code")) is not None and isinstance(body.get("status"), int)

    def _error_message(self, body: Any) -> str | None:
        # Its error codes are identifiers (NOT_FOUND); its messages are free text.
        return identifier(body.get("code"))

    def key_check_path(self) -> str:
        # The nil UUID: a valid id that is never an order's.
        return f"/v-next/orders/{NIL_UUID}"

    def check_remote_id(self, remote_id: str) -> str | None:
        if UUID_RE.fullmatch(remote_id.strip()):
            return None
        return "A Namefi order id is a UUID like 497f6eca-6276-4993-bfeb-53cbbbba6f08."

    async def get_order(self, remote_id: str) -> ProviderOrder:
        path = f"/v-next/orders/{self._path_id(remote_id)}"
        payload = await self._request("GET", path, idempotent=True)
        parsed = self._parse(NamefiOrderResponse, payload)
        self._check_reply_id(remote_id, parsed.order.id)
        raw_status = parsed.order.status.strip()
        domains = [i.normalized_domain_name for i in parsed.items if i.normalized_domain_name]
        message = f"Domains: {', '.join(domains)}" if domains else None
        cents = parsed.order.amount_in_usd_cents
        return ProviderOrder(
            remote_id=parsed.order.id,
            status=STATUS_MAP.get(raw_status.upper()),
            raw_status=raw_status,
            status_message=message,
            price=None if cents is None else f"{cents / 100:.2f}",
            currency="USD",
            payload={"order": payload.get("order"), "items": payload.get("items")},
        )
