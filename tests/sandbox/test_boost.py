"""The boost sandbox follows boost-orders.md."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from sandbox import SandboxCluster
from tests.sandbox.helpers import FakeClock, assert_error

ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def auth(cluster: SandboxCluster) -> dict[str, str]:
    return {"Authorization": cluster.api_key("boost")}


async def test_create_then_get_matches_the_documented_envelope(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    base = cluster.base_url("boost")
    created = await http.post(
        f"{base}/order", json={"inviteCode": "simpleNitro", "amount": "10"}, headers=auth(cluster)
    )
    assert created.status_code == 200
    assert created.headers["content-type"] == "application/json"
    body = created.json()
    assert body["status"] is True
    data = body["data"]
    assert set(data) == {"id", "inviteCode", "amount", "price", "status", "createdAt"}
    assert str(uuid.UUID(data["id"])) == data["id"]
    assert data["inviteCode"] == "simpleNitro"
    assert data["amount"] == 10
    assert data["price"] == 560
    assert data["status"] == "PENDING"
    assert ISO_Z.fullmatch(data["createdAt"])

    fetched = await http.get(f"{base}/order/{data['id']}", headers=auth(cluster))
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.json() == body
    assert list(cluster.boost.orders) == [data["id"]]


async def test_integer_amount_is_accepted_and_priced(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    cluster.boost.price_per_boost = 70
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": "abc-DEF-123", "amount": 3},
        headers=auth(cluster),
    )
    assert response.status_code == 200
    assert response.json()["data"]["amount"] == 3
    assert response.json()["data"]["price"] == 210


async def test_status_follows_the_default_timeline(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    cluster.boost.set_default_timeline(
        [
            {"after": 0, "status": "PENDING"},
            {"after": 5, "status": "PROCESSING"},
            {"after": 30, "status": "COMPLETED"},
        ]
    )
    base = cluster.base_url("boost")
    created = await http.post(
        f"{base}/order", json={"inviteCode": "abc", "amount": 1}, headers=auth(cluster)
    )
    order_id = created.json()["data"]["id"]

    async def status() -> str:
        response = await http.get(f"{base}/order/{order_id}", headers=auth(cluster))
        return str(response.json()["data"]["status"])

    assert await status() == "PENDING"
    clock.advance(4.9)
    assert await status() == "PENDING"
    clock.advance(0.1)
    assert await status() == "PROCESSING"
    clock.advance(100)
    assert await status() == "COMPLETED"


async def test_failed_timeline_seeded_through_control(
    cluster: SandboxCluster, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    base = cluster.base_url("boost")
    seeded = await http.post(
        f"{base}/_sandbox/orders",
        json={
            "inviteCode": "myserver",
            "amount": 4,
            "timeline": [{"after": 0, "status": "PROCESSING"}, {"after": 2, "status": "FAILED"}],
        },
    )
    assert seeded.status_code == 201
    order_id = seeded.json()["id"]
    clock.advance(2)
    data = (await http.get(f"{base}/order/{order_id}", headers=auth(cluster))).json()["data"]
    assert data["status"] == "FAILED"
    assert data["amount"] == 4 and data["price"] == 4 * 56 and data["inviteCode"] == "myserver"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "wrong-key"}, {"Authorization": "Bearer sandbox-boost-key"}],
    ids=["missing", "wrong", "bearer-prefixed"],
)
async def test_bad_key_is_401_and_creates_nothing(
    cluster: SandboxCluster, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": "abc", "amount": "1"},
        headers=headers,
    )
    assert_error("boost", response, 401)
    assert cluster.boost.orders == {}


@pytest.mark.parametrize("invite", ["expired", "a", "bad code!", "x" * 33, "discord.gg/abc", 123])
async def test_invalid_invite_is_400(
    cluster: SandboxCluster, http: httpx.AsyncClient, invite: object
) -> None:
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": invite, "amount": "1"},
        headers=auth(cluster),
    )
    assert_error("boost", response, 400)
    assert response.json()["message"] == "Invalid invite"
    assert cluster.boost.orders == {}


@pytest.mark.parametrize("amount", [0, 101, -1, "abc", "1.5", 1.5, True, [1], " 3"])
async def test_invalid_amount_is_400(
    cluster: SandboxCluster, http: httpx.AsyncClient, amount: object
) -> None:
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": "abc", "amount": amount},
        headers=auth(cluster),
    )
    assert_error("boost", response, 400)
    assert response.json()["message"] == "Invalid amount"
    assert cluster.boost.orders == {}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"amount": "1"}', "application/json"),
        (b'{"inviteCode": "abc"}', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"{not json", "application/json"),
        (b'{"inviteCode": "abc", "amount": "1"}', "text/plain"),
    ],
    ids=["no-invite", "no-amount", "not-object", "not-json", "not-json-content-type"],
)
async def test_invalid_body_is_400(
    cluster: SandboxCluster, http: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        content=content,
        headers={**auth(cluster), "Content-Type": content_type},
    )
    assert_error("boost", response, 400)
    assert cluster.boost.orders == {}


async def test_unknown_order_is_404(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    response = await http.get(
        f"{cluster.base_url('boost')}/order/{uuid.uuid4()}", headers=auth(cluster)
    )
    assert_error("boost", response, 404)


async def test_unknown_path_is_404_in_boost_shape(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{cluster.base_url('boost')}/orders", headers=auth(cluster))
    assert_error("boost", response, 404)
