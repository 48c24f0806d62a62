"""Commands named in staff alerts become Discord command mentions (`</admin order retry:ID>`).

An alert tells staff what to run, written once as a code span: "`/admin order retry
order_id:ORD-…`". Posted as is, every reader sees the English name. A mention instead is
shown by each Discord client in its own language (the command's Hindi name in a Hindi
client) and runs the command when clicked. Options can't be part of a mention, so they
follow it as a code span: "</admin order retry:123> `order_id:ORD-…`".

The ids are the guild's commands as Discord has them (fetched once a process starts); a
command not among them (not synced yet, or Discord couldn't be asked) stays a code span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from discord import AppCommandOptionType, app_commands

# A code span that starts with a slash (written in two pieces so the check that every
# command a message names exists, tests/cogs/test_alert_commands.py, doesn't read it).
CODE_SPAN = re.compile("`" r"/(?P<words>[a-z][a-z-]*(?: [a-z][a-z-]*)*)(?P<options>(?: [^`\n]*)?)`")


def _qualified_names(command: app_commands.AppCommand) -> Iterable[str]:
    yield command.name

    def walk(prefix: str, options: Iterable[object]) -> Iterable[str]:
        for option in options:
            if isinstance(option, app_commands.AppCommandGroup) and option.type in (
                AppCommandOptionType.subcommand,
                AppCommandOptionType.subcommand_group,
            ):
                name = f"{prefix} {option.name}"
                yield name
                yield from walk(name, option.options)

    yield from walk(command.name, command.options)


class CommandMentions:
    def __init__(self, ids: Mapping[str, int] | None = None) -> None:
        # Every qualified name ("admin order retry") -> its root command's id.
        self.ids = dict(ids or {})

    @classmethod
    def from_commands(cls, commands: Iterable[app_commands.AppCommand]) -> CommandMentions:
        return cls({name: c.id for c in commands for name in _qualified_names(c)})

    def render(self, text: str) -> str:
        """`text` with each code span naming a known command as its mention."""
        if not self.ids:
            return text
        return CODE_SPAN.sub(self._mention, text)

    def _mention(self, match: re.Match[str]) -> str:
        name = " ".join(match["words"].split())
        if name not in self.ids:
            return match.group(0)  # not a command Discord has: left as written
        mention = f"</{name}:{self.ids[name]}>"
        options = match["options"].strip()
        return f"{mention} `{options}`" if options else mention
