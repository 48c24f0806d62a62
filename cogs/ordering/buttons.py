"""Confirm and Cancel under a confirmation. Their custom_ids carry the order id (see
cogs.order_button), so they still work after a restart, and the draft row in SQLite (not
this process's memory) decides what a press does: a second press is harmless."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.errors import NotAllowed, NotEnoughCredit, UserFacingError
from bot.services.ordering import CONFIRMATION_TTL, ConfirmOutcome, ConfirmResult
from bot.tree import report_error
from cogs.order_button import OrderButton, order_view
from cogs.ordering.checks import buyer_refusal
from cogs.ordering.embeds import RESULT_COLOURS, RESULT_LABELS, RESULT_TITLES
from cogs.topup_ui import online_service, send_link
from core.domain import Money, OrderStatus
from core.i18n import N_, _

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)


def confirmation_view(order_id: str, *, short: bool = False) -> discord.ui.View:
    """Confirm and Cancel; with Top up first when the buyer's balance is short and the
    shop takes payment online."""
    if short:
        return order_view(order_id, TopUpShortfallButton, ConfirmButton, CancelButton)
    return order_view(order_id, ConfirmButton, CancelButton)


def shortfall_view(order_id: str) -> discord.ui.View:
    return order_view(order_id, TopUpShortfallButton)


class ConfirmButton(
    OrderButton,
    prefix="order:confirm",
    # Translators: button label (places the order), at most 80 characters
    label=N_("Confirm"),
    style=discord.ButtonStyle.success,
):
    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        outcome: ConfirmOutcome | None = None
        try:
            # Acknowledge first (Discord allows 3 s); the provider call may take longer.
            await interaction.response.defer()
            buyer_refusal(interaction)
            try:
                outcome = await interaction.client.ordering.confirm(
                    self.order_id, interaction.user.id
                )
            except NotEnoughCredit as short:
                # Nothing was ordered. With online top-ups, the answer offers exactly
                # the difference; the draft stays for Confirm once it is paid.
                if interaction.client.ordering.tops_up_online(short.shortfall.currency):
                    await interaction.followup.send(
                        short.user_message, view=shortfall_view(self.order_id), ephemeral=True
                    )
                    return
                raise
            embed = discord.Embed(
                title=_(RESULT_TITLES[outcome.result]),
                description=outcome.user_message,
                colour=RESULT_COLOURS[outcome.result],
            )
            if outcome.order is not None:
                embed.set_footer(text=_("Order {order_id}", order_id=outcome.order.id))
            if outcome.result is ConfirmResult.ALREADY:
                # Leave the message alone; a second press only gets a private note.
                await interaction.followup.send(outcome.user_message, ephemeral=True)
                return
            await interaction.edit_original_response(embed=embed, view=None)
        except Exception as exc:
            if outcome is None:
                await report_error(interaction, exc)
                return
            # The order went through confirm; only showing the result failed. "Try again"
            # would be wrong: a second order is the last thing the buyer needs.
            log.warning(
                "order %s: showing the confirm result failed (%s)",
                self.order_id,
                type(exc).__name__,
            )
            await report_error(
                interaction,
                UserFacingError(
                    _(
                        "Order `{order_id}` is recorded ({result}), but this message couldn't "
                        "be updated. Don't confirm it again: `/order` shows where it is, and "
                        "you'll get a DM with the result.",
                        order_id=self.order_id,
                        result=_(RESULT_LABELS[outcome.result]),
                    )
                ),
            )


class TopUpShortfallButton(
    OrderButton,
    prefix="order:topup",
    # Translators: button label (pay online for store credit), at most 80 characters
    label=N_("Top up"),
    style=discord.ButtonStyle.primary,
):
    """Pay online exactly what this draft still needs: the difference is worked out when
    pressed, from the balance then, so it is never stale."""

    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        bot = interaction.client
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            order = await bot.order_queries.buyer_order(self.order_id, interaction.user.id)
            if (
                order is None
                or order.status is not OrderStatus.DRAFT
                or order.created_at + CONFIRMATION_TTL < time.time()
            ):
                raise NotAllowed(
                    _(
                        "This order's confirmation has ended, so it needs no top-up. "
                        "`/top-up` adds store credit any time."
                    )
                )
            balance = await bot.wallet.balance(interaction.user.id, order.total.currency)
            if balance.minor >= order.total.minor:
                raise NotAllowed(
                    _(
                        "Your store credit ({balance}) already covers this order: "
                        "press **Confirm**.",
                        balance=balance.format(),
                    )
                )
            shortfall = Money(order.total.minor - balance.minor, order.total.currency)
            # Below the provider's minimum, the minimum: the rest stays in the wallet.
            await send_link(
                interaction,
                online_service(bot).payable(shortfall),
                draft=order,
                needed=shortfall,
            )
        except Exception as exc:
            await report_error(interaction, exc)


class CancelButton(
    OrderButton,
    prefix="order:cancel",
    # Translators: button label (drops the order before it is placed), at most 80 characters
    label=N_("Cancel"),
    style=discord.ButtonStyle.secondary,
):
    async def pressed(self, interaction: discord.Interaction[OrderBot]) -> None:
        bot = interaction.client
        try:
            await interaction.response.defer()
            if await bot.ordering.cancel_draft(self.order_id, interaction.user.id):
                embed = discord.Embed(
                    title=_("Order cancelled"),
                    description=_("Nothing was ordered."),
                    colour=discord.Colour.light_grey(),
                )
                await interaction.edit_original_response(embed=embed, view=None)
                return
            order = await bot.order_queries.buyer_order(self.order_id, interaction.user.id)
            if order is None:
                raise NotAllowed(
                    _(
                        "This order was already cancelled (or its confirmation expired): "
                        "nothing was ordered."
                    )
                )
            await interaction.followup.send(
                _(
                    "Order `{order_id}` is already **{status}**; it can't be cancelled here.",
                    order_id=order.id,
                    status=order.status.label,
                ),
                ephemeral=True,
            )
        except Exception as exc:
            await report_error(interaction, exc)
