"""The one extension a worker (`orderbot worker`, issue 27) loads: it answers no
interactions, but the staff alerts it posts carry the same Approve/Reject buttons as the
gateway's. The buttons are DynamicItems keyed by the order id, so the gateway process
answers a press on a message any process posted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.admin import approvals

if TYPE_CHECKING:
    from bot.app import OrderBot


async def setup(bot: OrderBot) -> None:
    if bot.staff_log is not None:
        bot.staff_log.view_for = approvals.view_for_alert
