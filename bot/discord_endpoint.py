"""Point discord.py at another Discord host: a REST proxy in production, or the local
emulator for the demo and tests.

discord.py 2.7 has no base-URL option, but both endpoints are plain class attributes:
`Route.BASE` (REST, also used for webhooks and interaction callbacks) and
`DiscordWebSocket.DEFAULT_GATEWAY`. They are process-wide, so this runs once at start.
`DEFAULT_GATEWAY` must be a `yarl.URL`: discord.py appends its query with `with_query`.
"""

from __future__ import annotations

import logging
import re

import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)


def discord_endpoints(api_base_url: str, gateway_url: str | None = None) -> tuple[str, str]:
    """(REST base, gateway URL) for DISCORD_API_BASE_URL, pasted with or without its API
    path: `http://host:8600`, `http://host:8600/api` and `http://host:8600/api/v10` all
    give REST at `http://host:8600/api/v10` and the gateway at `ws://host:8600/gateway`
    (wss for https). DISCORD_GATEWAY_URL, when set, is the gateway as given."""
    base = yarl.URL(api_base_url.strip().rstrip("/"))
    if base.scheme not in ("http", "https") or not base.host:
        raise ValueError(f"expected an http(s) base URL, got {api_base_url!r}")
    # /api, /api/v10 or any other pasted version (/api/v9): the bot speaks v10.
    root = re.sub(r"/api(?:/v\d+)?$", "", base.path.rstrip("/"))
    rest = str(base.with_path(root + "/api/v10"))
    if gateway_url:
        return rest, gateway_url.strip()
    ws_scheme = "wss" if base.scheme == "https" else "ws"
    return rest, str(base.with_scheme(ws_scheme).with_path(root + "/gateway"))


def redirect_discord(api_base_url: str, gateway_url: str | None = None) -> None:
    rest, gateway = discord_endpoints(api_base_url, gateway_url)
    discord.http.Route.BASE = rest
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    log.info("Discord REST at %s, gateway at %s", rest, gateway)
