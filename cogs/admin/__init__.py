"""The staff console, /admin: one group, one module per concern.

- `access`: the group and the check every /admin command, button and modal goes through
- `orders`: /admin orders, /admin order view|retry|set-status|deliver|resend|link

Loaded as one extension (`cogs.admin` in bot.app.COGS) so the group is added to the tree
exactly once, with every subcommand already attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.admin import orders
from cogs.admin.access import admin_group

if TYPE_CHECKING:
    from bot.app import OrderBot


async def setup(bot: OrderBot) -> None:
    orders.attach(admin_group)
    bot.tree.add_command(admin_group)


async def teardown(bot: OrderBot) -> None:
    bot.tree.remove_command(admin_group.name)
