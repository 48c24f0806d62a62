"""Driven interactions: what the emulator dispatched and everything the bot answered."""

# The driver API takes ``timeout=`` like asyncio.wait_for; the names are part of the contract.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Emulator

# Interaction types
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback types
CB_PONG = 1
CB_CHANNEL_MESSAGE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE_MESSAGE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9

# Application command option types
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11

# Message flags
EPHEMERAL = 1 << 6
LOADING = 1 << 7

SELECT_TYPES = (3, 5, 6, 7, 8)


class DrivenInteraction:
    """One INTERACTION_CREATE the emulator sent, and the bot's answers to it.

    ``callbacks`` holds each accepted ``POST /interactions/{id}/{token}/callback`` body exactly
    as the bot sent it; ``rejected`` holds refused attempts (second acknowledgement, too late,
    invalid body) as ``{"status", "code", "message", "body"}``. ``followups`` holds the message
    objects created by ``POST /webhooks/{app}/{token}`` as returned to the bot.
    ``original_message`` is the current state of ``@original`` (after edits, ``None`` if
    deleted or never created).
    """

    def __init__(self, emu: Emulator, payload: dict[str, Any]) -> None:
        self._emu = emu
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id = int(payload["channel_id"]) if payload.get("channel_id") else None
        self.guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id = int(user["id"])
        self.callbacks: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.followup_ids: list[int] = []
        self._followups: list[dict[str, Any]] = []
        self.original_message_id: int | None = None
        self.source_message_id: int | None = (
            int(payload["message"]["id"]) if payload.get("message") else None
        )
        self.dispatched_at = time.monotonic()
        #: When the first accepted callback arrived (monotonic); for latency benchmarks.
        self.first_callback_at: float | None = None
        self.dispatch_count = 0
        self._followup_cursor = 0

    def __repr__(self) -> str:
        return f"<DrivenInteraction id={self.id} type={self.type} user={self.user_id}>"

    # -- what the bot did -----------------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def followups(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._followups)

    @property
    def original_message(self) -> dict[str, Any] | None:
        if self.original_message_id is None:
            return None
        return self._emu.message(self.original_message_id)

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9 ``data``), if any."""
        for cb in self.callbacks:
            if cb.get("type") == CB_MODAL:
                return copy.deepcopy(cb.get("data"))
        return None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """The autocomplete choices the bot answered (callback type 8), if any."""
        for cb in self.callbacks:
            if cb.get("type") == CB_AUTOCOMPLETE_RESULT:
                return copy.deepcopy((cb.get("data") or {}).get("choices", []))
        return None

    def owns_message(self, message_id: int) -> bool:
        return message_id == self.original_message_id or message_id in self.followup_ids

    # -- waiting --------------------------------------------------------------------------

    async def wait_for_response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The first accepted callback body (``{"type": ..., "data": ...}``)."""
        return await self._emu._wait(
            lambda: copy.deepcopy(self.callbacks[0]) if self.callbacks else None,
            timeout,
            f"a response to interaction {self.id}",
        )

    async def wait_for_followup(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next followup message not yet returned by this method (in order)."""
        index = self._followup_cursor

        def check() -> dict[str, Any] | None:
            if len(self._followups) > index:
                return copy.deepcopy(self._followups[index])
            return None

        result = await self._emu._wait(check, timeout, f"followup #{index + 1} of {self.id}")
        self._followup_cursor = index + 1
        return result

    async def wait_for_original(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """``@original`` once it exists, is not loading, and matches ``predicate``."""

        def check() -> dict[str, Any] | None:
            msg = self.original_message
            if msg is None or msg.get("flags", 0) & LOADING:
                return None
            if predicate is not None and not predicate(msg):
                return None
            return msg

        return await self._emu._wait(check, timeout, f"the original response of {self.id}")

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "token": self.token,
            "type": self.type,
            "user_id": str(self.user_id),
            "channel_id": None if self.channel_id is None else str(self.channel_id),
            "callbacks": copy.deepcopy(self.callbacks),
            "rejected": copy.deepcopy(self.rejected),
            "followups": self.followups,
            "original_message": self.original_message,
            "acknowledged": self.acknowledged,
            "response_type": self.response_type,
            "modal": copy.deepcopy(self.modal),
            "choices": copy.deepcopy(self.choices),
        }


# -- building command options ---------------------------------------------------------------


class OptionError(ValueError):
    """The options could not have been typed into Discord's client for this command."""


def iter_components(components: Sequence[Mapping[str, Any]] | None) -> Iterator[Mapping[str, Any]]:
    """Every component, depth first (action rows, labels, sections, containers)."""
    for comp in components or ():
        yield comp
        yield from iter_components(comp.get("components"))
        if isinstance(comp.get("component"), Mapping):
            yield from iter_components([comp["component"]])
        if isinstance(comp.get("accessory"), Mapping):
            yield from iter_components([comp["accessory"]])


def _find_option(options: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    for opt in options:
        if opt.get("name") == name:
            return opt
    return None


def resolve_command_path(
    command: Mapping[str, Any], subcommand_path: Sequence[str]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Walk ``subcommand_path``: the chain of subcommand option defs and the leaf's options."""
    chain: list[Mapping[str, Any]] = []
    options: list[Mapping[str, Any]] = list(command.get("options") or [])
    for part in subcommand_path:
        opt = _find_option(options, part)
        if opt is None or opt.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            names = [
                o["name"] for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ]
            raise OptionError(
                f"/{command['name']} has no subcommand {part!r} here (choices: {names})"
            )
        chain.append(opt)
        options = list(opt.get("options") or [])
    if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
        names = [o["name"] for o in options]
        raise OptionError(f"/{command['name']} needs a subcommand path (choices: {names})")
    return chain, options


def check_value(opt: Mapping[str, Any], value: Any) -> None:
    name = opt["name"]
    kind = opt["type"]
    if kind in (INTEGER, NUMBER):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionError(f"option {name!r} needs a number, got {value!r}")
        if kind == INTEGER and not float(value).is_integer():
            raise OptionError(f"option {name!r} needs an integer, got {value!r}")
        if opt.get("min_value") is not None and value < opt["min_value"]:
            raise OptionError(f"option {name!r}: {value} < min_value {opt['min_value']}")
        if opt.get("max_value") is not None and value > opt["max_value"]:
            raise OptionError(f"option {name!r}: {value} > max_value {opt['max_value']}")
    elif kind == STRING:
        if not isinstance(value, str):
            raise OptionError(f"option {name!r} needs a string, got {value!r}")
        if opt.get("min_length") is not None and len(value) < opt["min_length"]:
            raise OptionError(f"option {name!r}: shorter than min_length {opt['min_length']}")
        if opt.get("max_length") is not None and len(value) > opt["max_length"]:
            raise OptionError(f"option {name!r}: longer than max_length {opt['max_length']}")
    elif kind == BOOLEAN and not isinstance(value, bool):
        raise OptionError(f"option {name!r} needs a bool, got {value!r}")
    choices = opt.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise OptionError(f"option {name!r}: {value!r} is not one of its choices")


def nest_options(
    chain: Sequence[Mapping[str, Any]], leaf: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Wrap leaf options in their subcommand (group) options."""
    options = leaf
    for sub in reversed(chain):
        options = [{"type": sub["type"], "name": sub["name"], "options": options}]
    return options
