"""The staff console, /admin: one group, one module per concern.

- `access`: the groups and the check every /admin command, button and modal goes through
- `ui`: the views', forms' and autocomplete's shared pieces
- `orders`: /admin orders and /admin order view (looking, and the audited Reveal)
- `order_actions`: /admin order retry|set-status|deliver|resend|link (changing)
- `shop`: /admin shop pause|resume, /admin providers, /admin stats (the whole shop)
- `wallet`: /admin wallet view|credit|debit and /admin order refund (store credit)
- `payments`: /admin payments and /admin payment (online top-ups, and Check now)
- `approvals`: the Approve / Reject buttons on an order paid outside the bot

Loaded as one extension (`cogs.admin` in bot.app.COGS). Each module lists what it adds
to /admin in `COMMANDS` ((parent group, command) pairs); `setup` attaches them, from the
modules in MODULES, and adds the group to the tree exactly once, with every subcommand
already attached. Importing a module attaches nothing.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from discord import app_commands

from cogs.admin import approvals, order_actions, orders, payments, shop, wallet
from cogs.admin.access import SUBGROUPS, Additions, StaffGroup, admin_group

if TYPE_CHECKING:
    from bot.app import OrderBot

# The modules that add commands, in the order Discord shows them (it is also the order of
# the synced payload, whose hash decides whether commands are synced again).
MODULES: tuple[ModuleType, ...] = (order_actions, orders, payments, shop, wallet)


class AdminSetupError(RuntimeError):
    """/admin can't be put together as the modules say (a bug, caught at start-up)."""


def _additions(module: ModuleType) -> Additions:
    listed: Additions | None = getattr(module, "COMMANDS", None)
    if listed is None:
        raise AdminSetupError(f"{module.__name__} has no COMMANDS: list what it adds to /admin")
    for name, value in vars(module).items():
        defined_here = isinstance(value, app_commands.Command | app_commands.Group) and (
            value.module == module.__name__
        )
        if defined_here and all(value is not child for _, child in listed):
            raise AdminSetupError(
                f"{module.__name__}.{name} (/{value.name}) is not in its module's COMMANDS, "
                "so staff would never see it"
            )
    return listed


def admin_commands() -> StaffGroup:
    """/admin with every module's commands attached. Idempotent: what a previous call
    attached stays, and a name used twice raises."""
    pairs = [*SUBGROUPS]
    for module in MODULES:
        pairs.extend(_additions(module))
    for parent, child in pairs:
        attached = parent.get_command(child.name)
        if attached is child:
            continue
        if attached is not None:
            raise AdminSetupError(
                f"/{parent.qualified_name} {child.name} is added twice "
                f"({attached.module} and {child.module})"
            )
        parent.add_command(child)
    return admin_group


async def setup(bot: OrderBot) -> None:
    bot.tree.add_command(admin_commands())
    bot.add_dynamic_items(*approvals.DYNAMIC_ITEMS)
    if bot.staff_log is not None:
        bot.staff_log.view_for = approvals.view_for_alert


async def teardown(bot: OrderBot) -> None:
    bot.tree.remove_command(admin_group.name)
    bot.remove_dynamic_items(*approvals.DYNAMIC_ITEMS)
