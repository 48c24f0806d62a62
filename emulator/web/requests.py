"""What the playground page sends, read as Discord's client would send it: JSON objects
and lists checked for their shape, option values typed as the command defines them, and
a person's mistake as one line (:class:`PageError`) the page shows them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import interactions as ix
from . import views

if TYPE_CHECKING:
    from ..server import Emulator


class PageError(Exception):
    """A request the page made that can't be done; its text is shown to the person."""


def json_object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PageError(f"{key} must be an object")
    return value


def word_list(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise PageError(f"{key} must be a list of words")
    return [str(v) for v in value]


def as_id(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise PageError(f"{what} must be an id") from None


def retry_after_seconds(raw: Any) -> float | None:
    """The Retry-After a person typed for a 429: a number of seconds up to an hour."""
    if raw in (None, ""):
        return None
    try:
        seconds = float(str(raw))
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 3600:  # NaN and infinity fail too
        raise PageError("Retry-After must be a number of seconds from 0 to 3600")
    return seconds


def typed_options(
    emu: Emulator, name: str, path: Sequence[str], raw: Mapping[str, Any]
) -> dict[str, Any]:
    """The page sends what was typed, as text; Discord's client sends typed values."""
    definitions = views.find_entry(emu, name, path)
    if definitions is None:
        raise PageError(f"/{' '.join([name, *path])} is not a command of this bot")
    by_name = {d["name"]: d for d in definitions}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        definition = by_name.get(key)
        if definition is None:
            raise PageError(f"/{name} has no option {key!r}")
        text = str(value).strip() if value is not None else ""
        if text == "":
            continue
        kind = definition["type"]
        if kind == ix.INTEGER:
            try:
                out[key] = int(text)
            except ValueError:
                raise PageError(f"{key}: type a whole number") from None
        elif kind == ix.NUMBER:
            try:
                out[key] = float(text)
            except ValueError:
                raise PageError(f"{key}: type a number") from None
        elif kind == ix.BOOLEAN:
            out[key] = text.lower() in ("true", "yes", "1")
        elif kind == ix.ATTACHMENT:
            raise PageError(f"{key}: the playground can't upload files")
        elif kind == ix.STRING:
            out[key] = str(value)
        elif not text.isdigit():
            raise PageError(f"{key}: pick one from the list")
        else:
            out[key] = text
    return out
