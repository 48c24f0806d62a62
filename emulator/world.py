"""The seeded world: one guild with its channels, roles and members, the bot and its application.

Every id is minted deterministically, so a run can print them once and tests can rely on them.
Payload builders here produce the exact shapes discord.py parses (gateway and REST).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .util import Snowflakes, iso, snowflake_time

# Permission bits used by the seeded roles and channels.
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
)
STAFF_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES | SEND_MESSAGES_IN_THREADS

GUILD_TEXT = 0
DM = 1

# Gateway intents the emulator looks at.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12


@dataclasses.dataclass
class UserRecord:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    dms_closed: bool = False
    # The language of the member's Discord client: every interaction carries it.
    locale: str = "en-US"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "bot": self.bot,
            "system": False,
            "primary_guild": None,
        }


@dataclasses.dataclass
class RoleRecord:
    id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclasses.dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclasses.dataclass
class ChannelRecord:
    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = dataclasses.field(default_factory=list)
    recipient_id: int | None = None  # DM channels
    last_message_id: int | None = None


@dataclasses.dataclass
class MemberRecord:
    user_id: int
    roles: list[int]
    joined_at: str
    nick: str | None = None


class World:
    """In-memory guild state. The id attributes are stable across runs."""

    def __init__(self, *, guild_name: str = "Emulated Shop") -> None:
        self._ids = Snowflakes(deterministic=True)
        self.users: dict[int, UserRecord] = {}
        self.roles: dict[int, RoleRecord] = {}
        self.channels: dict[int, ChannelRecord] = {}
        self.members: dict[int, MemberRecord] = {}
        self.dm_channel_by_user: dict[int, int] = {}

        self.application_id = self._ids.next()
        self.bot_user_id = self.application_id  # Discord gives the bot user the application's id
        self.guild_id = self._ids.next()
        self.guild_name = guild_name
        self.everyone_role_id = self.guild_id
        self.owner_id = self._ids.next()
        self.staff_id = self._ids.next()
        self.buyer_id = self._ids.next()
        self.buyer2_id = self._ids.next()
        self.staff_role_id = self._ids.next()
        self.bot_role_id = self._ids.next()
        self.general_channel_id = self._ids.next()
        self.staff_channel_id = self._ids.next()
        self.notice_channel_id = self._ids.next()
        self.joined_at = iso(snowflake_time(self.guild_id))

        self.users[self.bot_user_id] = UserRecord(self.bot_user_id, "OrderBot", bot=True)
        self.users[self.owner_id] = UserRecord(self.owner_id, "shop_owner", "Shop Owner")
        self.users[self.staff_id] = UserRecord(self.staff_id, "staffer", "Staff Member")
        self.users[self.buyer_id] = UserRecord(self.buyer_id, "buyer", "Buyer One")
        self.users[self.buyer2_id] = UserRecord(self.buyer2_id, "buyer2", "Buyer Two")

        self.roles[self.everyone_role_id] = RoleRecord(
            self.everyone_role_id, "@everyone", EVERYONE_PERMISSIONS, 0
        )
        self.roles[self.staff_role_id] = RoleRecord(
            self.staff_role_id, "Staff", STAFF_PERMISSIONS, 2, color=0x3498DB, hoist=True
        )
        self.roles[self.bot_role_id] = RoleRecord(
            self.bot_role_id,
            "OrderBot",
            BOT_PERMISSIONS,
            1,
            managed=True,
            bot_id=self.bot_user_id,
        )

        for uid in (self.owner_id, self.buyer_id, self.buyer2_id):
            self.members[uid] = MemberRecord(uid, [], self.joined_at)
        self.members[self.staff_id] = MemberRecord(
            self.staff_id, [self.staff_role_id], self.joined_at
        )
        self.members[self.bot_user_id] = MemberRecord(
            self.bot_user_id, [self.bot_role_id], self.joined_at
        )

        self.channels[self.general_channel_id] = ChannelRecord(
            self.general_channel_id, GUILD_TEXT, "general", self.guild_id, 0, "Say hello"
        )
        self.channels[self.staff_channel_id] = ChannelRecord(
            self.staff_channel_id,
            GUILD_TEXT,
            "staff",
            self.guild_id,
            1,
            "Shop administration",
            overwrites=[
                Overwrite(self.everyone_role_id, 0, deny=VIEW_CHANNEL),
                Overwrite(self.staff_role_id, 0, allow=VIEW_CHANNEL | SEND_MESSAGES),
                Overwrite(self.bot_role_id, 0, allow=VIEW_CHANNEL | SEND_MESSAGES),
            ],
        )
        self.channels[self.notice_channel_id] = ChannelRecord(
            self.notice_channel_id,
            GUILD_TEXT,
            "order-notices",
            self.guild_id,
            2,
            "Order status notices",
            overwrites=[
                Overwrite(self.everyone_role_id, 0, deny=SEND_MESSAGES),
                Overwrite(self.bot_role_id, 0, allow=SEND_MESSAGES),
            ],
        )

    # -- mutation -------------------------------------------------------------------------

    def add_member(
        self,
        username: str,
        *,
        roles: list[int] | tuple[int, ...] = (),
        global_name: str | None = None,
        locale: str = "en-US",
    ) -> int:
        uid = self._ids.next()
        self.users[uid] = UserRecord(uid, username, global_name, locale=locale)
        for role in roles:
            if role not in self.roles:
                raise ValueError(f"unknown role {role}")
        self.members[uid] = MemberRecord(uid, list(roles), iso())
        return uid

    def add_role(self, name: str, permissions: int = 0) -> int:
        """A new role, above the others (as Server Settings → Roles → Create Role)."""
        rid = self._ids.next()
        position = max((r.position for r in self.roles.values()), default=0) + 1
        self.roles[rid] = RoleRecord(rid, name, permissions, position)
        return rid

    def dm_channel_for(self, user_id: int) -> ChannelRecord:
        if user_id not in self.users:
            raise KeyError(user_id)
        cid = self.dm_channel_by_user.get(user_id)
        if cid is None:
            cid = self._ids.next()
            self.channels[cid] = ChannelRecord(cid, DM, recipient_id=user_id)
            self.dm_channel_by_user[user_id] = cid
        return self.channels[cid]

    # -- permissions ----------------------------------------------------------------------

    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members[user_id]
        perms = self.roles[self.everyone_role_id].permissions
        for role_id in member.roles:
            perms |= self.roles[role_id].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def channel_permissions(self, user_id: int, channel_id: int) -> int:
        perms = self.base_permissions(user_id)
        if perms == ALL_PERMISSIONS:
            return perms
        channel = self.channels[channel_id]
        member = self.members[user_id]
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(self.everyone_role_id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            ow = by_id.get(role_id)
            if ow is not None and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = by_id.get(user_id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    # -- payloads -------------------------------------------------------------------------

    def user_payload(self, user_id: int) -> dict[str, Any]:
        return self.users[user_id].payload()

    def bot_user_payload(self) -> dict[str, Any]:
        data = self.user_payload(self.bot_user_id)
        data.update({"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"})
        return data

    def member_payload(
        self, user_id: int, *, with_user: bool = True, channel_id: int | None = None
    ) -> dict[str, Any]:
        member = self.members[user_id]
        data: dict[str, Any] = {
            "roles": [str(r) for r in member.roles],
            "joined_at": member.joined_at,
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
        }
        if with_user:
            data["user"] = self.user_payload(user_id)
        if channel_id is not None:
            data["permissions"] = str(self.channel_permissions(user_id, channel_id))
        return data

    def role_payloads(self) -> list[dict[str, Any]]:
        return [r.payload() for r in sorted(self.roles.values(), key=lambda r: r.position)]

    def channel_payload(self, channel_id: int) -> dict[str, Any]:
        ch = self.channels[channel_id]
        if ch.type == DM:
            assert ch.recipient_id is not None
            return {
                "id": str(ch.id),
                "type": DM,
                "last_message_id": None if ch.last_message_id is None else str(ch.last_message_id),
                "flags": 0,
                "recipients": [self.user_payload(ch.recipient_id)],
            }
        return {
            "id": str(ch.id),
            "type": ch.type,
            "guild_id": str(ch.guild_id),
            "name": ch.name,
            "position": ch.position,
            "parent_id": None,
            "topic": ch.topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None if ch.last_message_id is None else str(ch.last_message_id),
            "permission_overwrites": [o.payload() for o in ch.overwrites],
            "flags": 0,
        }

    def guild_channel_ids(self) -> list[int]:
        return [c.id for c in self.channels.values() if c.guild_id == self.guild_id]

    def _guild_common(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            # Deprecated: Discord answers the word itself (the spec says a string).
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": self.role_payloads(),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.general_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_presences": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "home_header": None,
            "widget_enabled": False,
            "widget_channel_id": None,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "nsfw": False,
            "incidents_data": None,
        }

    def guild_rest_payload(self, *, with_counts: bool = False) -> dict[str, Any]:
        data = self._guild_common()
        if with_counts:
            data["approximate_member_count"] = len(self.members)
            data["approximate_presence_count"] = 0
        return data

    def guild_create_payload(self, intents: int) -> dict[str, Any]:
        data = self._guild_common()
        if intents & INTENT_GUILD_MEMBERS:
            member_ids = list(self.members)
        else:
            member_ids = [self.bot_user_id]
        data.update(
            {
                "joined_at": self.joined_at,
                "large": False,
                "unavailable": False,
                "member_count": len(self.members),
                "voice_states": [],
                "members": [self.member_payload(uid) for uid in member_ids],
                "channels": [self.channel_payload(cid) for cid in self.guild_channel_ids()],
                "threads": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        # Gateway channel objects do not carry guild_id.
        for ch in data["channels"]:
            ch.pop("guild_id", None)
        return data

    def ids(self) -> dict[str, int]:
        """Every seeded id by name (what ``python -m emulator`` prints)."""
        names = (
            "guild_id",
            "general_channel_id",
            "staff_channel_id",
            "notice_channel_id",
            "everyone_role_id",
            "staff_role_id",
            "bot_role_id",
            "owner_id",
            "staff_id",
            "buyer_id",
            "buyer2_id",
            "bot_user_id",
            "application_id",
        )
        return {name: getattr(self, name) for name in names}
