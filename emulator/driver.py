"""The driver: what a test's users do, sent to the bot as INTERACTION_CREATE.

:class:`UserDriver` owns the driven interactions (by id and by token) and the test-facing
actions: ``send_slash_command``, ``send_autocomplete``, ``press_button``, ``select_menu``,
``submit_modal`` and ``redeliver``. It builds each payload as Discord would (member or user,
channel, permissions, context), refuses what a real client could not do (a hidden command,
a disabled button, an ephemeral message of somebody else, a closed modal) and waits until
the bot has read the response that made a message or modal clickable.
"""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from . import interactions as ix
from .base import ATTACHMENT_SIZE_LIMIT
from .commands import CommandRegistry
from .interactions import DrivenInteraction, iter_components
from .messages import MessageStore
from .util import as_int
from .world import (
    ATTACH_FILES,
    EMBED_LINKS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)

DM_APP_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
)


class UserDriver(CommandRegistry, MessageStore):
    """The driven users of :class:`emulator.server.Emulator`."""

    interactions: dict[int, DrivenInteraction]
    _by_token: dict[str, DrivenInteraction]
    # Modal-opening interaction id -> its MODAL_SUBMITs. Discord closes a modal once a
    # submit is acknowledged; an unanswered submit leaves it open with an error.
    _modal_submits: dict[int, list[DrivenInteraction]]

    def _init_driver(self) -> None:
        self.interactions = {}
        self._by_token = {}
        self._modal_submits = {}
        self._modal_sources = {}

    # -- interactions: plumbing -----------------------------------------------------------

    def interaction(self, interaction_id: int) -> DrivenInteraction:
        return self.interactions[interaction_id]

    def interaction_by_token(self, token: str) -> DrivenInteraction | None:
        return self._by_token.get(token)

    async def dispatch_interaction(
        self, payload: dict[str, Any], *, bot_timeout: float = 10.0
    ) -> DrivenInteraction:
        """Send a prepared INTERACTION_CREATE payload and start recording the answers."""
        await self.wait_for_bot(bot_timeout)
        driven = DrivenInteraction(cast("Emulator", self), payload)
        self.interactions[driven.id] = driven
        self._by_token[driven.token] = driven
        await self._deliver(driven)
        return driven

    async def redeliver(self, interaction: DrivenInteraction) -> None:
        """Send the exact same INTERACTION_CREATE (same id and token) again."""
        await self._deliver(interaction)

    async def _deliver(self, driven: DrivenInteraction) -> None:
        driven.dispatched_at = time.monotonic()
        driven.dispatch_count += 1
        delivered = await self.gateway.dispatch("INTERACTION_CREATE", copy.deepcopy(driven.payload))
        if not delivered:
            log.warning("interaction %s was buffered: no bot is connected", driven.id)
        self._notify()

    def _interaction_payload(
        self,
        itype: int,
        user_id: int,
        channel_id: int,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        world = self.world
        if user_id not in world.users:
            raise ValueError(f"unknown user {user_id}")
        channel = world.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        iid = self._ids.next()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(world.application_id),
            "type": itype,
            "token": "emu." + secrets.token_urlsafe(32),
            "version": 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "locale": world.users[user_id].locale,
            "channel_id": str(channel_id),
            "data": data,
        }
        if channel.guild_id is not None:
            if user_id not in world.members:
                raise ValueError(f"user {user_id} is not a member of the guild")
            channel_payload = world.channel_payload(channel_id)
            channel_payload["permissions"] = str(world.channel_permissions(user_id, channel_id))
            payload.update(
                {
                    "guild_id": str(channel.guild_id),
                    "guild": {"id": str(channel.guild_id), "locale": "en-US", "features": []},
                    "guild_locale": "en-US",
                    "member": world.member_payload(user_id, channel_id=channel_id),
                    "channel": channel_payload,
                    "app_permissions": str(
                        world.channel_permissions(world.bot_user_id, channel_id)
                    ),
                    "context": 0,
                    "authorizing_integration_owners": {"0": str(channel.guild_id)},
                }
            )
        else:
            if channel.recipient_id != user_id:
                raise ValueError(f"channel {channel_id} is not {user_id}'s DM with the bot")
            payload.update(
                {
                    "user": world.user_payload(user_id),
                    "channel": world.channel_payload(channel_id),
                    "app_permissions": str(DM_APP_PERMISSIONS),
                    "context": 1,
                    "authorizing_integration_owners": {"0": "0"},
                }
            )
        if message is not None:
            payload["message"] = message
        return payload

    def _context_channel(self, user_id: int, channel_id: int | None, dm: bool) -> int:
        if dm:
            return self.world.dm_channel_for(user_id).id
        return channel_id if channel_id is not None else self.world.general_channel_id

    # -- interactions: driving users ------------------------------------------------------

    async def send_slash_command(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        subcommand_path: str | Sequence[str] | None = None,
        channel_id: int | None = None,
        *,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> DrivenInteraction:
        """A user runs ``/name [subcommand path] options...`` (type 2 interaction).

        ``channel_id`` defaults to the general channel; ``dm=True`` runs it in the user's DM
        with the bot. Waits up to ``timeout`` for the command to be synced.
        """
        cid = self._context_channel(user_id, channel_id, dm)
        data = await self._command_data(
            user_id, name, options, subcommand_path, cid, focused=None, timeout=timeout
        )
        payload = self._interaction_payload(ix.APPLICATION_COMMAND, user_id, cid, data)
        return await self.dispatch_interaction(payload)

    async def send_autocomplete(
        self,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        subcommand_path: str | Sequence[str] | None = None,
        channel_id: int | None = None,
        *,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """A user types into option ``focused``; returns the choices the bot answered."""
        cid = self._context_channel(user_id, channel_id, dm)
        data = await self._command_data(
            user_id, name, options, subcommand_path, cid, focused=focused, timeout=timeout
        )
        payload = self._interaction_payload(ix.AUTOCOMPLETE, user_id, cid, data)
        driven = await self.dispatch_interaction(payload)
        await driven.wait_for_response(timeout)
        choices = driven.choices
        if choices is None:
            raise AssertionError(
                f"the bot answered autocomplete with callback type {driven.response_type}"
            )
        return choices

    def _resolve_message(self, message: int | str | Mapping[str, Any]) -> dict[str, Any]:
        mid = as_int(message)
        msg = self._messages.get(mid)
        if msg is None:
            raise LookupError(f"message {mid} does not exist (deleted, or never sent)")
        return copy.deepcopy(msg)

    async def _component_interaction(
        self,
        user_id: int,
        message: int | str | Mapping[str, Any],
        custom_id: str,
        component_types: Sequence[int],
        values: Sequence[str] | None,
    ) -> DrivenInteraction:
        mid = as_int(message)
        await self._wait_acknowledged("message", mid, 5.0)
        msg = self._resolve_message(mid)
        owner = self._visible_to.get(mid)
        if owner is not None and owner != user_id:
            raise PermissionError(f"message {mid} is ephemeral: only user {owner} can see it")
        self._check_can_see(user_id, int(msg["channel_id"]))
        found = None
        for comp in iter_components(msg.get("components")):
            if comp.get("custom_id") == custom_id:
                found = comp
                break
        if found is None:
            ids = [
                c["custom_id"] for c in iter_components(msg.get("components")) if "custom_id" in c
            ]
            raise LookupError(f"message {mid} has no component {custom_id!r} (has {ids})")
        if found["type"] not in component_types:
            raise ValueError(f"component {custom_id!r} has type {found['type']}")
        if found.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": found["type"]}
        if isinstance(found.get("id"), int):
            data["id"] = found["id"]
        if values is not None:
            values = [str(v) for v in values]
            lo, hi = found.get("min_values", 1), found.get("max_values", 1)
            if not lo <= len(values) <= hi:
                raise ValueError(f"select {custom_id!r} takes {lo}..{hi} values")
            if found["type"] == 3:
                allowed = [o["value"] for o in found.get("options", [])]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise ValueError(f"select {custom_id!r} has no option(s) {bad}")
            data["values"] = values
        channel_id = int(msg["channel_id"])
        payload = self._interaction_payload(
            ix.MESSAGE_COMPONENT, user_id, channel_id, data, message=msg
        )
        return await self.dispatch_interaction(payload)

    async def press_button(
        self, user_id: int, message: int | str | Mapping[str, Any], custom_id: str
    ) -> DrivenInteraction:
        """A user clicks the button ``custom_id`` on ``message`` (a message dict or id)."""
        return await self._component_interaction(user_id, message, custom_id, (2,), None)

    async def select_menu(
        self,
        user_id: int,
        message: int | str | Mapping[str, Any],
        custom_id: str,
        values: Sequence[str],
    ) -> DrivenInteraction:
        """A user picks ``values`` in the select menu ``custom_id`` on ``message``."""
        return await self._component_interaction(
            user_id, message, custom_id, ix.SELECT_TYPES, values
        )

    def _modal_components(
        self, components: Sequence[Mapping[str, Any]], values: Mapping[str, Any], used: set[str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        counter = [0]

        def next_id(comp: Mapping[str, Any]) -> int:
            if isinstance(comp.get("id"), int):
                return int(comp["id"])
            counter[0] += 1
            return 1000 + counter[0]

        def echo(comp: Mapping[str, Any]) -> dict[str, Any]:
            kind = comp["type"]
            if kind == 1:
                return {
                    "type": 1,
                    "id": next_id(comp),
                    "components": [echo(c) for c in comp.get("components", [])],
                }
            if kind == 18:
                return {"type": 18, "id": next_id(comp), "component": echo(comp["component"])}
            if kind in (10, 12, 13, 14):  # text display, media, file, separator: no value
                return {"type": kind, "id": next_id(comp)}
            custom_id = comp.get("custom_id")
            entry: dict[str, Any] = {"type": kind, "id": next_id(comp), "custom_id": custom_id}
            given = custom_id in values
            if given:
                used.add(str(custom_id))
            if kind == 4:
                value = values.get(str(custom_id), comp.get("value") or "")
                if not isinstance(value, str):
                    raise ValueError(f"text input {custom_id!r} needs a str")
                if comp.get("required", True) and not value:
                    raise ValueError(f"text input {custom_id!r} is required")
                if len(value) > int(comp.get("max_length") or 4000):
                    raise ValueError(f"text input {custom_id!r} is longer than max_length")
                if len(value) < int(comp.get("min_length") or 0) and value:
                    raise ValueError(f"text input {custom_id!r} is shorter than min_length")
                entry["value"] = value
            elif (
                kind in ix.SELECT_TYPES
                or kind == 19
                or isinstance(values.get(str(custom_id)), list)
            ):
                entry["values"] = [str(v) for v in values.get(str(custom_id), [])]
            else:
                entry["value"] = values.get(str(custom_id))
            return entry

        for comp in components:
            out.append(echo(comp))
        return out

    async def submit_modal(
        self,
        user_id: int,
        custom_id: str,
        values: Mapping[str, Any],
        source_interaction: DrivenInteraction | None = None,
    ) -> DrivenInteraction:
        """A user fills the modal ``custom_id`` the bot opened and submits it (type 5).

        ``values`` maps each input's custom_id to its text (a list of strings for selects).
        The submitted components echo the structure the bot sent (action rows or labels).
        Without ``source_interaction``, the latest modal with that custom_id shown to
        ``user_id`` is used.
        """
        source = source_interaction
        if source is None:
            for candidate in reversed(list(self.interactions.values())):
                modal = candidate.modal
                if (
                    candidate.user_id == user_id
                    and modal
                    and modal.get("custom_id") == custom_id
                    and self._modal_open(candidate)
                ):
                    source = candidate
                    break
        if source is None or source.modal is None:
            raise LookupError(f"the bot never opened a modal {custom_id!r} for user {user_id}")
        if not self._modal_open(source):
            raise LookupError(f"modal {custom_id!r} was already submitted: Discord closed it")
        if source.user_id != user_id:
            raise PermissionError(
                f"modal {custom_id!r} was shown to {source.user_id}, not {user_id}"
            )
        await self._wait_acknowledged("interaction", source.id, 5.0)
        modal = source.modal
        if modal.get("custom_id") != custom_id:
            raise LookupError(f"interaction {source.id} opened modal {modal.get('custom_id')!r}")
        used: set[str] = set()
        components = self._modal_components(modal.get("components", []), values, used)
        unused = set(values) - used
        if unused:
            raise ValueError(f"modal {custom_id!r} has no input(s) {sorted(unused)}")
        data = {"custom_id": custom_id, "components": components}
        message = None
        if source.source_message_id is not None and source.source_message_id in self._messages:
            message = copy.deepcopy(self._messages[source.source_message_id])
        assert source.channel_id is not None
        payload = self._interaction_payload(
            ix.MODAL_SUBMIT, user_id, source.channel_id, data, message=message
        )
        # Its replies name the interaction that opened the modal (interaction_metadata).
        self._modal_sources[int(payload["id"])] = source
        driven = await self.dispatch_interaction(payload)
        self._modal_submits.setdefault(source.id, []).append(driven)
        return driven

    def _modal_open(self, source: DrivenInteraction) -> bool:
        return not any(s.acknowledged for s in self._modal_submits.get(source.id, []))
