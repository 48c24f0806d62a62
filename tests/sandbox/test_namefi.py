"""The Namefi sandbox follows namefi-orders.txt."""

from __future__ import annotations

import uuid

import httpx
import pytest

from sandbox import SandboxCluster
from tests.sandbox.helpers import FakeClock, assert_error


def auth(cluster: SandboxCluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.api_key('namefi')}"}


def url(cluster: SandboxCluster, order_id: str) -> str:
    return f"{cluster.base_url('namefi')}/v-next/orders/{order_id}"


async def test_seeded_order_progresses_through_its_timeline(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    seeded = await http.post(
        f"{cluster.base_url('namefi')}/_sandbox/orders",
        json={
            "domains": ["example.com", "example.org"],
            "amountInUSDCents": 4000,
            "timeline": [
                {"after": 0, "status": "CREATED"},
                {"after": 10, "status": "PROCESSING"},
                {"after": 60, "status": "SUCCEEDED"},
            ],
        },
    )
    assert seeded.status_code == 201
    order_id = seeded.json()["id"]
    assert str(uuid.UUID(order_id)) == order_id

    response = await http.get(url(cluster, order_id), headers=auth(cluster))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"order", "items", "payments", "user"}
    order = body["order"]
    assert order["id"] == order_id
    assert order["status"] == "CREATED"
    assert order["amountInUSDCents"] == 4000
    assert order["userId"] == body["user"]["id"]
    assert {i["normalizedDomainName"] for i in body["items"]} == {"example.com", "example.org"}
    assert all(i["orderId"] == order_id for i in body["items"])
    assert body["payments"][0]["orderId"] == order_id
    assert isinstance(order["amountInUSDCents"], int)

    clock.advance(10)
    body = (await http.get(url(cluster, order_id), headers=auth(cluster))).json()
    assert body["order"]["status"] == "PROCESSING"
    assert body["order"]["updatedAt"] != body["order"]["createdAt"]
    clock.advance(50)
    body = (await http.get(url(cluster, order_id), headers=auth(cluster))).json()
    assert body["order"]["status"] == "SUCCEEDED"
    assert [i["status"] for i in body["items"]] == ["SUCCEEDED", "SUCCEEDED"]


async def test_partially_completed_with_item_statuses(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    order_id = cluster.namefi.create_order(
        domains=["a.com", "b.com"],
        timeline=[
            {"after": 0, "status": "PARTIALLY_COMPLETED", "itemStatuses": ["SUCCEEDED", "FAILED"]}
        ],
    )
    body = (await http.get(url(cluster, order_id), headers=auth(cluster))).json()
    assert body["order"]["status"] == "PARTIALLY_COMPLETED"
    assert [i["status"] for i in body["items"]] == ["SUCCEEDED", "FAILED"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "sandbox-namefi-token"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic sandbox-namefi-token"},
    ],
    ids=["missing", "no-bearer", "wrong-token", "wrong-scheme"],
)
async def test_bad_token_is_401(
    cluster: SandboxCluster, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    order_id = cluster.namefi.create_order()
    response = await http.get(url(cluster, order_id), headers=headers)
    assert_error("namefi", response, 401)


async def test_unknown_order_is_404(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    response = await http.get(url(cluster, str(uuid.uuid4())), headers=auth(cluster))
    assert_error("namefi", response, 404)


@pytest.mark.parametrize("order_id", ["string", "12345", "497f6eca62764993bfeb53cbbbba6f08"])
async def test_non_uuid_id_is_400(
    cluster: SandboxCluster, http: httpx.AsyncClient, order_id: str
) -> None:
    response = await http.get(url(cluster, order_id), headers=auth(cluster))
    assert_error("namefi", response, 400)


async def test_order_of_another_user_is_403(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    order_id = cluster.namefi.create_order(forbidden=True)
    response = await http.get(url(cluster, order_id), headers=auth(cluster))
    assert_error("namefi", response, 403)


async def test_there_is_no_public_create(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{cluster.base_url('namefi')}/v-next/orders", json={}, headers=auth(cluster)
    )
    assert_error("namefi", response, 404)
    assert cluster.namefi.orders == {}
