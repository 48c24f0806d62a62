"""What every piece of the staff console shares: the views' and forms' access check and
error handling, the order-id autocomplete, and the read log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.presenters import STATUS_EMOJI
from bot.tree import report_error
from cogs.admin.access import check_component, staff_refusal
from cogs.pager import Pager, PageRenderer
from cogs.ui import BotModal
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

# Staff-console buttons work for ten minutes; after that, run the command again.
VIEW_TIMEOUT = 600


def log_read(interaction: discord.Interaction[OrderBot], what: str) -> None:
    """Read-only staff commands are logged, not audited."""
    log.info("staff %s: %s", interaction.user.id, what)


class StaffView(discord.ui.View):
    """A staff-console view: the staff check on every press, friendly errors."""

    def __init__(self) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)

    # discord.py declares these two generic in the client (Interaction[ClientT]).
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_error(interaction, error)


class StaffPager(Pager):
    """A staff list's pages (/admin orders, /admin payments): the staff check on every
    turn, instead of the pager's owner check (the reply is ephemeral: only the staff
    member who asked sees it). `custom_id` is unique to the interaction that asked."""

    def __init__(self, owner_id: int, render: PageRenderer, pages: int, *, custom_id: str) -> None:
        super().__init__(
            owner_id,
            render,
            0,
            pages,
            labels=(
                # Translators: the button that turns a staff list back a page, at most 80
                # characters
                _("Previous"),
                # Translators: the button that turns a staff list on a page, at most 80
                # characters
                _("Next"),
            ),
            custom_id=custom_id,
            timeout=VIEW_TIMEOUT,
        )

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)


class StaffModal(BotModal):
    """A staff-console form: the staff check on submit, friendly errors. Its custom_id
    must be unique to the interaction that opened it (discord.py keys open modals by it).
    A subclass implements `submitted`."""

    # discord.py declares this generic in the client (see cogs/ui.py).
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)


async def order_autocomplete(
    interaction: discord.Interaction[OrderBot], current: str
) -> list[app_commands.Choice[str]]:
    # Autocomplete runs no checks: without this, anyone who can see /admin could list
    # order ids and buyers' names.
    if staff_refusal(interaction) is not None:
        return []
    found = await interaction.client.order_queries.search(current, limit=25)
    return [
        app_commands.Choice(
            name=(
                f"{o.id} · {STATUS_EMOJI.get(o.status, '')} {o.status.label} · "
                f"{o.buyer_name or o.user_id} · {o.product_name}"
            )[:100],
            value=o.id,
        )
        for o in found
    ]
