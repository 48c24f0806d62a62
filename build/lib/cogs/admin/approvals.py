"""Approve / Reject on an order paid outside the bot (payment mode `approval`).

The buttons ride on the staff-channel message the alert outbox posts for the order
(bot.services.staff_log asks `approval_view` for them). They are DynamicItems whose
custom_id carries the order id, so they work after a restart; every press goes through
the staff check, and the decision is a compare-and-set in bot.services.staff_orders, so
two staff members pressing at once decide once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.services.ordering import ConfirmResult
from bot.tree import report_error
from cogs.admin.access import check_component
from cogs.admin.ui import StaffModal, bot_of
from storage.staff_alerts import StaffAlert

log = logging.getLogger(__name__)

ORDER_ID_RE = r"ORD-[0-9A-Z]{10}"


def approval_view(order_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ApproveButton(order_id))
    view.add_item(RejectButton(order_id))
    return view


def view_for_alert(alert: StaffAlert) -> discord.ui.View | None:
    """StaffLog's hook: an approval alert is posted with its buttons."""
    if alert.kind == "approval" and alert.order_id:
        return approval_view(alert.order_id)
    return None


async def _mark_decided(message: discord.Message | None, line: str) -> None:
    """The approval message says who decided, and loses its buttons. A failure here
    changes nothing that matters: the decision is recorded and the buttons refuse."""
    if message is None:
        return
    try:
        await message.edit(content=f"{message.content}\n{line}"[:2000], view=None)
    except discord.HTTPException as exc:
        log.info("could not update the approval message (%s)", exc.status)


class ApproveButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"approval:approve:(?P<order_id>{ORDER_ID_RE})",
):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Approve",
                style=discord.ButtonStyle.success,
                custom_id=f"approval:approve:{order_id}",
            )
        )
        self.order_id = order_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ApproveButton:
        return cls(match["order_id"])

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            outcome = await bot_of(interaction).staff_orders.approve(
                self.order_id, interaction.user.id
            )
            status = outcome.order.status.label if outcome.order else "unknown"
            await _mark_decided(
                interaction.message, f"✅ Approved by {interaction.user.mention}: **{status}**."
            )
            sent = outcome.result is not ConfirmResult.FAILED
            await interaction.followup.send(
                f"Approved. {outcome.user_message}\nNow: **{status}**."
                + ("" if sent else " The buyer is being told."),
                ephemeral=True,
            )
        except Exception as exc:
            await report_error(interaction, exc)


class RejectButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"approval:reject:(?P<order_id>{ORDER_ID_RE})",
):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Reject…",
                style=discord.ButtonStyle.danger,
                custom_id=f"approval:reject:{order_id}",
            )
        )
        self.order_id = order_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RejectButton:
        return cls(match["order_id"])

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await check_component(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_modal(
            RejectModal(self.order_id, interaction.id, interaction.message)
        )


class RejectModal(StaffModal):
    note: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What the buyer is told",
        style=discord.TextStyle.paragraph,
        max_length=280,
        required=False,
        placeholder="We couldn't find your payment.",
        custom_id="reject:note",
    )

    def __init__(self, order_id: str, key: int, message: discord.Message | None) -> None:
        super().__init__(title=f"Reject {order_id}", custom_id=f"approval-reject:{key}")
        self.order_id = order_id
        self.message = message

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await bot_of(interaction).staff_orders.reject(
            self.order_id, interaction.user.id, self.note.value
        )
        await _mark_decided(self.message, f"🚫 Rejected by {interaction.user.mention}.")
        await interaction.followup.send(
            f"Order `{order.id}` is **{order.status.label}**: nothing was sent, and the buyer "
            "is being told.",
            ephemeral=True,
        )
