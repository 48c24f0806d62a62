"""The staff log's texts and nonces, without Discord.

Every command a digest tells staff to run exists in the /admin tree the bot builds (the
claim next to DIGEST_TEXT in bot/services/staff_log.py), with the options it names; and
every message has a nonce of its own that stays the same from one try to the next."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.app import COGS, OrderBot
from bot.config import Settings
from bot.services.staff_log import DIGEST_TEXT, alert_nonce, digest_message
from storage.staff_alerts import StaffAlert
from tests.support import REPO_ROOT

MENTION = re.compile(r"`([^`\n]+)`")
PLACEHOLDER = re.compile(r"<[^>]+>")


@pytest.fixture
async def commands(fernet_key: str) -> AsyncIterator[dict[str, app_commands.Command]]:
    """Every command of the tree the bot builds at start-up (its COGS loaded, as
    `setup_hook` does), by qualified name. Nothing here talks to Discord."""
    unused = "http://127.0.0.1:9/"
    settings = Settings(
        _env_file=None,
        discord_token=SecretStr("not-used"),
        guild_id=1,
        staff_role_id=2,
        staff_channel_id=3,
        notice_channel_id=4,
        delivery_encryption_key=SecretStr(fernet_key),
        catalog_path=REPO_ROOT / "catalog.toml",
        boost_api_base_url=unused,
        boost_api_key="not-used",
        checkout_api_base_url=unused,
        checkout_api_key="not-used",
        namefi_api_base_url=unused,
        namefi_api_token="not-used",
        digital_shop_api_base_url=unused,
        digital_shop_api_key="not-used",
    )
    bot = OrderBot(settings)
    try:
        for extension in COGS:
            await bot.load_extension(extension)
        yield {
            c.qualified_name: c
            for c in bot.tree.walk_commands()
            if isinstance(c, app_commands.Command)
        }
    finally:
        await bot.close()


def named_commands(hint: str) -> list[tuple[str, dict[str, str]]]:
    """The commands a hint names, with the options it fills in: "`/admin order retry
    order_id:<id>`" is ("admin order retry", {"order_id": "<id>"}). A bare word in backticks
    after a command ("`/admin order set-status` or `deliver`") is that command's sibling."""
    named: list[tuple[str, dict[str, str]]] = []
    for match in MENTION.finditer(hint):
        text = match.group(1)
        if text.startswith("/"):
            words, options = [], {}
            for token in text[1:].split():
                if ":" in token:
                    name, _, value = token.partition(":")
                    options[name] = value
                else:
                    assert not options, f"a command word after an option in {text!r}"
                    words.append(token)
            named.append((" ".join(words), options))
        elif re.fullmatch(r"[a-z][a-z-]*", text) and named:
            parent = named[-1][0].rpartition(" ")[0]
            named.append((f"{parent} {text}".strip(), {}))
    return named


def hints() -> dict[str, str]:
    texts = {kind: hint for kind, (_, hint) in DIGEST_TEXT.items()}
    # A kind without its own text gets the default one.
    texts["(other)"] = digest_message("no_such_kind", [_alert(1)]).split("\n", 1)[1]
    return texts


def test_every_command_a_digest_names_exists_in_the_admin_tree(
    commands: dict[str, app_commands.Command],
) -> None:
    assert {"admin order retry", "admin orders", "admin providers"} <= set(commands)
    missing: list[str] = []
    checked = 0
    for kind, hint in hints().items():
        for name, options in named_commands(hint):
            command = commands.get(name)
            if command is None:
                missing.append(f"{kind}: /{name} is not a command")
                continue
            checked += 1
            parameters = {p.name: p for p in command.parameters}
            for option, value in options.items():
                parameter = parameters.get(option)
                if parameter is None:
                    missing.append(f"{kind}: /{name} has no option {option!r}")
                elif parameter.choices and not PLACEHOLDER.fullmatch(value):
                    if value not in [str(c.value) for c in parameter.choices]:
                        missing.append(f"{kind}: /{name} {option}: has no choice {value!r}")
    assert missing == []
    # Every kind but the buyers' closed DMs tells staff what to run.
    assert checked >= len(DIGEST_TEXT)
    assert all(
        any(name.startswith("admin") for name, _ in named_commands(hint))
        for kind, hint in hints().items()
        if kind != "dm_fallback"
    )


def test_named_commands_reads_commands_options_and_siblings() -> None:
    # The reader above is what makes the check mean anything: it finds what a hint says.
    hint = (
        "`/admin order view order_id:<id>`; `/admin orders status:needs_review`, "
        "`/admin order set-status` or `deliver`."
    )
    assert named_commands(hint) == [
        ("admin order view", {"order_id": "<id>"}),
        ("admin orders", {"status": "needs_review"}),
        ("admin order set-status", {}),
        ("admin order deliver", {}),
    ]


def _alert(alert_id: int, dedupe_key: str | None = None, created_at: float = 1e9) -> StaffAlert:
    return StaffAlert(
        id=alert_id,
        order_id=f"ORD-{alert_id:010d}",
        kind="unknown_status",
        dedupe_key=dedupe_key or f"unknown:{alert_id}",
        message="m",
        created_at=created_at,
        posted_at=None,
        attempts=0,
        group_key="unknown_status:boost",
    )


def test_a_message_keeps_its_nonce_from_try_to_try_and_no_other_message_shares_it() -> None:
    one, two, three = _alert(1), _alert(2), _alert(3)
    nonces = {
        alert_nonce([one]),
        alert_nonce([two]),
        alert_nonce([one, two]),
        alert_nonce([one, two, three]),
        # Row 1 of another database (a new one, or another shop's on the same bot): Discord
        # checks nonces across all of the bot's messages, so it must not be taken for ours.
        alert_nonce([_alert(1, dedupe_key="other:1")]),
        alert_nonce([_alert(1, created_at=2e9)]),
    }
    assert len(nonces) == 6
    # The same alert (read again from its row on the retry) has the same nonce.
    assert alert_nonce([one]) == alert_nonce([_alert(1)])
    assert alert_nonce([one, two]) == alert_nonce([_alert(1), _alert(2)])
    assert all(len(n) <= 25 for n in nonces)  # Discord's limit
