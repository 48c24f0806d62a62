"""Issue 29: commands named in alerts become Discord command mentions."""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.command_mentions import CommandMentions


def command(payload: dict[str, Any]) -> app_commands.AppCommand:
    base = {"application_id": "1", "type": 1, "description": "d", "version": "1"}
    return app_commands.AppCommand(data={**base, **payload}, state=None)  # type: ignore[arg-type]


ADMIN = command(
    {
        "id": "900",
        "name": "admin",
        "options": [
            {
                "type": 2,
                "name": "order",
                "description": "d",
                "options": [
                    {"type": 1, "name": "retry", "description": "d", "options": []},
                    {"type": 1, "name": "view", "description": "d", "options": []},
                ],
            },
            {"type": 1, "name": "providers", "description": "d", "options": []},
        ],
    }
)
WALLET = command({"id": "901", "name": "wallet", "options": []})


def test_named_commands_become_mentions_and_their_options_follow() -> None:
    mentions = CommandMentions.from_commands([ADMIN, WALLET])
    text = (
        "Order `ORD-1` failed. `/admin order retry order_id:ORD-1` sends it again; "
        "`/admin providers` shows health; the buyer sees `/wallet`."
    )
    assert mentions.render(text) == (
        "Order `ORD-1` failed. </admin order retry:900> `order_id:ORD-1` sends it again; "
        "</admin providers:900> shows health; the buyer sees </wallet:901>."
    )


def test_an_unknown_command_or_no_ids_stay_as_written() -> None:
    text = "Run `/admin shop pause` or `/nothing here`."
    assert CommandMentions().render(text) == text
    # /admin is known, "shop pause" under it isn't (a renamed command): left as written.
    assert CommandMentions.from_commands([ADMIN]).render(text) == text
