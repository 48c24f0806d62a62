"""Messages: what the bot (or a member) posted in channels and DMs, and their attachments.

:class:`MessageStore` owns every stored message (created, edited, deleted over REST or by
an interaction callback), who may see an ephemeral one, the nonces Discord remembers for
``enforce_nonce``, the DMs Discord refused (``rejected_dms``), how components and
attachments are echoed, MESSAGE_CREATE for the bot's own messages, and the
``wait_for_dm`` / ``wait_for_channel_message`` waits.
"""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import interactions as ix
from .base import EmulatorBase
from .interactions import DrivenInteraction, iter_components
from .rest_base import Upload
from .util import DiscordError, iso, snowflake_time
from .world import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES

MessagePredicate = Callable[[dict[str, Any]], bool]


class MessageStore(EmulatorBase):
    """The channel messages and DMs of :class:`emulator.server.Emulator`."""

    # A MODAL_SUBMIT's id -> the interaction that opened its modal (set by the driver).
    _modal_sources: dict[int, DrivenInteraction]

    def interaction_metadata(self, interaction: DrivenInteraction) -> dict[str, Any]:
        """What a reply says about the interaction it answers, as the spec requires for
        each type: a button press names the message pressed (`interacted_message_id`), a
        form's submit names the interaction that opened the form."""
        meta: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": self.world.user_payload(interaction.user_id),
            "authorizing_integration_owners": interaction.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if interaction.type == ix.MESSAGE_COMPONENT and interaction.source_message_id:
            meta["interacted_message_id"] = str(interaction.source_message_id)
        if interaction.type == ix.MODAL_SUBMIT:
            opener = self._modal_sources.get(interaction.id)
            if opener is not None:
                meta["triggering_interaction_metadata"] = self.interaction_metadata(opener)
        return meta

    rejected_dms: list[dict[str, Any]]
    #: How long Discord remembers a message nonce for ``enforce_nonce``.
    nonce_window: float
    _nonces: dict[tuple[int, str], tuple[int, float]]
    _messages: dict[int, dict[str, Any]]
    _channel_messages: dict[int, list[int]]
    _visible_to: dict[int, int]  # ephemeral message id -> the only user who sees it
    _seen: dict[tuple[str, int], set[int]]

    def _init_messages(self) -> None:
        self.rejected_dms = []
        self.nonce_window = 300.0
        self._nonces = {}
        self._messages = {}
        self._channel_messages = {}
        self._visible_to = {}
        self._seen = {}

    def message(self, message_id: int) -> dict[str, Any] | None:
        msg = self._messages.get(message_id)
        return copy.deepcopy(msg) if msg is not None else None

    def has_message(self, message_id: int) -> bool:
        return message_id in self._messages

    def channel_messages(
        self, channel_id: int, *, include_ephemeral: bool = False
    ) -> list[dict[str, Any]]:
        """Messages in a channel, oldest first (ephemeral ones only on request)."""
        out = []
        for mid in self._channel_messages.get(channel_id, []):
            msg = self._messages.get(mid)
            if msg is None:
                continue
            if not include_ephemeral and msg.get("flags", 0) & ix.EPHEMERAL:
                continue
            out.append(copy.deepcopy(msg))
        return out

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to ``user_id`` by DM, oldest first."""
        cid = self.world.dm_channel_by_user.get(user_id)
        return [] if cid is None else self.channel_messages(cid)

    def message_for_nonce(self, author_id: int, nonce: Any) -> dict[str, Any] | None:
        """The message ``author_id`` created in the last ``nonce_window`` seconds with this
        nonce (Discord checks a nonce per author, in any channel)."""
        seen = self._nonces.get((author_id, str(nonce)))
        if seen is None or time.monotonic() - seen[1] > self.nonce_window:
            return None
        return self.message(seen[0])

    def remember_nonce(self, author_id: int, nonce: Any, message_id: int) -> None:
        now = time.monotonic()
        if len(self._nonces) > 10_000:
            self._nonces = {
                k: v for k, v in self._nonces.items() if now - v[1] <= self.nonce_window
            }
        self._nonces[(author_id, str(nonce))] = (message_id, now)

    async def _wait_unseen(
        self,
        kind: str,
        key: int,
        source: Callable[[], list[dict[str, Any]]],
        predicate: MessagePredicate | None,
        timeout: float,
        what: str,
    ) -> dict[str, Any]:
        seen = self._seen.setdefault((kind, key), set())

        def check() -> dict[str, Any] | None:
            for msg in source():
                mid = int(msg["id"])
                if mid in seen:
                    continue
                if predicate is None or predicate(msg):
                    return msg
            return None

        msg = await self._wait(check, timeout, what)
        seen.add(int(msg["id"]))
        return msg

    async def wait_for_dm(
        self,
        user_id: int,
        timeout: float = 5.0,
        predicate: MessagePredicate | None = None,
    ) -> dict[str, Any]:
        """The earliest DM to ``user_id`` matching ``predicate`` not yet returned by this method."""
        return await self._wait_unseen(
            "dm", user_id, lambda: self.dms(user_id), predicate, timeout, f"a DM to {user_id}"
        )

    async def wait_for_channel_message(
        self,
        channel_id: int,
        timeout: float = 5.0,
        predicate: MessagePredicate | None = None,
    ) -> dict[str, Any]:
        """The earliest message in the channel matching ``predicate`` not yet returned here."""
        return await self._wait_unseen(
            "channel",
            channel_id,
            lambda: self.channel_messages(channel_id),
            predicate,
            timeout,
            f"a message in channel {channel_id}",
        )

    def _attachments(
        self,
        body: Mapping[str, Any],
        uploads: Sequence[Upload],
        existing: Sequence[Mapping[str, Any]] = (),
    ) -> list[dict[str, Any]] | None:
        """The message's attachments after this request, or None when unchanged."""
        by_index = {u.index: u for u in uploads}
        if "attachments" not in body or body.get("attachments") is None:
            if not uploads:
                return None
            kept = [dict(a) for a in existing]
            return kept + [self._store_file(u.filename, u.content_type, u.data) for u in uploads]
        out: list[dict[str, Any]] = []
        old = {str(a["id"]): a for a in existing}
        for entry in body["attachments"]:
            ref = str(entry.get("id"))
            if ref in old:
                out.append(dict(old[ref]))
                continue
            upload = by_index.get(int(ref)) if ref.isdigit() and len(ref) < 4 else None
            if upload is None:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    errors={
                        "attachments": {
                            "_errors": [
                                {
                                    "code": "ATTACHMENT_NOT_FOUND",
                                    "message": f"Unknown attachment {ref}",
                                }
                            ]
                        }
                    },
                )
            stored = self._store_file(
                entry.get("filename") or upload.filename, upload.content_type, upload.data
            )
            if entry.get("description"):
                stored["description"] = entry["description"]
            out.append(stored)
        return out

    def _components(self, components: Any) -> list[dict[str, Any]]:
        """Echo components as Discord does: every component gets a numeric ``id``."""
        comps = copy.deepcopy(list(components or []))
        used = {c.get("id") for c in iter_components(comps) if isinstance(c.get("id"), int)}
        counter = 0
        for comp in iter_components(comps):
            if not isinstance(comp, dict) or isinstance(comp.get("id"), int):
                continue
            counter += 1
            while counter in used:
                counter += 1
            comp["id"] = counter
        return comps

    def new_message(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
        *,
        flags: int = 0,
        msg_type: int = 0,
        interaction: DrivenInteraction | None = None,
        author_id: int | None = None,
    ) -> dict[str, Any]:
        """Store a message (by the bot, unless ``author_id`` names a member who wrote it)."""
        mid = self._ids.next()
        embeds = [_stored_embed(e) for e in body.get("embeds") or []]
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": msg_type,
            "author": self.world.user_payload(author_id or self.world.bot_user_id),
            "content": body.get("content") or "",
            "timestamp": iso(snowflake_time(mid)),
            "edited_timestamp": None,
            "tts": bool(body.get("tts") or False),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(body, uploads) or [],
            "embeds": embeds,
            "components": self._components(body.get("components")),
            "pinned": False,
            "flags": flags,
        }
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if interaction is not None:
            msg["webhook_id"] = str(self.world.application_id)
            msg["application_id"] = str(self.world.application_id)
            msg["interaction_metadata"] = self.interaction_metadata(interaction)
            if flags & ix.EPHEMERAL:
                self._visible_to[mid] = interaction.user_id
        self._messages[mid] = msg
        self.hold_until_acknowledged("message", mid)
        self._channel_messages.setdefault(channel_id, []).append(mid)
        channel = self.world.channels.get(channel_id)
        if channel is not None:
            channel.last_message_id = mid
        self._notify()
        return copy.deepcopy(msg)

    def edit_message(
        self,
        message_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        msg = self._messages.get(message_id)
        if msg is None:
            raise DiscordError(404, 10008, "Unknown Message")
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = [_stored_embed(e) for e in body["embeds"] or []]
        if "components" in body:
            msg["components"] = self._components(body["components"])
        if body.get("poll"):
            msg["poll"] = copy.deepcopy(body["poll"])
        attachments = self._attachments(body, uploads, msg.get("attachments", []))
        if attachments is not None:
            msg["attachments"] = attachments
        flags = int(msg.get("flags", 0)) & ~ix.LOADING
        if body.get("flags") is not None:
            # Only SUPPRESS_EMBEDS (and components v2) can change on edit.
            changeable = (1 << 2) | (1 << 15)
            flags = (flags & ~changeable) | (int(body["flags"]) & changeable)
        msg["flags"] = flags
        msg["edited_timestamp"] = iso()
        self._notify()
        return copy.deepcopy(msg)

    def delete_message(self, message_id: int) -> None:
        msg = self._messages.pop(message_id, None)
        if msg is None:
            raise DiscordError(404, 10008, "Unknown Message")
        ids = self._channel_messages.get(int(msg["channel_id"]), [])
        if message_id in ids:
            ids.remove(message_id)
        self._notify()

    async def publish_message(self, msg: Mapping[str, Any]) -> None:
        """MESSAGE_CREATE for a non-ephemeral message, as Discord echoes the bot's own messages."""
        if msg.get("flags", 0) & ix.EPHEMERAL:
            return
        channel = self.world.channels.get(int(msg["channel_id"]))
        if channel is None:
            return
        event = copy.deepcopy(dict(msg))
        if channel.guild_id is not None:
            event["guild_id"] = str(channel.guild_id)
            event["member"] = self.world.member_payload(self.world.bot_user_id, with_user=False)
            intent = INTENT_GUILD_MESSAGES
        else:
            intent = INTENT_DIRECT_MESSAGES
        await self.gateway.dispatch("MESSAGE_CREATE", event, intent=intent)


def _stored_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    """An embed as Discord stores it: its type, and `inline` on every field (the spec's
    answer requires it; a client may leave it out when sending)."""
    stored = dict(embed, type=embed.get("type", "rich"))
    if isinstance(embed.get("fields"), list):
        stored["fields"] = [
            dict(f, inline=bool(f.get("inline", False))) if isinstance(f, dict) else f
            for f in embed["fields"]
        ]
    return stored
