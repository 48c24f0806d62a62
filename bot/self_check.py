"""The start-up self-check: is the bot set up in Discord the way the settings say, and do
the providers accept our keys? Run by `run` (before the gateway connects) and on demand
by `check-config --online`.

Every problem is one line that says what to do; nothing here raises to the user. A
Discord problem stops `run` (exit 2): a bot that can't see its guild, post in its staff
channel or sync its commands would only fail later, one log line every few seconds.
A provider that refuses its key is a problem for `check-config --online`; at `run` it is
a warning, and its products stay closed to buyers until the key works
(bot/services/provider_keys.py). A provider that doesn't answer is a warning: the shop
opens, the poller retries, and `/admin providers` shows the failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import discord

from bot.config import Settings
from bot.services.provider_keys import check_keys

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
# What the invite asks for: post (with embeds and files) and read back our own messages
# (the notifier checks a channel's history before it repeats a notice).
INVITE_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
)
NEEDED = {
    "staff_channel_id": (VIEW_CHANNEL | SEND_MESSAGES, "see it and send messages"),
    "notice_channel_id": (
        VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY,
        "see it, send messages and read its history",
    ),
}
TEXT_CHANNEL_TYPES = (0, 5)  # text, announcement


class SelfCheckFailed(Exception):
    """Discord is not set up as the settings say; `problems` are the lines to print."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def invite_url(application_id: int, guild_id: int) -> str:
    query = urlencode(
        {
            "client_id": application_id,
            "scope": "bot applications.commands",
            "permissions": INVITE_PERMISSIONS,
            "guild_id": guild_id,
            "disable_guild_select": "true",
        }
    )
    return f"https://discord.com/oauth2/authorize?{query}"


def channel_permissions(guild: Any, roles: Any, member: Any, channel: Any) -> int:
    """Discord's permission rule for one member in one channel: @everyone, then the
    member's roles, administrator wins; then overwrites for @everyone, the roles
    together, and the member."""
    member_id = int(member.get("user", {}).get("id", 0))
    if int(guild.get("owner_id", -1)) == member_id:
        return ~0
    guild_id = int(guild["id"])
    by_id = {int(r["id"]): int(r.get("permissions", 0)) for r in roles}
    member_roles = [int(r) for r in member.get("roles", [])]
    perms = by_id.get(guild_id, 0)
    for role_id in member_roles:
        perms |= by_id.get(role_id, 0)
    if perms & ADMINISTRATOR:
        return ~0
    overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites", [])}
    everyone = overwrites.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member_roles:
        ow = overwrites.get(role_id)
        if ow is not None and int(ow.get("type", 0)) == 0:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    own = overwrites.get(member_id)
    if own is not None and int(own.get("type", 1)) == 1:
        perms = (perms & ~int(own["deny"])) | int(own["allow"])
    until = member.get("communication_disabled_until")
    if until and datetime.fromisoformat(str(until)) > datetime.now(UTC):
        # A timed-out member keeps only what lets it read.
        perms &= VIEW_CHANNEL | READ_MESSAGE_HISTORY
    return perms


def _staff_channel_leaks(settings: Settings, guild: Any, roles: Any, channel: Any) -> list[str]:
    """The staff channel must be private: a member with no roles (@everyone), or one with
    only the buyer role, must not see it. At most one line: a channel every member reads is
    read by the buyers too."""
    guild_id = int(guild["id"])
    where = f"STAFF_CHANNEL_ID={settings.staff_channel_id} (#{channel.get('name')})"
    role_by_id = {int(r["id"]): r for r in roles}
    readers: list[tuple[str, int | None]] = [("every member", None)]
    buyer_role_id = settings.buyer_role_id
    # A buyer role that is @everyone or the staff role gives buyers nothing more to read.
    if (
        buyer_role_id not in (None, guild_id, settings.staff_role_id)
        and buyer_role_id in role_by_id
    ):
        buyer_role = f"@{role_by_id[buyer_role_id].get('name')}"
        readers.append(
            (f"every buyer (BUYER_ROLE_ID={buyer_role_id}, {buyer_role})", buyer_role_id)
        )
    for who, role_id in readers:
        anyone = {"user": {"id": "0"}, "roles": [] if role_id is None else [str(role_id)]}
        if not channel_permissions(guild, roles, anyone, channel) & VIEW_CHANNEL:
            continue
        role = role_by_id.get(guild_id if role_id is None else role_id, {})
        role_name = "@everyone" if role_id is None else f"@{role.get('name')}"
        if int(role.get("permissions", 0)) & ADMINISTRATOR:
            return [
                f"{where} can be read by {who} ({role_name} has Administrator): Server Settings "
                f"→ Roles → {role_name} → turn off Administrator."
            ]
        return [
            f"{where} can be read by {who} ({role_name} has View Channel): edit the channel → "
            f"Permissions → {role_name} → deny View Channel (allow it for the staff role and the "
            "bot's role), or set STAFF_CHANNEL_ID to a private channel."
        ]
    return []


async def discord_problems(
    http: discord.http.HTTPClient, settings: Settings, *, application_id: int, bot_id: int
) -> list[str]:
    """Every Discord-side problem, one line each, in the order a shop owner fixes them.
    Discord failing to answer (a 5xx, a 429 past discord.py's retries, no network) is a
    problem line too, never a traceback: nothing was checked, so nothing starts."""
    try:
        return await _discord_problems(http, settings, application_id=application_id, bot_id=bot_id)
    except discord.HTTPException as exc:
        return [
            f"Discord answered {exc.status} while the bot checked the server, so nothing "
            "could be checked. If Discord is having trouble (https://discordstatus.com), "
            "start again in a few minutes."
        ]
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [
            f"Discord can't be reached to check the server ({type(exc).__name__}): check the "
            "network (and DISCORD_API_BASE_URL if set), then start again."
        ]


async def _discord_problems(
    http: discord.http.HTTPClient, settings: Settings, *, application_id: int, bot_id: int
) -> list[str]:
    guild_id = settings.guild_id
    invite = invite_url(application_id, guild_id)
    try:
        guild = await http.get_guild(guild_id, with_counts=False)
    except (discord.Forbidden, discord.NotFound):
        return [
            f"The bot is not in the server GUILD_ID={guild_id} (or that id is wrong: right-click "
            f"the server icon → Copy Server ID). Invite it with {invite}"
        ]
    name = guild.get("name", str(guild_id))
    problems: list[str] = []
    roles = await http.get_roles(guild_id)
    role_ids = {int(r["id"]) for r in roles}
    for setting, role_id in (
        ("STAFF_ROLE_ID", settings.staff_role_id),
        ("BUYER_ROLE_ID", settings.buyer_role_id),
    ):
        if role_id is not None and role_id not in role_ids:
            problems.append(
                f"{setting}={role_id} is not a role in {name}: Server Settings → Roles, "
                "right-click the role → Copy Role ID (turn on Developer Mode first)."
            )
    if settings.staff_role_id == guild_id:
        problems.append(
            f"STAFF_ROLE_ID={guild_id} is @everyone, so every member would be staff: create a "
            "Staff role (Server Settings → Roles), give it to your staff only, and set "
            "STAFF_ROLE_ID to its id."
        )
    channels = {int(c["id"]): c for c in await http.get_all_guild_channels(guild_id)}
    member = await http.get_member(guild_id, bot_id)
    if settings.notice_channel_id == settings.staff_channel_id:
        shared = channels.get(settings.notice_channel_id)
        channel_name = shared.get("name") if shared is not None else settings.notice_channel_id
        problems.append(
            f"NOTICE_CHANNEL_ID={settings.notice_channel_id} is also STAFF_CHANNEL_ID "
            f"(#{channel_name}): "
            "order notices and staff work would share one channel. Set NOTICE_CHANNEL_ID to a "
            "separate channel for order notices."
        )
    for field, (needed, words) in NEEDED.items():
        setting = field.upper()
        channel_id = getattr(settings, field)
        channel = channels.get(channel_id)
        if channel is None:
            problems.append(
                f"{setting}={channel_id} is not a channel in {name}: right-click the channel → "
                "Copy Channel ID (turn on Developer Mode first)."
            )
            continue
        if int(channel.get("type", 0)) not in TEXT_CHANNEL_TYPES:
            problems.append(
                f"{setting}={channel_id} (#{channel.get('name')}) is not a text channel."
            )
            continue
        have = channel_permissions(guild, roles, member, channel)
        if have & needed != needed:
            problems.append(
                f"The bot can't {words} in #{channel.get('name')} ({setting}): edit the channel → "
                "Permissions → add the bot's role with View Channel, Send Messages and Read "
                "Message History."
            )
        if field == "staff_channel_id":
            problems.extend(_staff_channel_leaks(settings, guild, roles, channel))
    try:
        await http.get_guild_commands(application_id, guild_id)
    except discord.Forbidden:
        problems.append(
            f"The bot can't manage its slash commands in {name}: it was invited without the "
            f"applications.commands scope. Invite it again (it keeps its roles): {invite}"
        )
    return problems


PAYMENT_KEY_CHECK_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class OnlineFindings:
    """What `check-config --online` found: problems (exit 2), warnings, and one line per
    provider saying what was checked."""

    problems: list[str]
    warnings: list[str]
    notes: list[str]


async def check_online(settings: Settings) -> OnlineFindings:
    """`check-config --online`: every problem found, in Discord and with providers' keys."""
    from bot.discord_endpoint import redirect_discord
    from bot.providers.registry import build_providers

    if settings.discord_api_base_url is not None:
        redirect_discord(str(settings.discord_api_base_url), settings.discord_gateway_url)
    problems: list[str] = []
    if settings.discord_token is None:
        problems.append("DISCORD_TOKEN is not set.")
    else:
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(settings.discord_token.get_secret_value())
            assert client.user is not None and client.application_id is not None
            problems = await discord_problems(
                client.http, settings, application_id=client.application_id, bot_id=client.user.id
            )
        except discord.LoginFailure:
            problems.append(
                "Discord refused DISCORD_TOKEN: copy it again from your application's Bot tab "
                "at https://discord.com/developers/applications (Reset Token if you lost it)."
            )
        except (discord.HTTPException, OSError, TimeoutError) as exc:
            problems.append(
                f"Discord can't be reached to check the settings ({type(exc).__name__})."
            )
        finally:
            await client.close()
    providers = build_providers(settings)
    try:
        checks = await check_keys(providers)
    finally:
        await providers.aclose()
    problems.extend(c.line for c in checks if c.refused)
    warnings = [c.line for c in checks if c.inconclusive]
    notes = [c.line for c in checks if not c.refused and not c.inconclusive]
    paying = await check_payment_keys(settings)
    problems.extend(paying.problems)
    warnings.extend(paying.warnings)
    notes.extend(paying.notes)
    return OnlineFindings(problems, warnings, notes)


async def check_payment_keys(settings: Settings) -> OnlineFindings:
    """Each payment provider's key, with a call that changes nothing (Razorpay: a list of
    at most one link), and where its payments will be heard of."""
    from bot.online_topups import build_payment_clients
    from bot.providers.errors import ProviderAuthError, ProviderError

    problems: list[str] = []
    warnings: list[str] = []
    notes: list[str] = []
    for name, client in build_payment_clients(settings).items():
        setting = client.key_settings
        try:
            await asyncio.wait_for(client.check_key(), PAYMENT_KEY_CHECK_TIMEOUT)
        except ProviderAuthError:
            problems.append(
                f"{name}: {setting} refused: copy the key pair again from the {name} "
                "dashboard (API Keys), in the mode you mean (test or live)."
            )
            continue
        except (ProviderError, TimeoutError) as exc:
            why = exc.message if isinstance(exc, ProviderError) else "no answer in time"
            warnings.append(f"{name}: {setting} not checked: {why[:120]}.")
            continue
        finally:
            await client.aclose()
        heard = (
            f"webhooks on {settings.payment_webhook_listen}, and reconciliation"
            if settings.payment_webhook_listen
            else "reconciliation only (no PAYMENT_WEBHOOK_LISTEN: no public URL needed)"
        )
        notes.append(f"{name}: {setting} accepted; payments are heard of by {heard}.")
    return OnlineFindings(problems, warnings, notes)
