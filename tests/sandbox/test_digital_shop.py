"""The digital shop sandbox follows digital-shop-orders.md (path and header are our choice)."""

from __future__ import annotations

import re

import httpx
import pytest

from sandbox import SandboxCluster
from tests.sandbox.helpers import FakeClock, assert_error

ID_RE = re.compile(r"[A-Za-z0-9]{12}")


def auth(cluster: SandboxCluster) -> dict[str, str]:
    return {"X-API-Key": cluster.api_key("digital_shop")}


def url(cluster: SandboxCluster, order_id: str) -> str:
    return f"{cluster.base_url('digital_shop')}/api/v1/orders/{order_id}"


async def get_data(cluster: SandboxCluster, http: httpx.AsyncClient, order_id: str) -> dict:
    response = await http.get(url(cluster, order_id), headers=auth(cluster))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "success"
    return dict(body["data"])


async def test_instant_order_delivers_only_once_completed(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    seeded = await http.post(
        f"{cluster.base_url('digital_shop')}/_sandbox/orders",
        json={
            "productName": "Netflix 1 Month",
            "totalCost": 350.5,
            "timeline": [
                {"after": 0, "status": "PENDING"},
                {"after": 5, "status": "PROCESSING"},
                {"after": 20, "status": "COMPLETED", "deliveryData": "user1:pass1\nuser2:pass2"},
            ],
        },
    )
    assert seeded.status_code == 201
    order_id = seeded.json()["id"]
    assert ID_RE.fullmatch(order_id)

    data = await get_data(cluster, http, order_id)
    assert data["id"] == order_id
    assert data["productName"] == "Netflix 1 Month"
    assert data["status"] == "PENDING"
    assert data["totalCost"] == 350.5
    assert data["isService"] is False
    assert data["deliveryData"] is None
    assert "items" not in data
    assert isinstance(data["statusMessage"], str) and data["statusMessage"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", data["createdAt"])

    clock.advance(5)
    data = await get_data(cluster, http, order_id)
    assert data["status"] == "PROCESSING"
    assert data["statusMessage"] == "Order is processing. Admin will complete it soon"
    assert data["deliveryData"] is None

    clock.advance(15)
    data = await get_data(cluster, http, order_id)
    assert data["status"] == "COMPLETED"
    assert data["deliveryData"] == "user1:pass1\nuser2:pass2"


async def test_service_order_delivers_items(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    items = [{"uid": "u-1", "content": "code-AAAA"}]
    order_id = cluster.digital_shop.create_order(
        isService=True,
        items=items,
        timeline=[
            {"after": 0, "status": "PROCESSING", "statusMessage": "Admin is on it"},
            {"after": 1, "status": "COMPLETED"},
        ],
    )
    data = await get_data(cluster, http, order_id)
    assert data["statusMessage"] == "Admin is on it"
    assert "items" not in data
    clock.advance(1)
    data = await get_data(cluster, http, order_id)
    assert data["status"] == "COMPLETED"
    assert data["isService"] is True
    assert data["items"] == items
    assert data["deliveryData"] is None


async def test_refunded_order_hides_delivery(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    order_id = cluster.digital_shop.create_order(
        deliveryData="secret", timeline=[{"after": 0, "status": "REFUNDED"}]
    )
    data = await get_data(cluster, http, order_id)
    assert data["status"] == "REFUNDED"
    assert data["deliveryData"] is None
    assert "items" not in data


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "sandbox-digital-key"}],
    ids=["missing", "wrong", "authorization-header"],
)
async def test_bad_key_is_401(
    cluster: SandboxCluster, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    order_id = cluster.digital_shop.create_order()
    response = await http.get(url(cluster, order_id), headers=headers)
    assert_error("digital_shop", response, 401)


@pytest.mark.parametrize("order_id", ["ABCDEFGHIJK", "ABCDEFGHIJKLM", "ABCDEF-HIJKL"])
async def test_malformed_id_is_400(
    cluster: SandboxCluster, http: httpx.AsyncClient, order_id: str
) -> None:
    response = await http.get(url(cluster, order_id), headers=auth(cluster))
    assert_error("digital_shop", response, 400)


async def test_unknown_order_is_404(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    response = await http.get(url(cluster, "ZZZZZZZZZZZZ"), headers=auth(cluster))
    assert_error("digital_shop", response, 404)


def test_generated_ids_are_12_alphanumerics(cluster: SandboxCluster) -> None:
    ids = {cluster.digital_shop.create_order() for _ in range(50)}
    assert len(ids) == 50
    assert all(ID_RE.fullmatch(i) for i in ids)
