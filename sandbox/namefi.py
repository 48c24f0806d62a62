"""Sandbox of Namefi's order API (``provider-apis/namefi-orders.txt``).

* ``GET /v-next/orders/{orderId}`` with ``Authorization: Bearer <token>``
* 200 ``{"order": {...}, "items": [...], "payments": [...], "user": {...}}``; ``order.status``
  is the status (CREATED, PROCESSING, SUCCEEDED, FAILED, PARTIALLY_COMPLETED)
* errors ``{"defined": true, "code": "NOT_FOUND", "status": 404, "message": "Not Found",
  "data": null}``: 401 missing/bad token, 400 an id that is not a UUID, 404 unknown id,
  403 an order seeded with ``"forbidden": true`` (the user must own the order).

Orders are created only through the control interface (``create_order`` / ``POST
/_sandbox/orders``). A timeline step may carry ``itemStatuses`` (one status per domain item;
items default to the order's status) and ``paymentStatus``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.state import ProviderState, SandboxOrder, Timeline
from sandbox.util import is_int, json_response, keys_equal

DEFAULT_TOKEN = "sandbox-namefi-token"  # noqa: S105 -- the public demo token, not a secret
STATUSES = ("CREATED", "PROCESSING", "SUCCEEDED", "FAILED", "PARTIALLY_COMPLETED")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: The documented error envelopes: status -> (code, message).
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "Bad Request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    406: ("NOT_ACCEPTABLE", "Not Acceptable"),
    408: ("TIMEOUT", "Request Timeout"),
    409: ("CONFLICT", "Conflict"),
    412: ("PRECONDITION_FAILED", "Precondition Failed"),
    429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
}


def _hex40() -> str:
    return "0x" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


class NamefiState(ProviderState):
    name = "namefi"
    statuses = STATUSES

    def __init__(self, api_key: str = DEFAULT_TOKEN, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    def initial_default_timeline(self) -> Timeline:
        return [{"after": 0, "status": "CREATED"}]

    def is_authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and keys_equal(token.strip(), self.api_key)

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        code, default = ERRORS.get(status, ERRORS[500])
        return {
            "defined": True,
            "code": code,
            "status": status,
            "message": message or default,
            "data": None,
        }

    def check_order_id(self, order_id: Any) -> None:
        if not isinstance(order_id, str) or not UUID_RE.fullmatch(order_id):
            raise ValueError("a Namefi order id is a UUID")

    def check_step(self, index: int, step: dict[str, Any]) -> None:
        super().check_step(index, step)
        statuses = step.get("itemStatuses")
        if statuses is not None and (
            not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses)
        ):
            raise ValueError(f"timeline[{index}].itemStatuses must be a list of strings")
        payment = step.get("paymentStatus")
        if payment is not None and not isinstance(payment, str):
            raise ValueError(f"timeline[{index}].paymentStatus must be a string")

    def seed_data(self, order_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        domains = fields.pop("domains", ["example.com"])
        if (
            not isinstance(domains, list)
            or not domains
            or not all(isinstance(d, str) and d for d in domains)
        ):
            raise ValueError("domains must be a non-empty list of domain names")
        data: dict[str, Any] = {
            "domains": domains,
            "amountInUSDCents": fields.pop("amountInUSDCents", 1500 * len(domains)),
            "durationInYears": fields.pop("durationInYears", 1),
            "nftChainId": fields.pop("nftChainId", 8453),
            "userId": fields.pop("userId", str(uuid.uuid4())),
            "primaryEmail": fields.pop("primaryEmail", "buyer@example.com"),
            "nftWalletAddress": fields.pop("nftWalletAddress", _hex40()),
            "paymentProvider": fields.pop("paymentProvider", "NFSC_BASE"),
            "forbidden": fields.pop("forbidden", False),
        }
        if fields:
            raise ValueError(f"unknown Namefi order fields: {sorted(fields)}")
        for key in ("amountInUSDCents", "durationInYears", "nftChainId"):
            if not is_int(data[key]):
                raise ValueError(f"{key} must be an integer")
        for key in ("userId", "primaryEmail", "nftWalletAddress", "paymentProvider"):
            if not isinstance(data[key], str):
                raise ValueError(f"{key} must be a string")
        if not isinstance(data["forbidden"], bool):
            raise ValueError("forbidden must be a boolean")
        data["itemIds"] = [str(uuid.uuid4()) for _ in domains]
        data["paymentId"] = str(uuid.uuid4())
        return data

    def render(self, request: web.Request, order: SandboxOrder) -> dict[str, Any]:
        data = order.data
        step = order.step_at(self.clock())
        status = self.status_for(request, step)
        created = order.created_iso
        updated = order.step_iso(step)
        item_statuses: list[str] = step.get("itemStatuses") or []
        domains: list[str] = data["domains"]
        per_item = data["amountInUSDCents"] // len(domains)
        items = [
            {
                "id": item_id,
                "orderId": order.id,
                "normalizedDomainName": domain,
                "amountInUSDCents": per_item,
                "durationInYears": data["durationInYears"],
                "type": "REGISTER",
                "registrar": "sandbox-registrar",
                "encryptionKeyId": None,
                "encryptedEppAuthorizationCode": None,
                "status": item_statuses[index] if index < len(item_statuses) else status,
                "metadata": {"freeClaim": False},
                "createdAt": created,
                "updatedAt": updated,
            }
            for index, (item_id, domain) in enumerate(zip(data["itemIds"], domains, strict=True))
        ]
        payment_status = step.get("paymentStatus") or (
            "CREATED" if status == "CREATED" else "SUCCEEDED"
        )
        payments = [
            {
                "id": data["paymentId"],
                "amountInUSDCents": data["amountInUSDCents"],
                "status": payment_status,
                "paymentProvider": data["paymentProvider"],
                "paymentProviderReferenceId": "sandbox-" + data["paymentId"][:8],
                "orderId": order.id,
                "nfscPaymentDetails": None,
                "stripePaymentDetails": None,
                "createdAt": created,
                "updatedAt": updated,
            }
        ]
        user = {
            "id": data["userId"],
            "primaryEmail": data["primaryEmail"],
            "stripeCustomerId": None,
            "privyUserId": None,
            "subscribeToEmails": False,
            "lastSignInAt": created,
            "lastAccessedSessionAt": created,
            "createdAt": created,
            "updatedAt": created,
        }
        return {
            "order": {
                "id": order.id,
                "userId": data["userId"],
                "status": status,
                "amountInUSDCents": data["amountInUSDCents"],
                "nftWalletAddress": data["nftWalletAddress"],
                "nftChainId": data["nftChainId"],
                "metadata": {"freeClaim": False, "mintTransactions": {}},
                "createdAt": created,
                "updatedAt": updated,
            },
            "items": items,
            "payments": payments,
            "user": user,
        }


def create_app(state: NamefiState) -> web.Application:
    async def get_order(request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        if not UUID_RE.fullmatch(order_id):
            return state.error_response(400)
        order = state.orders.get(order_id)
        if order is None:
            return state.error_response(404)
        if order.data.get("forbidden"):
            return state.error_response(403)
        return json_response(state.render(request, order))

    def routes(router: web.UrlDispatcher) -> None:
        router.add_get("/v-next/orders/{order_id}", get_order)

    return build_app(state, routes)
