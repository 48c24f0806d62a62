"""Builds one adapter (and one httpx client) per configured provider, and closes them."""

from __future__ import annotations

import logging

import httpx
from pydantic import SecretStr

from bot.config import Settings
from bot.providers.base import ProviderAdapter
from bot.providers.boost import BoostClient
from bot.providers.checkout import CheckoutClient
from bot.providers.digital_shop import DigitalShopClient
from bot.providers.http import build_client
from bot.providers.namefi import NamefiClient

log = logging.getLogger(__name__)

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    "boost": BoostClient,
    "checkout": CheckoutClient,
    "namefi": NamefiClient,
    "digital_shop": DigitalShopClient,
}


def auth_headers(
    provider: str, secret: str, *, header: str = "X-API-Key", prefix: str = ""
) -> dict[str, str]:
    """Each contract's auth style: raw key, Bearer token, or (digital shop, whose contract
    is silent) DIGITAL_SHOP_AUTH_HEADER with an optional DIGITAL_SHOP_AUTH_PREFIX."""
    if provider == "namefi":
        return {"Authorization": f"Bearer {secret}"}
    if provider == "digital_shop":
        return {header: f"{prefix} {secret}" if prefix else secret}
    return {"Authorization": secret}


class ProviderRegistry:
    def __init__(self, adapters: dict[str, ProviderAdapter]) -> None:
        self._adapters = adapters

    def get(self, name: str) -> ProviderAdapter | None:
        return self._adapters.get(name)

    def names(self) -> list[str]:
        return list(self._adapters)

    def all(self) -> list[ProviderAdapter]:
        return list(self._adapters.values())

    def linkable(self) -> list[ProviderAdapter]:
        return [a for a in self._adapters.values() if a.capabilities.can_link]

    def needs_contact(self, name: str) -> bool:
        """Whether orders of provider `name` need the buyer's contact details, as its
        adapter declares (its class's word when the provider isn't configured)."""
        adapter = self._adapters.get(name)
        declared = adapter if adapter is not None else ADAPTERS.get(name)
        return declared is not None and declared.needs_contact

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            try:
                await adapter.aclose()
            except Exception:
                log.exception("closing the %s client failed", adapter.name)


def build_adapter(
    provider: str,
    base_url: str,
    secret: SecretStr,
    *,
    timeout: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
    auth_header: str = "X-API-Key",
    auth_prefix: str = "",
    order_path: str | None = None,
) -> ProviderAdapter:
    client = build_client(
        base_url,
        auth_headers(provider, secret.get_secret_value(), header=auth_header, prefix=auth_prefix),
        timeout=timeout,
        max_connections=max_connections,
        transport=transport,
    )
    adapter = ADAPTERS[provider](client, secret)
    if order_path is not None and isinstance(adapter, DigitalShopClient):
        adapter.order_path = order_path
    # Per-read timeouts don't bound a reply that trickles in; this bounds the whole call.
    adapter.deadline = timeout
    return adapter


def build_providers(settings: Settings) -> ProviderRegistry:
    adapters: dict[str, ProviderAdapter] = {}
    for name in settings.enabled_providers():
        base_url = settings.provider_base_url(name)
        secret = settings.provider_secret(name)
        assert base_url is not None and secret is not None  # guaranteed by Settings
        adapters[name] = build_adapter(
            name,
            base_url,
            secret,
            timeout=settings.provider_timeout_seconds,
            max_connections=settings.provider_max_connections,
            auth_header=settings.digital_shop_auth_header,
            auth_prefix=settings.digital_shop_auth_prefix,
            order_path=settings.digital_shop_order_path,
        )
    return ProviderRegistry(adapters)
