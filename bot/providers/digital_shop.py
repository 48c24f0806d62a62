"""Digital goods shop: GET an order by its 12-character alphanumeric id. Statuses
PENDING / PROCESSING / COMPLETED / REFUNDED. `deliveryData` (a string, items separated by
newlines) or `items` (`[{uid, content}]`) hold credentials once COMPLETED.

The docs give neither the path nor the auth header; by default we use
`GET /api/v1/orders/{id}` with `X-API-Key`, and both are settings
(DIGITAL_SHOP_ORDER_PATH, DIGITAL_SHOP_AUTH_HEADER / _PREFIX; see docs/providers.md).
Tracking only: staff link orders."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderProtocolError
from bot.providers.models import Capabilities, ProviderOrder
from core.domain import Delivery, DeliveryItem, OrderStatus
from core.i18n import N_

STATUS_MAP: dict[str, OrderStatus] = {
    "PENDING": OrderStatus.SUBMITTED,
    "PROCESSING": OrderStatus.PROCESSING,
    "COMPLETED": OrderStatus.COMPLETED,
    "REFUNDED": OrderStatus.REFUNDED,
}

ORDER_ID = re.compile(r"^[A-Za-z0-9]{12}$")


class DigitalItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    uid: str | int
    content: SecretStr


class DigitalOrder(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    product_name: str | None = Field(default=None, alias="productName")
    status: str
    status_message: str | None = Field(default=None, alias="statusMessage")
    total_cost: int | float | None = Field(default=None, alias="totalCost")
    is_service: bool | None = Field(default=None, alias="isService")
    delivery_data: SecretStr | None = Field(default=None, alias="deliveryData")
    items: list[DigitalItem] | None = None
    created_at: str | None = Field(default=None, alias="createdAt")


class DigitalEnvelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    data: DigitalOrder | None = None
    message: str | None = None


class DigitalShopClient(ProviderAdapter):
    name = "digital_shop"
    key_setting = "DIGITAL_SHOP_API_KEY"
    capabilities = Capabilities(
        can_create=False, can_poll=True, idempotent_create=False, can_link=True
    )

    # DIGITAL_SHOP_ORDER_PATH: where an order is read ({id} is the order id).
    order_path = "/api/v1/orders/{id}"

    KNOWN_MESSAGES = {
        "invalid order id": N_("invalid order id"),
        "order not found": N_("order not found"),
        "invalid api key": N_("invalid API key"),
        "too many requests": N_("too many requests"),
        "internal server error": N_("internal server error"),
    }

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        # Its envelope: "status" is always "success" or "error".
        return body.get("status") == "error"

    def _error_message(self, body: Any) -> str | None:
        return self._known(body.get("message"))

    def key_check_path(self) -> str:
        # Twelve zeros: the documented shape, and not an id it hands out.
        return self.order_path.replace("{id}", "0" * 12)

    def check_remote_id(self, remote_id: str) -> str | None:
        if ORDER_ID.fullmatch(remote_id.strip()):
            return None
        return "A digital shop order id is exactly 12 letters or digits."

    async def get_order(self, remote_id: str) -> ProviderOrder:
        path = self.order_path.replace("{id}", self._path_id(remote_id))
        payload = await self._request("GET", path, idempotent=True)
        envelope = self._parse(DigitalEnvelope, payload)
        if envelope.status != "success" or envelope.data is None:
            raise ProviderProtocolError(self.name, "reply is not a success envelope with data")
        data = envelope.data
        self._check_reply_id(remote_id, data.id)
        raw_status = data.status.strip()
        delivery = None
        text = data.delivery_data.get_secret_value() if data.delivery_data else ""
        items = tuple(DeliveryItem(uid=str(i.uid), content=i.content) for i in data.items or [])
        if text or items:
            delivery = Delivery(text=SecretStr(text) if text else None, items=items)
        status = STATUS_MAP.get(raw_status.upper())
        return ProviderOrder(
            remote_id=data.id,
            status=status,
            raw_status=raw_status,
            status_message=data.status_message,
            price=None if data.total_cost is None else str(data.total_cost),
            currency="BDT",
            delivery=delivery,
            # Goods are delivered in the reply (deliveryData or items). A service order
            # (isService) is done by the shop's staff and may well have nothing to hand
            # over; any other completed order without them isn't delivered yet.
            delivery_missing=(
                status is OrderStatus.COMPLETED and delivery is None and not data.is_service
            ),
            payload=payload,
        )
