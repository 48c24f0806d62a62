"""Buyers place orders: /boost and /buy, the contact form, and Confirm / Cancel.

Thin: validation and submission live in bot.services.ordering. One module per concern:

- `checks`: who may order (BUYER_ROLE_ID) and how often (ORDER_COOLDOWN_SECONDS)
- `embeds`: the confirmation the buyer is shown, and the colours of Confirm's answers
- `buttons`: Confirm and Cancel, DynamicItems keyed by the order id (they survive restarts)
- `contact_form`: the contact form /buy opens, and its **Fix it** button
- `slash`: /boost and /buy as Discord sees them, their options built from the catalog
- `commands`: the Ordering cog: what /boost and /buy do

Loaded as one extension (`cogs.ordering` in bot.app.COGS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.ordering.buttons import CancelButton, ConfirmButton, TopUpShortfallButton
from cogs.ordering.commands import Ordering
from cogs.ordering.contact_form import ContactModal

if TYPE_CHECKING:
    from bot.app import OrderBot


async def setup(bot: OrderBot) -> None:
    bot.add_dynamic_items(ConfirmButton, CancelButton, TopUpShortfallButton)
    await bot.add_cog(Ordering(bot))


__all__ = ["CancelButton", "ConfirmButton", "ContactModal", "Ordering"]
