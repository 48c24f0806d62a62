"""The checkout sandbox follows checkout-orders.txt and is idempotent by client id."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from sandbox import SandboxCluster
from tests.sandbox.helpers import assert_error

DOC_EXAMPLE: dict[str, Any] = {
    "id": "your_order_id",
    "app_execution_id": "app_exec_1234",
    "type": "physical_goods",
    "contact": {
        "name": "Alfred Hitchcock",
        "email": "alfred@example.com",
        "phone_number": "+19019019191 or +919876543210",
    },
    "items": [{"name": "Product 1", "amount": 12000, "quantity": 2, "sale_amount": 12000}],
    "expiration": {"timestamp": 1711929600, "description": "Sorry, the event is booked."},
    "currency": "INR",
    "subtotal": 12380,
    "tax": {"value": 1200, "description": "GST"},
    "shipping": {"value": 15000, "description": "Prime shipping"},
    "discount": {"value": 1000, "description": "10OFF on first purchase"},
    "total_amount": 200,
}


def example(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(DOC_EXAMPLE)
    body.update(changes)
    return body


async def post(
    cluster: SandboxCluster, http: httpx.AsyncClient, body: Any, key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": cluster.api_key("checkout") if key is None else key}
    return await http.post(f"{cluster.base_url('checkout')}/orders", json=body, headers=headers)


async def test_documented_example_is_created_and_echoed(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    response = await post(cluster, http, DOC_EXAMPLE)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOC_EXAMPLE
    assert list(cluster.checkout.orders) == ["your_order_id"]
    assert cluster.checkout.orders["your_order_id"].data == DOC_EXAMPLE


async def test_order_without_client_id_gets_a_generated_one(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    body = {"contact": {"phone_number": "+919876543210"}, "type": "digital_goods"}
    first = await post(cluster, http, body)
    second = await post(cluster, http, body)
    assert first.status_code == second.status_code == 201
    first_id, second_id = first.json()["id"], second.json()["id"]
    assert first_id and second_id and first_id != second_id
    assert set(cluster.checkout.orders) == {first_id, second_id}
    assert first.json() == {"id": first_id, **body}


@pytest.mark.parametrize(
    "contact",
    [None, {}, {"phone_number": ""}, {"phone_number": "   "}, {"name": "No Phone"}],
    ids=["no-contact", "empty-contact", "empty-phone", "blank-phone", "name-only"],
)
async def test_missing_phone_number_is_422(
    cluster: SandboxCluster, http: httpx.AsyncClient, contact: dict[str, Any] | None
) -> None:
    body = example()
    if contact is None:
        del body["contact"]
    else:
        body["contact"] = contact
    response = await post(cluster, http, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["code"] == 422
    assert payload["message"] == "Parameter Error"
    assert [e["field"] for e in payload["errors"]] == ["contact.phone_number"]
    assert cluster.checkout.orders == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "USD"}, "currency"),
        ({"type": "service"}, "type"),
        ({"subtotal": "12380"}, "subtotal"),
        ({"total_amount": True}, "total_amount"),
        ({"total_amount": 2.5}, "total_amount"),
        ({"tax": {"value": "1200"}}, "tax.value"),
        ({"shipping": 15000}, "shipping"),
        ({"items": [{"name": "P", "amount": 1.5}]}, "items[0].amount"),
        ({"items": [{"name": "P", "quantity": False}]}, "items[0].quantity"),
        ({"items": {"name": "P"}}, "items"),
        ({"expiration": {"timestamp": "soon"}}, "expiration.timestamp"),
        ({"contact": {"phone_number": 919876543210}}, "contact.phone_number"),
        ({"id": 42}, "id"),
        ({"app_execution_id": None}, "app_execution_id"),
    ],
)
async def test_bad_parameters_are_422(
    cluster: SandboxCluster, http: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    response = await post(cluster, http, example(**changes))
    assert response.status_code == 422
    payload = response.json()
    assert payload["code"] == 422 and payload["message"] == "Parameter Error"
    assert [e["field"] for e in payload["errors"]] == [field]
    assert all(isinstance(e["message"], str) and e["message"] for e in payload["errors"])
    assert cluster.checkout.orders == {}


@pytest.mark.parametrize("content", [b"{oops", b"[]"])
async def test_non_object_body_is_422(
    cluster: SandboxCluster, http: httpx.AsyncClient, content: bytes
) -> None:
    response = await http.post(
        f"{cluster.base_url('checkout')}/orders",
        content=content,
        headers={"Authorization": cluster.api_key("checkout"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_replay_with_same_id_and_body_creates_one_order(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    first = await post(cluster, http, DOC_EXAMPLE)
    replay = await post(cluster, http, DOC_EXAMPLE)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert len(cluster.checkout.orders) == 1
    assert len(cluster.checkout.requests) == 2


async def test_same_id_with_different_body_is_409(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    assert (await post(cluster, http, DOC_EXAMPLE)).status_code == 201
    response = await post(cluster, http, example(total_amount=999))
    assert response.status_code == 409
    assert response.json() == {"code": 409, "message": "Conflict: order id already used"}
    assert len(cluster.checkout.orders) == 1
    assert cluster.checkout.orders["your_order_id"].data["total_amount"] == 200


@pytest.mark.parametrize("key", ["", "wrong", "Bearer sandbox-checkout-key"])
async def test_bad_key_is_401(cluster: SandboxCluster, http: httpx.AsyncClient, key: str) -> None:
    response = await post(cluster, http, DOC_EXAMPLE, key=key)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 401, "message": "Unauthorized"}
    assert cluster.checkout.orders == {}


async def test_there_is_no_public_get(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    assert (await post(cluster, http, DOC_EXAMPLE)).status_code == 201
    response = await http.get(
        f"{cluster.base_url('checkout')}/orders/your_order_id",
        headers={"Authorization": cluster.api_key("checkout")},
    )
    assert_error("checkout", response, 404)
