"""Point an unmodified discord.py at the emulator (REST base and gateway URL).

The bot does the same in production for a REST proxy, so there is one implementation:
`bot.discord_endpoint.redirect_discord`. After READY the client reconnects to
`resume_gateway_url` (the emulator sends its own), and after an INVALID_SESSION it falls
back to `DEFAULT_GATEWAY`.
"""

from __future__ import annotations

from bot.discord_endpoint import redirect_discord


def redirect_discord_py(base_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to ``base_url``."""
    redirect_discord(base_url)
