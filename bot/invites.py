"""Discord invite links: accept what buyers paste, keep the bare code."""

from __future__ import annotations

import re

from bot.errors import InvalidInput
from core.i18n import N_, _

_CODE = r"[A-Za-z0-9-]{2,32}"
_INVITE = re.compile(
    rf"^(?:https?://)?(?:www\.)?"
    rf"(?:discord\.gg/|(?:ptb\.|canary\.)?discord(?:app)?\.com/invite/)?"
    rf"(?P<code>{_CODE})/?(?:[?#].*)?$",
    re.IGNORECASE,
)

# How to paste an invite, said after a refusal (translate with _ where it is shown).
HOW_TO = N_(
    "Paste an invite such as `discord.gg/yourserver`, `https://discord.com/invite/yourserver` "
    "or just the code `yourserver`."
)


def normalize_invite(text: str) -> str:
    """The bare invite code from a code or URL. Raises InvalidInput with a how-to."""
    candidate = text.strip().strip("<>")
    match = _INVITE.match(candidate)
    if not match:
        raise InvalidInput(
            _(
                "That doesn't look like a Discord invite. Paste an invite such as "
                "`discord.gg/yourserver`, `https://discord.com/invite/yourserver` or just the "
                "code `yourserver`."
            )
        )
    # Codes are case-sensitive on Discord: keep the case as given.
    return match.group("code")
