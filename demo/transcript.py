"""What the demo prints: who did what, and each message as the buyer or staff see it in
Discord (markup resolved, small print, timestamps), with the seconds since the start.

`render(message)` without a world is the raw text the journeys' checks read."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, TextIO


class Transcript:
    """The readable log of a demo run. `file`: where it goes (stdout unless told)."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.started = time.monotonic()
        self.world: Any = None  # the emulator's world: names for mentions
        self.file = file

    def _stamp(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def _print(self, text: str) -> None:
        # file=None is whatever sys.stdout is at the time.
        print(text, file=self.file, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        """A line of its own: what the demo is doing, not what happens in Discord."""
        self._print(text)

    def heading(self, text: str) -> None:
        self._print(f"\n=== {text} ===")

    def user(self, who: str, action: str) -> None:
        self._print(f"{self._stamp()}  [{who}] {action}")

    def bot(self, where: str, message: dict[str, Any]) -> None:
        self._print(f"{self._stamp()}  [bot → {where}]")
        for line in render(message, self.world).splitlines():
            self._print(f"            │ {line}")

    def note(self, text: str) -> None:
        self._print(f"            · {text}")


MARKUP = re.compile(
    r"<(?:t:(?P<ts>-?\d+)(?::(?P<style>[tTdDfFR]))?|@&(?P<role>\d+)|@!?(?P<user>\d+)|#(?P<channel>\d+))>"
)


def relative(seconds: float) -> str:
    """Discord's `<t:…:R>`: "in 10 minutes", "3 seconds ago"."""
    ahead, span = seconds >= 0, abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if span >= size or unit == "second":
            count = int(span // size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if ahead else f"{words} ago"
    return "now"


def humanize(text: str, world: Any, now: float) -> str:
    """Discord's markup as the client shows it: times, mentions, channels."""

    def swap(match: re.Match[str]) -> str:
        if match["ts"] is not None:
            at = int(match["ts"])
            if match["style"] == "R":
                return relative(at - now)
            shown = datetime.fromtimestamp(at, tz=UTC)
            return shown.strftime(
                "%H:%M:%S UTC" if match["style"] in ("t", "T") else "%Y-%m-%d %H:%M UTC"
            )
        if match["user"] is not None:
            user = world.users.get(int(match["user"]))
            return f"@{(user.global_name or user.username) if user else match['user']}"
        if match["role"] is not None:
            role = world.roles.get(int(match["role"]))
            return f"@{role.name if role else match['role']}"
        channel = world.channels.get(int(match["channel"]))
        return f"#{getattr(channel, 'name', None) or match['channel']}"

    lines = []
    for line in MARKUP.sub(swap, text).splitlines():
        # `-# …` is Discord's small print.
        lines.append(f"  (small print) {line[3:]}" if line.startswith("-# ") else line)
    return "\n".join(lines)


def render(message: dict[str, Any], world: Any = None) -> str:
    """A message as text. With `world` (the transcript), as Discord shows it: markup
    resolved, the embed's timestamp beside its footer. Without, raw (what checks read)."""
    parts: list[str] = []
    if message.get("content"):
        parts.append(message["content"])
    for embed in message.get("embeds") or []:
        if embed.get("title"):
            parts.append(f"**{embed['title']}**")
        if embed.get("description"):
            parts.append(embed["description"])
        for field in embed.get("fields") or []:
            parts.append(f"{field['name']}: {field['value']}")
        footer = (embed.get("footer") or {}).get("text")
        stamp = embed.get("timestamp")
        if world is not None and stamp:
            when = datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            footer = f"{footer} • {when}" if footer else when
        if footer:
            parts.append(f"({footer})")
    for attachment in message.get("attachments") or []:
        parts.append(f"📎 {attachment.get('filename')}")
    labels = [
        c.get("label")
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("label")
    ]
    if labels:
        parts.append("buttons: " + " | ".join(f"[{label}]" for label in labels))
    text = "\n".join(parts) or "(empty)"
    return humanize(text, world, time.time()) if world is not None else text


def text_of(message: dict[str, Any]) -> str:
    """A message's raw text: what the journeys' checks read."""
    return render(message)
