"""The one kind of button that acts on an order and survives a restart.

A subclass names its custom_id prefix, label (marked with `N_`: it is translated into
the reader's language when a message's button is made) and style; the custom_id is
`<prefix>:<order id>` (`order:confirm:ORD-…`, `approval:approve:ORD-…`), and discord.py
routes a press on any message carrying it, however old, to that subclass once it is
registered with `bot.add_dynamic_items`. The order id in the custom_id, not this process's
memory, says which order a press is about: the stored order decides what it does.

    class ConfirmButton(OrderButton, prefix="order:confirm", label=N_("Confirm"),
                        style=discord.ButtonStyle.success):
        async def pressed(self, interaction): ...
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

import discord

from bot.tree import use_member_language
from core.domain import ORDER_ID_RE
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot


# The base class itself is never registered: its template matches no custom_id.
class OrderButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    prefix: ClassVar[str]
    button_label: ClassVar[str]
    button_style: ClassVar[discord.ButtonStyle]

    def __init_subclass__(cls, *, prefix: str, label: str, style: discord.ButtonStyle) -> None:
        super().__init_subclass__(template=rf"{prefix}:(?P<order_id>{ORDER_ID_RE})")
        cls.prefix = prefix
        cls.button_label = label
        cls.button_style = style

    def __init__(self, order_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=_(self.button_label),
                style=self.button_style,
                custom_id=f"{self.prefix}:{order_id}",
            )
        )
        self.order_id = order_id

    # discord.py declares the next three generic in the client (Interaction[ClientT]);
    # they hand the interaction on to the hooks below, typed with this bot.

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(match["order_id"])

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        # Each press runs in its own task: the presser's language is set here (a staff
        # button's `allowed` switches to the staff language).
        await use_member_language(interaction)
        return await self.allowed(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self.pressed(interaction)

    async def allowed(self, interaction: discord.Interaction[OrderBot]) -> bool:
        """Whether this member may press it (False: the subclass has answered them)."""
        return True

    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        raise NotImplementedError


def order_view(order_id: str, *buttons: type[OrderButton]) -> discord.ui.View:
    """A message's row of order buttons. No timeout: the buttons outlive this process."""
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button(order_id))
    return view
