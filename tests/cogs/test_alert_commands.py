"""Every command an alert (or any message to staff or buyers) tells someone to run exists.

Staff act on what the channel tells them; a message naming a command that doesn't exist
(or was renamed) is a dead end. This reads the bot's own source for `/command …` mentions
and checks each against the real command tree."""

from __future__ import annotations

import re
from pathlib import Path

from discord import app_commands

from cogs.admin import admin_commands
from cogs.language import Language
from cogs.topups import Topups
from tests.support import REPO_ROOT

admin_group = admin_commands()  # /admin with every command attached, as setup adds it

MENTION = re.compile(r"`/([^`\n]*)`")
WORD = re.compile(r"[a-z][a-z-]*")
BUYER_COMMANDS = {"boost", "buy", "orders", "order", "wallet"} | {
    c.name for c in (*Topups.__cog_app_commands__, *Language.__cog_app_commands__)
}
GROUPS = {"admin"}  # "Use `/admin` in the staff channel" names the group itself


def known_commands() -> set[str]:
    found = set(BUYER_COMMANDS) | GROUPS

    def walk(group: app_commands.Group) -> None:
        for child in group.commands:
            found.add(child.qualified_name)
            if isinstance(child, app_commands.Group):
                walk(child)

    walk(admin_group)
    return found


def test_every_command_named_in_a_message_exists() -> None:
    known = known_commands()
    mentioned: dict[str, set[str]] = {}
    # core/alerts.py holds every staff alert's text.
    sources = [Path(REPO_ROOT, top).rglob("*.py") for top in ("bot", "cogs", "core")]
    for path in [p for found in sources for p in found]:
        for match in MENTION.finditer(path.read_text()):
            # "/admin order retry order_id:{id}": the command is the words before the options.
            words = []
            for word in match.group(1).split():
                if not WORD.fullmatch(word):
                    break
                words.append(word)
            name = " ".join(words)
            if name not in known:
                mentioned.setdefault(match.group(1), set()).add(path.name)
    assert mentioned == {}, f"messages name commands that don't exist: {mentioned}"
    assert {"admin order retry", "admin providers", "admin order view"} <= known


def test_the_alert_texts_name_commands() -> None:
    from bot.services.staff_log import DIGEST_TEXT

    for kind, (_, hint) in DIGEST_TEXT.items():
        if kind != "dm_fallback":  # nothing for staff to do
            assert "`/admin" in hint, kind
