"""Sandbox of the checkout orders API (``provider-apis/checkout-orders.txt``).

* ``POST /orders`` with header ``Authorization: <raw key>`` -> 201 and the stored order
* 422 ``{"code": 422, "message": "Parameter Error", "errors": [{"field", "message"}]}`` on bad
  parameters (``contact.phone_number`` missing, a non-integer amount, currency not INR, ...)
* 401 ``{"code": 401, "message": "Unauthorized"}`` on a bad key
* idempotent by the client's ``id``: the same id with the same body answers 201 with the
  stored order and creates nothing; the same id with another body is 409.

The contract has no GET: tests inspect ``state.orders`` (or ``GET /_sandbox/orders``).
Timelines are kept for symmetry but never rendered, since the contract has no status field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.state import ProviderState, Timeline
from sandbox.util import is_int, json_response, keys_equal, read_json

DEFAULT_KEY = "sandbox-checkout-key"
ORDER_TYPES = ("physical_goods", "digital_goods")
CURRENCIES = ("INR",)
CONFLICT_MESSAGE = "Conflict: order id already used"

#: Top-level fields in the order of the contract; anything else is dropped.
FIELDS = (
    "id",
    "app_execution_id",
    "type",
    "contact",
    "items",
    "expiration",
    "currency",
    "subtotal",
    "tax",
    "shipping",
    "discount",
    "total_amount",
)

_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: CONFLICT_MESSAGE,
    422: "Parameter Error",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

FieldError = dict[str, str]


class _Checker:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def string(self, obj: dict[str, Any], key: str, prefix: str = "") -> None:
        if key in obj and not isinstance(obj[key], str):
            self.add(prefix + key, "must be a string")

    def integer(self, obj: dict[str, Any], key: str, prefix: str = "") -> None:
        if key in obj and not is_int(obj[key]):
            self.add(prefix + key, "must be an integer")

    def obj(self, body: dict[str, Any], key: str) -> dict[str, Any] | None:
        value = body.get(key)
        if key not in body:
            return None
        if not isinstance(value, dict):
            self.add(key, "must be an object")
            return None
        return value


def validate_order(body: Any) -> list[FieldError]:
    """All parameter errors of a ``POST /orders`` body (empty when it is valid)."""
    check = _Checker()
    if not isinstance(body, dict):
        check.add("body", "must be a JSON object")
        return check.errors

    for key in ("id", "app_execution_id"):
        if key in body and (not isinstance(body[key], str) or not body[key]):
            check.add(key, "must be a non-empty string")
    if "type" in body and body["type"] not in ORDER_TYPES:
        check.add("type", f"must be one of {', '.join(ORDER_TYPES)}")

    if "contact" not in body or body["contact"] is None:
        check.add("contact.phone_number", "is required")
    elif not isinstance(body["contact"], dict):
        check.add("contact", "must be an object")
    else:
        contact = body["contact"]
        phone = contact.get("phone_number")
        if phone is None or (isinstance(phone, str) and not phone.strip()):
            check.add("contact.phone_number", "is required")
        elif not isinstance(phone, str):
            check.add("contact.phone_number", "must be a string")
        check.string(contact, "name", "contact.")
        check.string(contact, "email", "contact.")

    if "items" in body:
        items = body["items"]
        if not isinstance(items, list):
            check.add("items", "must be an array")
        else:
            for index, item in enumerate(items):
                prefix = f"items[{index}]."
                if not isinstance(item, dict):
                    check.add(f"items[{index}]", "must be an object")
                    continue
                check.string(item, "name", prefix)
                for key in ("amount", "quantity", "sale_amount"):
                    check.integer(item, key, prefix)

    expiration = check.obj(body, "expiration")
    if expiration is not None:
        check.integer(expiration, "timestamp", "expiration.")
        check.string(expiration, "description", "expiration.")

    if "currency" in body and body["currency"] not in CURRENCIES:
        check.add("currency", "must be INR")
    for key in ("subtotal", "total_amount"):
        check.integer(body, key)
    for key in ("tax", "shipping", "discount"):
        money = check.obj(body, key)
        if money is not None:
            check.integer(money, "value", f"{key}.")
            check.string(money, "description", f"{key}.")
    return check.errors


class CheckoutState(ProviderState):
    name = "checkout"

    def __init__(self, api_key: str = DEFAULT_KEY, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    def initial_default_timeline(self) -> Timeline:
        return [{"after": 0, "status": "CREATED"}]

    def is_authorized(self, request: web.Request) -> bool:
        return keys_equal(request.headers.get("Authorization"), self.api_key)

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"code": status, "message": message or _MESSAGES.get(status, "Error")}

    def seed_data(self, order_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {"id": order_id, **fields}

    def rejection_response(self) -> web.Response:
        # What the real API answers when it dislikes a value our validation accepted.
        body = self.error_body(422)
        body["errors"] = [
            {"field": "contact.phone_number", "message": "is not a valid phone number"}
        ]
        return json_response(body, 422)

    def stored_form(self, body: dict[str, Any], order_id: str) -> dict[str, Any]:
        """The order as stored and echoed: contract fields in contract order, with an id."""
        stored: dict[str, Any] = {"id": order_id}
        stored.update((key, body[key]) for key in FIELDS if key != "id" and key in body)
        return stored

    def place(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Create (or idempotently replay) an order from a validated body: (status, body)."""
        client_id = body.get("id")
        if client_id is not None:
            existing = self.orders.get(client_id)
            if existing is not None:
                if existing.data == self.stored_form(body, client_id):
                    return 201, existing.data
                return 409, self.error_body(409)
        order_id = client_id if client_id is not None else self._fresh_id()
        order = self.add_order(self.stored_form(body, order_id), order_id=order_id)
        return 201, order.data


def create_app(state: CheckoutState) -> web.Application:
    async def create_order(request: web.Request) -> web.Response:
        body: Any = {}
        if request.content_type == "application/json":
            try:
                body = await read_json(request)
            except ValueError:
                return _parameter_error([{"field": "body", "message": "must be valid JSON"}])
        errors = validate_order(body)
        if errors:
            return _parameter_error(errors)
        status, payload = state.place(body)
        return json_response(payload, status=status)

    def routes(router: web.UrlDispatcher) -> None:
        router.add_post("/orders", create_order)

    return build_app(state, routes)


def _parameter_error(errors: list[FieldError]) -> web.Response:
    body = {"code": 422, "message": "Parameter Error", "errors": errors}
    return json_response(body, status=422)
