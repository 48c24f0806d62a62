"""The staff console, /admin: one group, one module per concern.

- `access`: the group and the check every /admin command, button and modal goes through
- `ui`: the views', forms' and autocomplete's shared pieces
- `orders`: /admin orders and /admin order view (looking, and the audited Reveal)
- `order_actions`: /admin order retry|set-status|deliver|resend|link (changing)
- `shop`: /admin shop pause|resume, /admin providers, /admin stats (the whole shop)

Loaded as one extension (`cogs.admin` in bot.app.COGS) so the group is added to the tree
exactly once, with every subcommand already attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.admin import order_actions, orders, shop
from cogs.admin.access import admin_group

if TYPE_CHECKING:
    from bot.app import OrderBot


async def setup(bot: OrderBot) -> None:
    # Importing the modules attached their commands to the groups.
    assert orders.list_orders.parent is admin_group
    assert order_actions.link_order.parent is not None
    assert shop.stats.parent is admin_group
    bot.tree.add_command(admin_group)


async def teardown(bot: OrderBot) -> None:
    bot.tree.remove_command(admin_group.name)
