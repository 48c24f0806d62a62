"""Settings accept what people paste: provider base URLs with or without the start of
their API path, Discord's base with or without /api/v10, and the digital shop's path and
auth header as settings (its contract names neither), used over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.config import strip_route
from bot.discord_endpoint import discord_endpoints
from bot.providers.registry import build_adapter


@pytest.mark.parametrize(
    ("pasted", "route", "used"),
    [
        (
            "http://backend.astra.namefi.dev/v-next",
            "/v-next/orders",
            "http://backend.astra.namefi.dev",
        ),
        (
            "http://backend.astra.namefi.dev/v-next/",
            "/v-next/orders",
            "http://backend.astra.namefi.dev",
        ),
        (
            "http://backend.astra.namefi.dev/v-next/orders",
            "/v-next/orders",
            "http://backend.astra.namefi.dev",
        ),
        ("http://backend.astra.namefi.dev", "/v-next/orders", "http://backend.astra.namefi.dev"),
        ("https://boost.example/order", "/order", "https://boost.example"),
        ("https://pay.example/base/orders/", "/orders", "https://pay.example/base"),
        ("https://shop.example/api/v1", "/api/v1/orders/", "https://shop.example"),
        ("https://shop.example/api", "/api/v1/orders/", "https://shop.example"),
        (
            "https://shop.example/v-next-thing",
            "/v-next/orders",
            "https://shop.example/v-next-thing",
        ),
    ],
)
def test_a_pasted_base_url_loses_the_path_the_adapter_adds(
    pasted: str, route: str, used: str
) -> None:
    assert strip_route(pasted, route) == used


@pytest.mark.parametrize(
    ("base", "rest", "gateway"),
    [
        ("http://127.0.0.1:8600", "http://127.0.0.1:8600/api/v10", "ws://127.0.0.1:8600/gateway"),
        ("http://127.0.0.1:8600/", "http://127.0.0.1:8600/api/v10", "ws://127.0.0.1:8600/gateway"),
        (
            "http://127.0.0.1:8600/api/v10",
            "http://127.0.0.1:8600/api/v10",
            "ws://127.0.0.1:8600/gateway",
        ),
        (
            "http://127.0.0.1:8600/api",
            "http://127.0.0.1:8600/api/v10",
            "ws://127.0.0.1:8600/gateway",
        ),
        (
            "https://proxy.example/discord",
            "https://proxy.example/discord/api/v10",
            "wss://proxy.example/discord/gateway",
        ),
    ],
)
def test_discord_endpoints_are_derived_as_documented(base: str, rest: str, gateway: str) -> None:
    assert discord_endpoints(base) == (rest, gateway)
    assert discord_endpoints(base, "wss://gw.example/") == (rest, "wss://gw.example/")


def test_the_settings_gateway_is_the_one_the_bot_uses(
    bot_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.config import load_settings

    for name, value in bot_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no developer .env

    settings = load_settings(
        discord_api_base_url="http://127.0.0.1:8600/api/v10",
        namefi_api_base_url="http://backend.astra.namefi.dev/v-next",
        namefi_api_token="t",
    )
    assert settings.gateway_url() == "ws://127.0.0.1:8600/gateway"
    assert settings.provider_base_url("namefi") == "http://backend.astra.namefi.dev"
    shown = settings.masked_summary()
    assert shown["namefi_api_base_url"].endswith("(uses http://backend.astra.namefi.dev)")


async def test_the_digital_shops_path_and_auth_header_are_settings() -> None:
    seen: list[tuple[str, str | None]] = []

    async def order(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization")))
        body: dict[str, Any] = {
            "status": "success",
            "data": {"id": request.match_info["id"], "status": "PROCESSING"},
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/shop/v2/order/{id}/status", order)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    adapter = build_adapter(
        "digital_shop",
        f"http://127.0.0.1:{port}",
        SecretStr("k-123"),
        timeout=2.0,
        max_connections=2,
        auth_header="Authorization",
        auth_prefix="Bearer",
        order_path="/shop/v2/order/{id}/status",
    )
    try:
        found = await adapter.get_order("ABCDEF123456")
    finally:
        await adapter.aclose()
        await runner.cleanup()
    assert found.raw_status == "PROCESSING"
    assert seen == [("/shop/v2/order/ABCDEF123456/status", "Bearer k-123")]


@pytest.mark.parametrize(
    ("pasted", "route"),
    [
        ("http://orders/", "/orders"),
        ("http://order", "/order"),
        ("http://v-next:8080", "/v-next/orders"),
    ],
)
def test_only_the_path_is_ever_cut_never_the_host(pasted: str, route: str) -> None:
    assert strip_route(pasted, route) == pasted.rstrip("/")


def test_any_pasted_api_version_gives_v10() -> None:
    assert discord_endpoints("http://h/api/v9") == ("http://h/api/v10", "ws://h/gateway")
