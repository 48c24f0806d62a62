"""Issue 25: each provider's key is checked with a documented read that changes nothing,
over real HTTP against the sandboxes: an accepted key, a refused one, a provider that
can't be asked, and every way the answer can be inconclusive."""

from __future__ import annotations

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.providers.base import ProviderAdapter
from bot.providers.errors import ProviderAuthError, ProviderRejected
from bot.providers.models import KeyState
from bot.providers.registry import build_adapter
from sandbox.common import Fault
from sandbox.runner import SandboxCluster
from tests.support import make_adapter, only_documented_requests

CHECKABLE = ("boost", "digital_shop", "namefi")


def with_key(cluster: SandboxCluster, name: str, key: str) -> ProviderAdapter:
    return build_adapter(
        name, cluster.base_url(name), SecretStr(key), timeout=1.0, max_connections=2
    )


@pytest.mark.parametrize("name", CHECKABLE)
async def test_a_right_key_is_accepted_with_one_documented_read(
    cluster: SandboxCluster, name: str
) -> None:
    adapter = make_adapter(cluster, name)
    try:
        check = await adapter.check_key(within=2)
    finally:
        await adapter.aclose()
    assert check.state is KeyState.ACCEPTED, check
    (sent,) = only_documented_requests(cluster, name)
    assert sent[0] == "GET"
    # Nothing was created: the sandbox holds no order.
    assert cluster.state(name).orders == {}


@pytest.mark.parametrize("name", CHECKABLE)
async def test_a_wrong_key_is_refused_and_never_shown(cluster: SandboxCluster, name: str) -> None:
    wrong = "sk-wrong-0123456789"
    adapter = with_key(cluster, name, wrong)
    try:
        check = await adapter.check_key(within=2)
    finally:
        await adapter.aclose()
    assert check.state is KeyState.REFUSED, check
    assert "401" in check.detail and wrong not in check.detail
    assert len(only_documented_requests(cluster, name)) == 1  # no retries of a refusal


async def test_the_checkout_api_is_never_sent_anything_to_check_it(
    cluster: SandboxCluster,
) -> None:
    adapter = with_key(cluster, "checkout", "wrong")
    try:
        check = await adapter.check_key(within=2)
    finally:
        await adapter.aclose()
    assert check.state is None and check.uncheckable
    assert "no endpoint that reads" in check.detail
    assert cluster.state("checkout").requests == []


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault("rate_limit", retry_after=30), "asked us to wait"),
        (Fault("server_error"), "HTTP 500"),
        (Fault("malformed"), "not JSON"),
        (Fault("garbage_shape"), ""),
    ],
)
async def test_an_inconclusive_answer_says_nothing_about_the_key(
    cluster: SandboxCluster, fault: Fault, words: str
) -> None:
    cluster.state("boost").add_fault(fault)
    adapter = make_adapter(cluster, "boost")
    try:
        check = await adapter.check_key(within=2)
    finally:
        await adapter.aclose()
    if fault.kind == "garbage_shape":
        # A 200 got past authentication, whatever its body: the key works.
        assert check.state is KeyState.ACCEPTED, check
    else:
        assert check.state is None and not check.uncheckable, check
        assert words in check.detail
    assert len(only_documented_requests(cluster, "boost")) == 1  # one try: a check never retries
    assert cluster.state("boost").faults == []  # the fault fired


async def test_a_provider_that_hangs_is_inconclusive_within_the_limit(
    cluster: SandboxCluster,
) -> None:
    namefi = cluster.state("namefi")
    namefi.hang_seconds = 3600
    namefi.add_fault(Fault("hang", count=-1))
    adapter = make_adapter(cluster, "namefi", timeout=30)
    try:
        check = await adapter.check_key(within=0.3)
    finally:
        await adapter.aclose()
    assert check.state is None and "no answer within 0.3s" in check.detail


async def test_namefis_403_is_about_the_order_not_our_token(cluster: SandboxCluster) -> None:
    """Its contract: the user must own the order. A 403 for someone else's order must not
    read as a refused token (which would close products and alarm staff)."""
    namefi = cluster.state("namefi")
    theirs = namefi.create_order(forbidden=True)
    adapter = make_adapter(cluster, "namefi")
    try:
        with pytest.raises(ProviderRejected) as refused:
            await adapter.get_order(theirs)
        assert refused.value.status_code == 403
        namefi.add_fault(Fault("auth"))
        with pytest.raises(ProviderAuthError):
            await adapter.get_order(theirs)
    finally:
        await adapter.aclose()


@pytest.mark.parametrize("name", CHECKABLE)
async def test_a_web_page_404_at_a_wrong_base_url_says_nothing_about_the_key(name: str) -> None:
    """A wrong base URL often lands on a web server that answers any path with an HTML
    404: that must not read as "key accepted"."""

    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_found)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    adapter = build_adapter(
        name, f"http://127.0.0.1:{port}", SecretStr("wrong"), timeout=1.0, max_connections=2
    )
    try:
        check = await adapter.check_key(within=2)
    finally:
        await adapter.aclose()
        await runner.cleanup()
    assert check.state is None and not check.uncheckable, check
    assert "shape its API doesn't use" in check.detail
