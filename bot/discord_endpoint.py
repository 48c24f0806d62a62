"""Point discord.py at another Discord host: a REST proxy in production, or the local
emulator for the demo and tests.

discord.py 2.7 has no base-URL option, but both endpoints are plain class attributes:
`Route.BASE` (REST, also used for webhooks and interaction callbacks) and
`DiscordWebSocket.DEFAULT_GATEWAY`. They are process-wide, so this runs once at start.
"""

from __future__ import annotations

import logging

import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)


def redirect_discord(api_base_url: str, gateway_url: str | None = None) -> None:
    base = api_base_url.rstrip("/")
    if not base.endswith("/api/v10"):
        base += "/api/v10"
    discord.http.Route.BASE = base
    if gateway_url is None:
        root = api_base_url.rstrip("/")
        gateway_url = root.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        gateway_url += "/gateway"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    log.info("Discord REST at %s, gateway at %s", base, gateway_url)
