"""Sandbox of the digital goods shop API (``provider-apis/digital-shop-orders.md``).

The doc names neither a path nor an auth header, so the sandbox decides:

* ``GET /api/v1/orders/{orderId}`` with header ``X-API-Key: <key>``
* 200 ``{"status": "success", "data": {id, productName, status, statusMessage, totalCost,
  isService, deliveryData, items?, createdAt}}``
* errors ``{"status": "error", "message": "..."}``: 401 bad key, 400 an id that is not exactly
  12 alphanumeric characters, 404 unknown id.

Statuses: PENDING, PROCESSING, COMPLETED, REFUNDED. ``deliveryData`` (a string, else null) and
``items`` (a list of ``{"uid", "content"}``, else absent) are only shown once COMPLETED; they
come from the current timeline step, falling back to the order's seed fields.
Orders are created only through the control interface.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.state import ProviderState, SandboxOrder, Timeline
from sandbox.util import is_number, json_response, keys_equal

DEFAULT_KEY = "sandbox-digital-key"
STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "REFUNDED")
ORDER_ID_RE = re.compile(r"[A-Za-z0-9]{12}")
_ID_ALPHABET = string.ascii_letters + string.digits

STATUS_MESSAGES = {
    "PENDING": "Order is pending.",
    "PROCESSING": "Order is processing. Admin will complete it soon",
    "COMPLETED": "Order completed.",
    "REFUNDED": "Order was refunded to your balance.",
}

_MESSAGES = {
    400: "Invalid order id",
    401: "Invalid API key",
    403: "Forbidden",
    404: "Order not found",
    429: "Too many requests",
    500: "Internal server error",
}


def _check_delivery(where: str, delivery: Any, items: Any) -> None:
    if delivery is not None and not isinstance(delivery, str):
        raise ValueError(f"{where}deliveryData must be a string or null")
    if items is not None and (
        not isinstance(items, list)
        or not all(
            isinstance(i, dict) and set(i) == {"uid", "content"} and isinstance(i["content"], str)
            for i in items
        )
    ):
        raise ValueError(f'{where}items must be a list of {{"uid", "content"}} objects')


class DigitalShopState(ProviderState):
    name = "digital_shop"
    statuses = STATUSES

    def __init__(self, api_key: str = DEFAULT_KEY, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    def initial_default_timeline(self) -> Timeline:
        return [{"after": 0, "status": "PENDING"}]

    def is_authorized(self, request: web.Request) -> bool:
        return keys_equal(request.headers.get("X-API-Key"), self.api_key)

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"status": "error", "message": message or _MESSAGES.get(status, "Error")}

    def new_order_id(self) -> str:
        return "".join(random.choices(_ID_ALPHABET, k=12))

    def check_order_id(self, order_id: Any) -> None:
        if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
            raise ValueError("a digital shop order id is 12 alphanumeric characters")

    def check_step(self, index: int, step: dict[str, Any]) -> None:
        super().check_step(index, step)
        _check_delivery(f"timeline[{index}].", step.get("deliveryData"), step.get("items"))

    def seed_data(self, order_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "productName": fields.pop("productName", "Sandbox Product"),
            "totalCost": fields.pop("totalCost", 120),
            "isService": fields.pop("isService", False),
            "deliveryData": fields.pop("deliveryData", None),
            "items": fields.pop("items", None),
        }
        if fields:
            raise ValueError(f"unknown digital shop order fields: {sorted(fields)}")
        if not isinstance(data["productName"], str):
            raise ValueError("productName must be a string")
        if not is_number(data["totalCost"]):
            raise ValueError("totalCost must be a number")
        if not isinstance(data["isService"], bool):
            raise ValueError("isService must be a boolean")
        _check_delivery("", data["deliveryData"], data["items"])
        return data

    def render(self, request: web.Request, order: SandboxOrder) -> dict[str, Any]:
        data = order.data
        step = order.step_at(self.clock())
        status = self.status_for(request, step)
        body: dict[str, Any] = {
            "id": order.id,
            "productName": data["productName"],
            "status": status,
            "statusMessage": step.get("statusMessage", STATUS_MESSAGES.get(status, "")),
            "totalCost": data["totalCost"],
            "isService": data["isService"],
            "deliveryData": None,
        }
        if status == "COMPLETED":
            body["deliveryData"] = step.get("deliveryData", data["deliveryData"])
            items = step.get("items", data["items"])
            if items is not None:
                body["items"] = items
        body["createdAt"] = order.created_iso
        return body


def create_app(state: DigitalShopState) -> web.Application:
    async def get_order(request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        if not ORDER_ID_RE.fullmatch(order_id):
            return state.error_response(400)
        order = state.orders.get(order_id)
        if order is None:
            return state.error_response(404)
        return json_response({"status": "success", "data": state.render(request, order)})

    def routes(router: web.UrlDispatcher) -> None:
        router.add_get("/api/v1/orders/{order_id}", get_order)

    return build_app(state, routes)
