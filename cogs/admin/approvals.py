"""Approve / Reject on an order paid outside the bot (payment mode `approval`).

The buttons ride on the staff-channel message the alert outbox posts for the order
(bot.services.staff_log asks `approval_view` for them). They are DynamicItems whose
custom_id carries the order id, so they work after a restart; every press goes through
the staff check, and the decision is a compare-and-set in bot.services.staff_review, so
two staff members pressing at once decide once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.services.ordering import ConfirmResult
from bot.tree import report_error
from cogs.admin.access import check_component
from cogs.admin.ui import StaffModal
from cogs.order_button import OrderButton, order_view
from core.i18n import N_, _, in_staff_language
from core.kinds import AlertKind

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)


def approval_view(order_id: str) -> discord.ui.View:
    return order_view(order_id, ApproveButton, RejectButton)


class PostedAlert(Protocol):
    """What the hook reads of an alert being posted (the stored row StaffLog passes)."""

    @property
    def kind(self) -> str: ...

    @property
    def order_id(self) -> str | None: ...


@in_staff_language
def view_for_alert(alert: PostedAlert) -> discord.ui.View | None:
    """StaffLog's hook: an approval alert is posted with its buttons (labelled in the
    staff language: the staff channel reads them)."""
    if alert.kind == AlertKind.APPROVAL and alert.order_id:
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
    OrderButton,
    prefix="approval:approve",
    # Translators: button label on a staff-channel message, at most 80 characters
    label=N_("Approve"),
    style=discord.ButtonStyle.success,
):
    async def allowed(self, interaction: discord.Interaction[OrderBot]) -> bool:
        return await check_component(interaction)

    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            outcome = await interaction.client.staff_review.approve(
                self.order_id, interaction.user.id
            )
            # Translators: an order's status when it can't be read
            status = outcome.order.status.label if outcome.order else _("unknown")
            await _mark_decided(
                interaction.message,
                _(
                    "✅ Approved by {staff}: **{status}**.",
                    staff=interaction.user.mention,
                    status=status,
                ),
            )
            sent = outcome.result is not ConfirmResult.FAILED
            if sent:
                text = _(
                    "Approved. {outcome}\nNow: **{status}**.",
                    outcome=outcome.user_message,
                    status=status,
                )
            else:
                text = _(
                    "Approved. {outcome}\nNow: **{status}**. The buyer is being told.",
                    outcome=outcome.user_message,
                    status=status,
                )
            await interaction.followup.send(text, ephemeral=True)
        except Exception as exc:
            await report_error(interaction, exc)


class RejectButton(
    OrderButton,
    prefix="approval:reject",
    # Translators: button label on a staff-channel message (it opens a form), at most 80
    # characters
    label=N_("Reject…"),
    style=discord.ButtonStyle.danger,
):
    async def allowed(self, interaction: discord.Interaction[OrderBot]) -> bool:
        return await check_component(interaction)

    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.send_modal(
            RejectModal(self.order_id, interaction.id, interaction.message)
        )


class RejectModal(StaffModal):
    note: discord.ui.TextInput[Any]

    def __init__(self, order_id: str, key: int, message: discord.Message | None) -> None:
        super().__init__(
            # Translators: a form's title, at most 45 characters with the order id
            title=_("Reject {order_id}", order_id=order_id),
            custom_id=f"approval-reject:{key}",
        )
        self.note = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("What the buyer is told"),
            style=discord.TextStyle.paragraph,
            max_length=280,
            required=False,
            placeholder=_("We couldn't find your payment."),
            custom_id="reject:note",
        )
        self.add_item(self.note)
        self.order_id = order_id
        self.message = message

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await interaction.client.staff_review.reject(
            self.order_id, interaction.user.id, self.note.value
        )
        await _mark_decided(
            self.message, _("🚫 Rejected by {staff}.", staff=interaction.user.mention)
        )
        await interaction.followup.send(
            _(
                "Order `{order_id}` is **{status}**: nothing was sent, and the buyer "
                "is being told.",
                order_id=order.id,
                status=order.status.label,
            ),
            ephemeral=True,
        )


# The buttons this module answers (cogs.admin's setup registers them).
DYNAMIC_ITEMS = (ApproveButton, RejectButton)
