"""Fault injection and latency, on every provider."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sandbox import Fault, SandboxCluster
from tests.sandbox.helpers import PROVIDERS, assert_error, assert_ok, valid_call

READERS = ("boost", "namefi", "digital_shop")


@pytest.mark.parametrize("name", PROVIDERS)
async def test_rate_limit_is_429_with_retry_after_then_clears(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    cluster.state(name).add_fault(Fault("rate_limit", retry_after=7))
    limited = await call.send(http)
    assert_error(name, limited, 429)
    assert limited.headers["Retry-After"] == "7"
    assert_ok(name, await call.send(http))


async def test_rate_limit_defaults_to_one_second(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "boost")
    cluster.boost.add_fault(Fault("rate_limit"))
    assert (await call.send(http)).headers["Retry-After"] == "1"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_server_error_is_500_in_provider_shape(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    cluster.state(name).add_fault(Fault("server_error"))
    assert_error(name, await call.send(http), 500)
    assert_ok(name, await call.send(http))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_auth_fault_is_401_despite_the_right_key(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    cluster.state(name).add_fault(Fault("auth"))
    assert_error(name, await call.send(http), 401)
    assert_ok(name, await call.send(http))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_malformed_is_truncated_json(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    cluster.state(name).add_fault(Fault("malformed"))
    response = await call.send(http)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == '{"status": tru'
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("name", PROVIDERS)
async def test_garbage_shape_is_valid_json_of_the_wrong_shape(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    cluster.state(name).add_fault(Fault("garbage_shape"))
    response = await call.send(http)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"unexpected": 1}
    assert_ok(name, await call.send(http))


def status_of(name: str, response: httpx.Response) -> str:
    body = response.json()
    return str(body["order"]["status"] if name == "namefi" else body["data"]["status"])


@pytest.mark.parametrize("name", READERS)
async def test_unknown_status_only_changes_the_rendered_status(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    normal = status_of(name, await call.send(http))
    cluster.state(name).add_fault(Fault("unknown_status"))
    weird = await call.send(http)
    assert weird.status_code == 200
    assert status_of(name, weird) == "WEIRD_NEW_STATE"
    assert status_of(name, await call.send(http)) == normal


async def test_unknown_status_on_boost_create(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    cluster.boost.add_fault(Fault("unknown_status", method="POST"))
    response = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": "abc", "amount": 1},
        headers={"Authorization": cluster.api_key("boost")},
    )
    assert response.json()["data"]["status"] == "WEIRD_NEW_STATE"
    assert len(cluster.boost.orders) == 1


async def test_hang_on_post_creates_the_order_but_the_answer_is_lost(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    cluster.boost.add_fault(Fault("hang"))
    with pytest.raises(httpx.ReadTimeout):
        await http.post(
            f"{cluster.base_url('boost')}/order",
            json={"inviteCode": "abc", "amount": 2},
            headers={"Authorization": cluster.api_key("boost")},
            timeout=0.1,
        )
    assert len(cluster.boost.orders) == 1
    assert next(iter(cluster.boost.orders.values())).data["amount"] == 2


async def test_hang_on_checkout_post_creates_the_order(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "checkout")
    cluster.checkout.add_fault(Fault("hang"))
    with pytest.raises(httpx.ReadTimeout):
        await call.send(http, timeout=0.1)
    assert list(cluster.checkout.orders) == ["ord-1"]
    # The idempotent retry then gets the stored order.
    assert_ok("checkout", await call.send(http))
    assert len(cluster.checkout.orders) == 1


async def test_hang_on_get_delays_the_answer(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "digital_shop")
    cluster.digital_shop.hang_seconds = 0.3
    cluster.digital_shop.add_fault(Fault("hang"))
    started = time.perf_counter()
    response = await call.send(http, timeout=2.0)
    assert time.perf_counter() - started >= 0.3
    assert_ok("digital_shop", response)


async def test_forever_fault_persists_until_cleared(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "namefi")
    cluster.namefi.add_fault(Fault("server_error", count=-1))
    for _ in range(3):
        assert_error("namefi", await call.send(http), 500)
    assert cluster.namefi.clear_faults() == 1
    assert_ok("namefi", await call.send(http))


async def test_count_limits_how_many_requests_fail(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "boost")
    cluster.boost.add_fault(Fault("server_error", count=2))
    assert (await call.send(http)).status_code == 500
    assert (await call.send(http)).status_code == 500
    assert (await call.send(http)).status_code == 200
    assert cluster.boost.faults == []


async def test_faults_apply_in_fifo_order(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    call = valid_call(cluster, "digital_shop")
    cluster.digital_shop.add_fault(Fault("rate_limit"))
    cluster.digital_shop.add_fault(Fault("server_error"))
    assert [(await call.send(http)).status_code for _ in range(3)] == [429, 500, 200]


async def test_method_and_path_filters(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    get_call = valid_call(cluster, "boost")
    cluster.boost.add_fault(Fault("server_error", method="post", path_prefix="/order"))
    assert (await get_call.send(http)).status_code == 200
    created = await http.post(
        f"{cluster.base_url('boost')}/order",
        json={"inviteCode": "abc", "amount": 1},
        headers={"Authorization": cluster.api_key("boost")},
    )
    assert_error("boost", created, 500)

    cluster.boost.add_fault(Fault("server_error", path_prefix="/nothing-here"))
    assert (await get_call.send(http)).status_code == 200
    assert len(cluster.boost.faults) == 1


async def test_faults_are_per_provider(cluster: SandboxCluster, http: httpx.AsyncClient) -> None:
    cluster.boost.add_fault(Fault("server_error", count=-1))
    assert_ok("namefi", await valid_call(cluster, "namefi").send(http))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explode"},
        {"kind": "hang", "count": 0},
        {"kind": "hang", "count": -2},
        {"kind": "rate_limit", "retry_after": -1},
        {"kind": "hang", "path_prefix": "order"},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)


async def test_latency_delays_every_provider_request(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "boost")
    base = cluster.base_url("boost")
    assert (await http.put(f"{base}/_sandbox/latency", json={"seconds": 0.2})).status_code == 200
    assert cluster.boost.latency == 0.2

    started = time.perf_counter()
    assert (await call.send(http)).status_code == 200
    assert time.perf_counter() - started >= 0.2

    # Control endpoints are not delayed.
    started = time.perf_counter()
    assert (await http.get(f"{base}/_sandbox/requests")).status_code == 200
    assert time.perf_counter() - started < 0.2

    cluster.boost.set_latency(0)
    started = time.perf_counter()
    assert (await call.send(http)).status_code == 200
    assert time.perf_counter() - started < 0.2


# --- faults that contradict what the client sent (issue 12) ---------------------------


@pytest.mark.parametrize("name", PROVIDERS)
async def test_conflict_is_409_in_provider_shape_and_does_nothing(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    before = len(cluster.state(name).orders)
    cluster.state(name).add_fault(Fault("conflict"))
    assert_error(name, await call.send(http), 409)
    assert len(cluster.state(name).orders) == before
    assert_ok(name, await call.send(http))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_wrong_id_answers_about_another_order(
    cluster: SandboxCluster, http: httpx.AsyncClient, name: str
) -> None:
    call = valid_call(cluster, name)
    right = (await call.send(http)).json()
    cluster.state(name).add_fault(Fault("wrong_id"))
    wrong = (await call.send(http)).json()
    cluster.state(name).add_fault(Fault("wrong_id", id_value="../../admin"))
    chosen = (await call.send(http)).json()

    def order_id(body: dict) -> str:
        inner = body.get("data") or body.get("order") or body
        return str(inner["id"])

    assert order_id(wrong) != order_id(right)
    assert order_id(chosen) == "../../admin"


async def test_wrong_id_on_checkout_still_creates_the_order_under_the_sent_id(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    call = valid_call(cluster, "checkout")
    cluster.checkout.add_fault(Fault("wrong_id", id_value="THEIRS-1"))
    reply = await call.send(http)
    assert reply.status_code == 201 and reply.json()["id"] == "THEIRS-1"
    assert call.body["id"] in cluster.checkout.orders


async def test_no_delivery_hides_the_goods_of_a_completed_order(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    oid = cluster.digital_shop.create_order(
        deliveryData="user:pass", timeline=[{"after": 0, "status": "COMPLETED"}]
    )
    url = f"{cluster.base_url('digital_shop')}/api/v1/orders/{oid}"
    headers = {"X-API-Key": cluster.api_key("digital_shop")}
    cluster.digital_shop.add_fault(Fault("no_delivery"))
    hidden = (await http.get(url, headers=headers)).json()["data"]
    assert hidden["status"] == "COMPLETED" and hidden["deliveryData"] is None
    assert "items" not in hidden
    assert (await http.get(url, headers=headers)).json()["data"]["deliveryData"] == "user:pass"


async def test_raw_answers_verbatim_after_doing_the_work(
    cluster: SandboxCluster, http: httpx.AsyncClient
) -> None:
    base = cluster.base_url("boost")
    cluster.boost.add_fault(
        Fault("raw", body="not gzip", headers={"Content-Encoding": "gzip"}, method="POST")
    )
    async with http.stream(
        "POST",
        f"{base}/order",
        json={"inviteCode": "simpleNitro", "amount": "2"},
        headers={"Authorization": cluster.api_key("boost")},
    ) as reply:
        assert reply.status_code == 200 and reply.headers["Content-Encoding"] == "gzip"
        raw = b"".join([chunk async for chunk in reply.aiter_raw()])
        assert raw == b"not gzip"  # decoding it as gzip fails, as it should
    assert len(cluster.boost.orders) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "raw", "status": 42},
        {"kind": "raw", "headers": {"X": "a\nb"}},
        {"kind": "wrong_id", "id_value": 7},
    ],
)
def test_invalid_new_faults_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)
