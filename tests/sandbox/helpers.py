"""Helpers shared by the sandbox tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox import SandboxCluster

PROVIDERS = ("boost", "checkout", "namefi", "digital_shop")


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Call:
    """One valid, authorised request to a provider's API."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def send(self, http: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
        return await http.request(
            self.method, self.url, headers=self.headers, json=self.body, **kwargs
        )


def valid_call(cluster: SandboxCluster, name: str) -> Call:
    """A request that succeeds on ``name`` (seeding an order where the API only reads)."""
    base = cluster.base_url(name)
    key = cluster.api_key(name)
    if name == "boost":
        order_id = cluster.boost.create_order(inviteCode="simpleNitro", amount=2)
        return Call("GET", f"{base}/order/{order_id}", {"Authorization": key})
    if name == "checkout":
        body = {"id": "ord-1", "contact": {"phone_number": "+919876543210"}, "currency": "INR"}
        return Call("POST", f"{base}/orders", {"Authorization": key}, body)
    if name == "namefi":
        order_id = cluster.namefi.create_order()
        return Call("GET", f"{base}/v-next/orders/{order_id}", {"Authorization": f"Bearer {key}"})
    order_id = cluster.digital_shop.create_order()
    return Call("GET", f"{base}/api/v1/orders/{order_id}", {"X-API-Key": key})


NAMEFI_CODES = {
    400: ("BAD_REQUEST", "Bad Request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not Found"),
    429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
    409: ("CONFLICT", "Conflict"),
    500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
}


def assert_error(name: str, response: httpx.Response, status: int) -> None:
    """``response`` is a ``status`` error in provider ``name``'s own error shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if name == "boost":
        assert set(body) == {"status", "message"}
        assert body["status"] is False
        assert isinstance(body["message"], str) and body["message"]
    elif name == "checkout":
        assert body["code"] == status
        assert isinstance(body["message"], str) and body["message"]
    elif name == "namefi":
        code, message = NAMEFI_CODES[status]
        assert body == {
            "defined": True,
            "code": code,
            "status": status,
            "message": message,
            "data": None,
        }
    else:
        assert set(body) == {"status", "message"}
        assert body["status"] == "error"
        assert isinstance(body["message"], str) and body["message"]


def assert_ok(name: str, response: httpx.Response) -> None:
    """``response`` is a normal success of provider ``name``."""
    expected = 201 if name == "checkout" else 200
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if name == "boost":
        assert body["status"] is True and "id" in body["data"]
    elif name == "checkout":
        assert body["id"] == "ord-1"
    elif name == "namefi":
        assert set(body) == {"order", "items", "payments", "user"}
    else:
        assert body["status"] == "success" and len(body["data"]["id"]) == 12
