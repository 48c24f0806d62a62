"""The staff console, /admin: one group, one module per concern.

- `access`: the group and the check every /admin command, button and modal goes through
- `ui`: the views', forms' and autocomplete's shared pieces
- `orders`: /admin orders and /admin order view (looking, and the audited Reveal)
- `order_actions`: /admin order retry|set-status|deliver|resend|link (changing)
- `shop`: /admin shop pause|resume, /admin providers, /admin stats (the whole shop)
- `wallet`: /admin wallet view|credit|debit and /admin order refund (store credit)
- `approvals`: the Approve / Reject buttons on an order paid outside the bot

Loaded as one extension (`cogs.admin` in bot.app.COGS) so the group is added to the tree
exactly once, with every subcommand already attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.admin import approvals, order_actions, orders, shop, wallet
from cogs.admin.access import admin_group

if TYPE_CHECKING:
    from bot.app import OrderBot


async def setup(bot: OrderBot) -> None:
    # Importing the modules attached their commands to the groups.
    assert orders.list_orders.parent is admin_group
    assert order_actions.link_order.parent is not None
    assert shop.stats.parent is admin_group
    assert wallet.credit_wallet.parent is wallet.wallet_group
    bot.tree.add_command(admin_group)
    bot.add_dynamic_items(approvals.ApproveButton, approvals.RejectButton)
    if bot.staff_log is not None:
        bot.staff_log.view_for = approvals.view_for_alert


async def teardown(bot: OrderBot) -> None:
    bot.tree.remove_command(admin_group.name)
    bot.remove_dynamic_items(approvals.ApproveButton, approvals.RejectButton)
