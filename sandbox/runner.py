"""Serve the four provider sandboxes on one aiohttp server (or one of them alone at root)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from sandbox import boost as boost_api
from sandbox import checkout as checkout_api
from sandbox import digital_shop as digital_shop_api
from sandbox import namefi as namefi_api
from sandbox.state import ProviderState
from sandbox.util import loopback_only

log = logging.getLogger(__name__)

PROVIDER_NAMES = ("boost", "checkout", "namefi", "digital_shop")
#: Where each provider app is mounted when the cluster serves all four.
MOUNTS = {
    "boost": "/boost",
    "checkout": "/checkout",
    "namefi": "/namefi",
    "digital_shop": "/digital-shop",
}


def normalize_name(name: str) -> str:
    """``digital-shop`` and ``digital_shop`` both name the digital shop."""
    normalized = name.strip().lower().replace("-", "_")
    if normalized not in PROVIDER_NAMES:
        raise ValueError(f"unknown sandbox {name!r}; expected one of {', '.join(PROVIDER_NAMES)}")
    return normalized


class SandboxCluster:
    """All four sandboxes on one server, mounted at ``/boost``, ``/checkout``, ``/namefi`` and
    ``/digital-shop``; with ``only=NAME`` a single sandbox is served at the root instead.

    Use as ``async with SandboxCluster(port=0) as cluster:``; ``cluster.base_url("boost")``
    is then e.g. ``http://127.0.0.1:43125/boost``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        boost_key: str = boost_api.DEFAULT_KEY,
        checkout_key: str = checkout_api.DEFAULT_KEY,
        namefi_token: str = namefi_api.DEFAULT_TOKEN,
        digital_key: str = digital_shop_api.DEFAULT_KEY,
        only: str | None = None,
        clock: Callable[[], float] | None = None,
        hang_seconds: float = 30.0,
        shutdown_timeout: float = 1.0,
        loopback_only: bool = False,
    ) -> None:
        self.host = host
        # Refuse another Host or a foreign Origin (sandbox.util.loopback_only): the
        # playground's sandboxes, which a browser on this machine can reach.
        self.loopback_only = loopback_only
        self.port = port
        self.only = normalize_name(only) if only is not None else None
        self.shutdown_timeout = shutdown_timeout
        common: dict[str, Any] = {"clock": clock, "hang_seconds": hang_seconds}
        states: dict[str, ProviderState] = {
            "boost": boost_api.BoostState(boost_key, **common),
            "checkout": checkout_api.CheckoutState(checkout_key, **common),
            "namefi": namefi_api.NamefiState(namefi_token, **common),
            "digital_shop": digital_shop_api.DigitalShopState(digital_key, **common),
        }
        self._states = {n: s for n, s in states.items() if self.only in (None, n)}
        self._runner: web.AppRunner | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._states)

    def _provider_app(self, name: str) -> web.Application:
        state = self._states[name]
        if isinstance(state, boost_api.BoostState):
            return boost_api.create_app(state)
        if isinstance(state, checkout_api.CheckoutState):
            return checkout_api.create_app(state)
        if isinstance(state, namefi_api.NamefiState):
            return namefi_api.create_app(state)
        if isinstance(state, digital_shop_api.DigitalShopState):
            return digital_shop_api.create_app(state)
        raise TypeError(f"no app for {type(state).__name__}")

    def build_app(self) -> web.Application:
        """The root application: one provider app alone, or all four as sub-apps."""
        if self.only is not None:
            self._states[self.only].mount_prefix = ""
            app = self._provider_app(self.only)
            if self.loopback_only:
                app.middlewares.insert(0, loopback_only)
            return app
        root = web.Application(middlewares=[loopback_only] if self.loopback_only else [])
        for name, state in self._states.items():
            state.mount_prefix = MOUNTS[name]
            root.add_subapp(MOUNTS[name], self._provider_app(name))
        return root

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the sandbox cluster is already started")
        runner = web.AppRunner(
            self.build_app(), access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("sandbox listening on %s", self.root_url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the sandbox cluster is not started")
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def base_url(self, name: str) -> str:
        name = self._served(name)
        return self.root_url if self.only is not None else self.root_url + MOUNTS[name]

    def urls(self) -> dict[str, str]:
        return {name: self.base_url(name) for name in self._states}

    def state(self, name: str) -> ProviderState:
        return self._states[self._served(name)]

    def api_key(self, name: str) -> str:
        return self.state(name).api_key

    def _served(self, name: str) -> str:
        normalized = normalize_name(name)
        if normalized not in self._states:
            raise KeyError(f"sandbox {normalized!r} is not served (only={self.only!r})")
        return normalized

    # Typed shortcuts to each provider's state.
    @property
    def boost(self) -> boost_api.BoostState:
        state = self.state("boost")
        assert isinstance(state, boost_api.BoostState)
        return state

    @property
    def checkout(self) -> checkout_api.CheckoutState:
        state = self.state("checkout")
        assert isinstance(state, checkout_api.CheckoutState)
        return state

    @property
    def namefi(self) -> namefi_api.NamefiState:
        state = self.state("namefi")
        assert isinstance(state, namefi_api.NamefiState)
        return state

    @property
    def digital_shop(self) -> digital_shop_api.DigitalShopState:
        state = self.state("digital_shop")
        assert isinstance(state, digital_shop_api.DigitalShopState)
        return state
