"""A private ◀ / ▶ pager for lists that outgrow one embed (/orders, /wallet, /admin wallet
view, and, with its own labels and the staff check, /admin orders). Only the member it
was shown to can turn it; each turn re-reads the page, so it never shows stale rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import discord

from cogs.ui import OwnedView
from core.i18n import N_, _

if TYPE_CHECKING:
    from bot.app import OrderBot

PageRenderer = Callable[[int], Awaitable[tuple[discord.Embed, int]]]


class Pager(OwnedView):
    """`render(page)` gives a page's embed and the page count. `labels` name the two
    buttons (already in the reader's language; by default ◀ Newer and Older ▶);
    `custom_id`, when given, is the prefix of theirs (`<custom_id>:prev|next`)."""

    def __init__(
        self,
        owner_id: int,
        render: PageRenderer,
        page: int,
        pages: int,
        *,
        labels: tuple[str, str] | None = None,
        custom_id: str | None = None,
        timeout: float = 600,
    ) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.render = render
        self.page = page
        self.pages = pages
        if labels is None:
            labels = (
                # Translators: button label (back to newer entries), at most 80 characters
                _("◀ Newer"),
                # Translators: button label (on to older entries), at most 80 characters
                _("Older ▶"),
            )
        self.previous.label, self.next.label = labels
        if custom_id is not None:
            self.previous.custom_id = f"{custom_id}:prev"
            self.next.custom_id = f"{custom_id}:next"
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def _turn(self, interaction: discord.Interaction[OrderBot], delta: int) -> None:
        await interaction.response.defer()
        embed, self.pages = await self.render(self.page + delta)
        self.page = min(max(self.page + delta, 0), self.pages - 1)
        self._sync_buttons()
        await interaction.edit_original_response(embed=embed, view=self)

    # The labels are set per pager, in the reader's language (__init__).
    @discord.ui.button(label=N_("◀ Newer"), style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[OrderBot], button: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label=N_("Older ▶"), style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction[OrderBot], button: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, +1)


async def send_paged(
    interaction: discord.Interaction[OrderBot],
    owner_id: int,
    render: PageRenderer,
    *,
    extra: Sequence[discord.ui.Item[Any]] = (),
    make_pager: Callable[[int, PageRenderer, int], Pager] | None = None,
) -> None:
    """The first page as a deferred ephemeral followup, with the pager when there is more,
    and `extra` items (e.g. /wallet's Top up) after the pager's buttons. `make_pager`
    (owner, render, pages) makes a pager of another kind (the staff console's)."""
    embed, pages = await render(0)
    view: discord.ui.View | None = None
    if pages > 1:
        view = (make_pager or (lambda o, r, n: Pager(o, r, 0, n)))(owner_id, render, pages)
    elif extra:
        view = discord.ui.View(timeout=None)
    for item in extra:
        assert view is not None
        view.add_item(item)
    if view is not None:
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)
    else:
        await interaction.followup.send(embed=embed, ephemeral=True)
