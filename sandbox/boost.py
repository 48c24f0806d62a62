"""Sandbox of the server-boost reseller API (``provider-apis/boost-orders.md``).

* ``POST /order`` ``{"inviteCode": str, "amount": str|int}`` -> 200 ``{"status": true, "data"}``
* ``GET /order/{id}`` -> the same envelope
* header ``Authorization: <raw key>`` (no ``Bearer``)
* errors ``{"status": false, "message": "..."}``: 401 bad key, 400 bad body / amount /
  ``Invalid invite``, 404 unknown id.

The provider's status enum is unpublished; the sandbox uses PENDING, PROCESSING, COMPLETED
and FAILED.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.state import ProviderState, SandboxOrder, Timeline
from sandbox.util import is_int, json_response, keys_equal, read_json

DEFAULT_KEY = "sandbox-boost-key"
STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")
INVITE_RE = re.compile(r"[A-Za-z0-9-]{2,32}")
_DIGITS_RE = re.compile(r"[0-9]{1,9}")

_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Order not found",
    429: "Too many requests",
    500: "Internal server error",
}


def parse_amount(value: Any) -> int | None:
    """``amount`` as an int: an integer, or a string of digits (as the doc's example sends)."""
    if is_int(value):
        return int(value)
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return int(value)
    return None


class BoostState(ProviderState):
    name = "boost"
    statuses = STATUSES

    def __init__(
        self,
        api_key: str = DEFAULT_KEY,
        *,
        price_per_boost: int = 56,
        min_amount: int = 1,
        max_amount: int = 100,
        bad_invites: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        self.price_per_boost = price_per_boost
        self.min_amount = min_amount
        self.max_amount = max_amount
        #: Invite codes answered with 400 "Invalid invite" (expired / unknown servers).
        self.bad_invites: set[str] = {"expired"} if bad_invites is None else bad_invites

    def initial_default_timeline(self) -> Timeline:
        return [{"after": 0, "status": "PENDING"}]

    def is_authorized(self, request: web.Request) -> bool:
        return keys_equal(request.headers.get("Authorization"), self.api_key)

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"status": False, "message": message or _MESSAGES.get(status, "Error")}

    def seed_data(self, order_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        invite = fields.pop("inviteCode", "sandbox")
        amount = parse_amount(fields.pop("amount", 1))
        if not isinstance(invite, str) or not invite:
            raise ValueError("inviteCode must be a non-empty string")
        if amount is None:
            raise ValueError("amount must be an integer")
        price = fields.pop("price", amount * self.price_per_boost)
        if not is_int(price):
            raise ValueError("price must be an integer")
        if fields:
            raise ValueError(f"unknown boost order fields: {sorted(fields)}")
        return {"inviteCode": invite, "amount": amount, "price": price}

    def validate_create(self, body: Any) -> dict[str, Any] | str:
        """The order data for a valid ``POST /order`` body, or the 400 message."""
        if not isinstance(body, dict):
            return "Invalid body"
        invite = body.get("inviteCode")
        raw_amount = body.get("amount")
        if invite is None or invite == "":
            return "inviteCode is required"
        if raw_amount is None or raw_amount == "":
            return "amount is required"
        if not isinstance(invite, str) or not INVITE_RE.fullmatch(invite):
            return "Invalid invite"
        if invite in self.bad_invites:
            return "Invalid invite"
        amount = parse_amount(raw_amount)
        if amount is None or not self.min_amount <= amount <= self.max_amount:
            return "Invalid amount"
        return {"inviteCode": invite, "amount": amount, "price": amount * self.price_per_boost}

    def render(self, request: web.Request, order: SandboxOrder) -> dict[str, Any]:
        data = order.data
        return {
            "id": order.id,
            "inviteCode": data["inviteCode"],
            "amount": data["amount"],
            "price": data["price"],
            "status": self.status_for(request, order.step_at(self.clock())),
            "createdAt": order.created_iso,
        }


def create_app(state: BoostState) -> web.Application:
    async def create_order(request: web.Request) -> web.Response:
        body: Any = {}
        if request.content_type == "application/json":
            try:
                body = await read_json(request)
            except ValueError:
                return state.error_response(400, "Invalid JSON body")
        result = state.validate_create(body)
        if isinstance(result, str):
            return state.error_response(400, result)
        order = state.add_order(result)
        return json_response({"status": True, "data": state.render(request, order)})

    async def get_order(request: web.Request) -> web.Response:
        order = state.orders.get(request.match_info["order_id"])
        if order is None:
            return state.error_response(404)
        return json_response({"status": True, "data": state.render(request, order)})

    def routes(router: web.UrlDispatcher) -> None:
        router.add_post("/order", create_order)
        router.add_get("/order/{order_id}", get_order)

    return build_app(state, routes)
