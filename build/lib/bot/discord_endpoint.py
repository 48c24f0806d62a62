"""Point discord.py at another Discord host: a REST proxy in production, or the local
emulator for the demo and tests.

discord.py 2.7 has no base-URL option, but both endpoints are plain class attributes:
`Route.BASE` (REST, also used for webhooks and interaction callbacks) and
`DiscordWebSocket.DEFAULT_GATEWAY`. They are process-wide, so this runs once at start.
`DEFAULT_GATEWAY` must be a `yarl.URL`: discord.py appends its query with `with_query`.
"""

from __future__ import annotations

import logging

import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)


def redirect_discord(api_base_url: str, gateway_url: str | None = None) -> None:
    base = yarl.URL(api_base_url.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"expected an http(s) base URL, got {api_base_url!r}")
    root = base.path.removesuffix("/api/v10").rstrip("/")
    discord.http.Route.BASE = str(base.with_path(root + "/api/v10"))
    if gateway_url is None:
        ws_scheme = "wss" if base.scheme == "https" else "ws"
        gateway = base.with_scheme(ws_scheme).with_path(root + "/gateway")
    else:
        gateway = yarl.URL(gateway_url)
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    log.info("Discord REST at %s, gateway at %s", discord.http.Route.BASE, gateway)
