"""Point an unmodified discord.py at the emulator (REST base and gateway URL)."""

from __future__ import annotations

import yarl


def redirect_discord_py(base_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to ``base_url``.

    ``Route.BASE`` is read when each Route is built, so this works any time before the
    client logs in. ``DEFAULT_GATEWAY`` must be a ``yarl.URL``: discord.py appends
    ``?v=10&encoding=json&compress=zlib-stream`` with ``with_query``. After READY the client
    reconnects to ``resume_gateway_url`` (the emulator sends its own), and after an
    INVALID_SESSION it falls back to ``DEFAULT_GATEWAY``.
    """
    import discord.gateway
    import discord.http

    base = yarl.URL(base_url.rstrip("/"))
    if base.scheme not in ("http", "https"):
        raise ValueError(f"expected an http(s) base URL, got {base_url!r}")
    discord.http.Route.BASE = str(base.with_path("/api/v10"))
    ws_scheme = "wss" if base.scheme == "https" else "ws"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base.with_scheme(ws_scheme).with_path(
        "/gateway"
    )
