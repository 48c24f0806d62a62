"""SandboxCluster wiring and ``python -m sandbox`` as a process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import httpx
import pytest

from demo.payments import PaymentSandboxes
from sandbox import SandboxCluster
from tests.sandbox.helpers import assert_error

REPO = Path(__file__).resolve().parents[2]


async def test_cluster_urls_and_keys(cluster: SandboxCluster) -> None:
    urls = cluster.urls()
    assert set(urls) == {"boost", "checkout", "namefi", "digital_shop"}
    root = f"http://127.0.0.1:{cluster.port}"
    assert urls["boost"] == f"{root}/boost"
    assert urls["digital_shop"] == f"{root}/digital-shop"
    assert cluster.base_url("digital-shop") == urls["digital_shop"]
    assert cluster.api_key("boost") == "sandbox-boost-key"
    assert cluster.api_key("checkout") == "sandbox-checkout-key"
    assert cluster.api_key("namefi") == "sandbox-namefi-token"
    assert cluster.api_key("digital_shop") == "sandbox-digital-key"
    with pytest.raises(ValueError):
        cluster.state("nope")


async def test_custom_keys_and_single_app(http: httpx.AsyncClient) -> None:
    async with SandboxCluster(only="digital-shop", digital_key="k2") as cluster:
        assert set(cluster.urls()) == {"digital_shop"}
        base = cluster.base_url("digital_shop")
        assert base == f"http://127.0.0.1:{cluster.port}"
        order_id = cluster.digital_shop.create_order()
        response = await http.get(f"{base}/api/v1/orders/{order_id}", headers={"X-API-Key": "k2"})
        assert response.status_code == 200
        assert cluster.digital_shop.requests[0].path == f"/api/v1/orders/{order_id}"
        with pytest.raises(KeyError):
            cluster.state("boost")
    with pytest.raises(RuntimeError):
        cluster.base_url("digital_shop")


async def read_line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout=10)).decode()


@pytest.mark.subprocess
async def test_module_prints_urls_and_serves(tmp_path: Path, http: httpx.AsyncClient) -> None:
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            assert proc.stdout is not None
            urls = json.loads(await read_line(proc.stdout))
            assert set(urls) == {"boost", "checkout", "namefi", "digital_shop"}
            assert urls["boost"].startswith("http://127.0.0.1:")

            created = await http.post(
                f"{urls['boost']}/order",
                json={"inviteCode": "abc", "amount": "1"},
                headers={"Authorization": "sandbox-boost-key"},
            )
            assert created.status_code == 200
            seeded = await http.post(
                f"{urls['digital_shop']}/_sandbox/orders",
                json={"timeline": [{"after": 0, "status": "COMPLETED", "deliveryData": "pw:1"}]},
            )
            order_id = seeded.json()["id"]
            fetched = await http.get(
                f"{urls['digital_shop']}/api/v1/orders/{order_id}",
                headers={"X-API-Key": "sandbox-digital-key"},
            )
            assert fetched.json()["data"]["deliveryData"] == "pw:1"
            wrong = await http.get(f"{urls['namefi']}/v-next/orders/{order_id}")
            assert_error("namefi", wrong, 401)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(proc.wait(), timeout=10)
    assert returncode == 0
    log = stderr_path.read_text()
    assert "boost POST /order -> 200" in log
    assert f"digital_shop GET /api/v1/orders/{order_id} -> 200" in log
    assert "sandbox-boost-key" not in log
    assert "sandbox-digital-key" not in log
    assert "pw:1" not in log


@pytest.mark.subprocess
async def test_module_only_serves_one_app_at_root(http: httpx.AsyncClient) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--only",
        "boost",
        "--port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(await read_line(proc.stdout))
        assert list(urls) == ["boost"]
        response = await http.get(
            f"{urls['boost']}/order/unknown", headers={"Authorization": "sandbox-boost-key"}
        )
        assert_error("boost", response, 404)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        returncode = await asyncio.wait_for(proc.wait(), timeout=10)
    assert returncode == 0


async def test_a_loopback_only_cluster_refuses_other_hosts_and_sites() -> None:
    """The playground's sandboxes: a DNS-rebinding page (its own Host) and a cross-site
    request (its own Origin) are refused; the bot's requests are not."""
    async with SandboxCluster(port=0, loopback_only=True) as cluster:
        url = f"{cluster.base_url('boost')}/_sandbox/orders"
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).status_code == 200
            rebound = await http.get(url, headers={"Host": f"evil.example:{cluster.port}"})
            assert rebound.status_code == 421
            crossed = await http.put(
                f"{cluster.base_url('boost')}/_sandbox/latency",
                json={"seconds": 5},
                headers={"Origin": "http://evil.example"},
            )
            assert crossed.status_code == 403
            assert cluster.state("boost").latency == 0
    async with SandboxCluster(port=0) as open_cluster, httpx.AsyncClient() as http:
        url = f"{open_cluster.base_url('boost')}/_sandbox/orders"
        assert (await http.get(url, headers={"Host": "evil.example"})).status_code == 200


async def test_the_playgrounds_payment_sandbox_refuses_other_hosts_too() -> None:
    payments = PaymentSandboxes(loopback_only=True)
    await payments.start()
    try:
        assert payments.razorpay_url is not None
        url = f"{payments.razorpay_url}/_sandbox/deliveries"
        port = url.split(":")[2].split("/")[0]
        async with httpx.AsyncClient() as http:
            assert (await http.get(url)).status_code == 200
            answer = await http.get(url, headers={"Host": f"evil.example:{port}"})
            assert answer.status_code == 421
    finally:
        await payments.stop()
