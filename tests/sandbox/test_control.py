"""The request log and the /_sandbox/ control interface."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from sandbox import Fault, RecordedRequest, SandboxCluster
from tests.sandbox.helpers import PROVIDERS, FakeClock, assert_error, assert_ok, valid_call


async def test_requests_are_recorded_before_auth(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    base = cluster.base_url("boost")
    await http.post(
        f"{base}/order?ref=x",
        json={"inviteCode": "abc", "amount": "2"},
        headers={"Authorization": "wrong-key"},
    )
    clock.advance(3)
    await http.get(f"{base}/order/nope", headers={"Authorization": cluster.api_key("boost")})

    first, second = cluster.boost.requests
    assert isinstance(first, RecordedRequest)
    assert first.method == "POST"
    assert first.path == "/order"
    assert first.query == {"ref": "x"}
    assert first.headers["authorization"] == "wrong-key"
    assert first.headers["content-type"] == "application/json"
    assert first.json == {"inviteCode": "abc", "amount": "2"}
    assert first.text == '{"inviteCode":"abc","amount":"2"}'
    assert first.at == 1000.0
    assert second.method == "GET"
    assert second.path == "/order/nope"
    assert second.json is None and second.text == ""
    assert second.at == 1003.0


async def test_faulted_and_raw_requests_are_recorded(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    cluster.checkout.add_fault(Fault("server_error"))
    await http.post(
        f"{cluster.base_url('checkout')}/orders",
        content=b"not json",
        headers={"Authorization": "k", "Content-Type": "text/plain"},
    )
    (entry,) = cluster.checkout.requests
    assert entry.json is None
    assert entry.text == "not json"
    assert entry.path == "/orders"


async def test_requests_endpoint_lists_and_clears(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "namefi")
    await call.send(http)
    base = cluster.base_url("namefi")
    listed = await http.get(f"{base}/_sandbox/requests")
    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    (entry,) = listed.json()
    assert entry["method"] == "GET"
    assert entry["path"].startswith("/v-next/orders/")
    assert entry["headers"]["authorization"] == f"Bearer {cluster.api_key('namefi')}"
    assert set(entry) == {"method", "path", "query", "headers", "json", "text", "at"}
    # Control calls are not recorded; other providers' logs are separate.
    assert len(cluster.namefi.requests) == 1
    assert cluster.boost.requests == []

    assert (await http.delete(f"{base}/_sandbox/requests")).status_code == 200
    assert cluster.namefi.requests == []
    assert (await http.get(f"{base}/_sandbox/requests")).json() == []


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("boost", r"[0-9a-f-]{36}"),
        ("checkout", r".+"),
        ("namefi", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        ("digital_shop", r"[A-Za-z0-9]{12}"),
    ],
)
async def test_control_creates_orders_with_provider_ids(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str, pattern: str
) -> None:
    response = await http.post(
        f"{cluster.base_url(name)}/_sandbox/orders",
        json={"timeline": [{"after": 0, "status": "PROCESSING"}]},
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    order_id = response.json()["id"]
    assert re.fullmatch(pattern, order_id)
    assert cluster.state(name).order_status(order_id) == "PROCESSING"

    listed = (await http.get(f"{cluster.base_url(name)}/_sandbox/orders")).json()
    assert [o["id"] for o in listed] == [order_id]
    one = (await http.get(f"{cluster.base_url(name)}/_sandbox/orders/{order_id}")).json()
    assert one["current"]["status"] == "PROCESSING"


async def test_control_seeds_a_chosen_id(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    base = cluster.base_url("digital_shop")
    created = await http.post(f"{base}/_sandbox/orders", json={"id": "ABCDEF123456"})
    assert created.json() == {"id": "ABCDEF123456"}
    again = await http.post(f"{base}/_sandbox/orders", json={"id": "ABCDEF123456"})
    assert again.status_code == 400
    bad = await http.post(f"{base}/_sandbox/orders", json={"id": "short"})
    assert bad.status_code == 400
    assert list(cluster.digital_shop.orders) == ["ABCDEF123456"]


@pytest.mark.parametrize(
    "body",
    [
        {"timeline": []},
        {"timeline": [{"status": "PENDING"}]},
        {"timeline": [{"after": -1, "status": "PENDING"}]},
        {"timeline": [{"after": 0, "status": ""}]},
        {"timeline": "PENDING"},
        {"timeline": [{"after": 0, "status": "COMPLETED", "deliveryData": 5}]},
        {"productName": 5},
        {"unknownField": 1},
    ],
)
async def test_control_rejects_bad_seeds(
    cluster: SandboxCluster, http: httpx.AsyncClient, body: dict
) -> None:
    response = await http.post(f"{cluster.base_url('digital_shop')}/_sandbox/orders", json=body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert cluster.digital_shop.orders == {}


async def test_control_rejects_non_json(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    base = cluster.base_url("boost")
    for path in ("orders", "faults"):
        response = await http.post(f"{base}/_sandbox/{path}", content=b"nope")
        assert response.status_code == 400
    assert (await http.put(f"{base}/_sandbox/latency", json={"seconds": -1})).status_code == 400
    assert (await http.get(f"{base}/_sandbox/nothing")).status_code == 404


async def test_default_timeline_over_http(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    base = cluster.base_url("boost")
    timeline = [{"after": 0, "status": "PROCESSING"}, {"after": 1, "status": "COMPLETED"}]
    response = await http.put(f"{base}/_sandbox/default-timeline", json={"timeline": timeline})
    assert response.status_code == 200
    assert (await http.get(f"{base}/_sandbox/default-timeline")).json() == {"timeline": timeline}

    created = await http.post(
        f"{base}/order",
        json={"inviteCode": "abc", "amount": 1},
        headers={"Authorization": cluster.api_key("boost")},
    )
    order_id = created.json()["data"]["id"]
    assert created.json()["data"]["status"] == "PROCESSING"
    clock.advance(1)
    assert cluster.boost.order_status(order_id) == "COMPLETED"

    bad = await http.put(f"{base}/_sandbox/default-timeline", json={"timeline": []})
    assert bad.status_code == 400
    assert cluster.boost.default_timeline == timeline


async def test_faults_over_http(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    call = valid_call(cluster, "digital_shop")
    base = cluster.base_url("digital_shop")
    added = await http.post(
        f"{base}/_sandbox/faults",
        json={"kind": "rate_limit", "count": -1, "retry_after": 3, "method": "GET"},
    )
    assert added.status_code == 201
    assert added.json()["kind"] == "rate_limit"
    assert len((await http.get(f"{base}/_sandbox/faults")).json()) == 1

    limited = await call.send(http)
    assert_error("digital_shop", limited, 429)
    assert limited.headers["Retry-After"] == "3"

    cleared = await http.delete(f"{base}/_sandbox/faults")
    assert cleared.json() == {"cleared": 1}
    assert_ok("digital_shop", await call.send(http))

    for bad in ({"kind": "nope"}, {"count": 1}, {"kind": "hang", "bogus": 1}):
        assert (await http.post(f"{base}/_sandbox/faults", json=bad)).status_code == 400
    assert cluster.digital_shop.faults == []


@pytest.mark.parametrize("name", PROVIDERS)
async def test_reset_forgets_everything(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    state = cluster.state(name)
    call = valid_call(cluster, name)
    await call.send(http)
    state.add_fault(Fault("server_error", count=-1))
    state.set_latency(0.5)
    state.set_default_timeline([{"after": 0, "status": "X"}])

    response = await http.post(f"{cluster.base_url(name)}/_sandbox/reset")
    assert response.status_code == 200
    assert state.orders == {}
    assert state.requests == []
    assert state.faults == []
    assert state.latency == 0
    assert state.default_timeline == state.initial_default_timeline()


async def test_control_is_not_authenticated_but_the_api_is(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    base = cluster.base_url("namefi")
    seeded = await http.post(f"{base}/_sandbox/orders", json={})
    assert seeded.status_code == 201
    response = await http.get(f"{base}/v-next/orders/{seeded.json()['id']}")
    assert_error("namefi", response, 401)
    assert (await http.get(f"{base}/v-next/orders/{uuid.uuid4()}")).status_code == 401


async def test_an_order_moves_to_a_status_at_once_over_http(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    """What the playground's panel buttons do: the order is in the new status from now on,
    as the provider's own API answers it; a step still to come is dropped."""
    base = cluster.base_url("digital_shop")
    seeded = await http.post(
        f"{base}/_sandbox/orders",
        json={
            "timeline": [{"after": 0, "status": "PENDING"}, {"after": 3600, "status": "REFUNDED"}]
        },
    )
    order_id = seeded.json()["id"]
    moved = await http.post(
        f"{base}/_sandbox/orders/{order_id}/status",
        json={"status": "COMPLETED", "deliveryData": "KEY-1234"},
    )
    assert moved.status_code == 200, moved.text
    answer = await http.get(
        f"{base}/api/v1/orders/{order_id}",
        headers={"X-API-Key": cluster.api_key("digital_shop")},
    )
    data = answer.json()["data"]
    assert (data["status"], data["deliveryData"]) == ("COMPLETED", "KEY-1234")
    timeline = cluster.state("digital_shop").orders[order_id].timeline
    assert [s["status"] for s in timeline] == ["PENDING", "COMPLETED"]

    refused = await http.post(
        f"{base}/_sandbox/orders/{order_id}/status", json={"status": "SHIPPED"}
    )
    assert refused.status_code == 400
    assert "PENDING, PROCESSING, COMPLETED, REFUNDED" in refused.json()["error"]
    missing = await http.post(f"{base}/_sandbox/orders/nope/status", json={"status": "PENDING"})
    assert missing.status_code == 404
    assert (
        await http.post(f"{base}/_sandbox/orders/{order_id}/status", json={})
    ).status_code == 400
