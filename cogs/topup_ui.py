"""The pieces every way of topping up shares: the private answer with the payment link,
the form behind /wallet's Top up button, and that button.

/top-up (cogs.topups), the Top up button on /wallet's reply, and the Top up button on a
confirmation whose balance is short (cogs.ordering.buttons) all end in `send_link`: one
private message with a link button ("Pay ₹500.00") and when the link expires.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.errors import InvalidInput, UserFacingError, clip
from bot.services.order_queries import OrderRecord
from bot.topup_presenters import link_embed, pay_view
from bot.tree import report_error, use_member_language
from cogs.ui import BotModal
from core.domain import Money
from core.i18n import N_, _
from core.money import AmountError, parse_amount

if TYPE_CHECKING:
    from bot.app import OrderBot
    from bot.services.topups import TopupService

WALLET_BUTTON_ID = "topup:wallet"


def online_service(bot: OrderBot) -> TopupService:
    """The top-up service, or the shop's own instructions when nothing is paid online."""
    if bot.topups is None:
        instructions = bot.ordering.policy.top_up_instructions
        raise UserFacingError(
            # Translators: {instructions} are the shop's own words, as staff wrote them
            _(
                "Paying online isn't set up in this shop. **How to top up:** {instructions}",
                # The shop's words as written; the default one in the reader's language.
                instructions=clip(_(instructions) if instructions else "", 500),
            )
        )
    return bot.topups.service


def read_amount(bot: OrderBot, text: str, currency: str | None) -> Money:
    """What the buyer typed as a top-up amount, in a currency this shop takes online
    (the only one, when there is one and the text names none)."""
    service = online_service(bot)
    taken = sorted(c for c in service.currencies if c != "*")
    code = currency.strip().upper() if currency and currency.strip() else None
    # Digits and separators only: the shop's one online currency (a separator is then
    # refused by parse_amount with its own reason).
    if code is None and len(taken) == 1 and not re.search(r"[^\d.,_\s]", text):
        code = taken[0]
    try:
        amount = parse_amount(text, code)
    except AmountError as exc:
        # Translators: {problem} is what was wrong with the amount typed, a sentence
        raise InvalidInput(_("{problem} Nothing was charged.", problem=str(exc))) from None
    if not service.takes(amount.currency):
        if taken:
            raise InvalidInput(
                # Translators: {currencies} are currency codes, "INR, USD"
                _(
                    "This shop takes online payments in {currencies}, not {currency}. "
                    "Nothing was charged.",
                    currencies=", ".join(taken),
                    currency=amount.currency,
                )
            )
        raise InvalidInput(
            _(
                "This shop takes online payments in no currency, not {currency}. "
                "Nothing was charged.",
                currency=amount.currency,
            )
        )
    return amount


async def send_link(
    interaction: discord.Interaction[OrderBot],
    amount: Money,
    *,
    draft: OrderRecord | None = None,
    needed: Money | None = None,
) -> None:
    """Make (or find again) the buyer's payment link and answer privately with it. The
    interaction must have been deferred."""
    service = online_service(interaction.client)
    topup = await service.offer(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        amount=amount,
        draft_id=draft.id if draft else None,
    )
    await interaction.followup.send(
        embed=link_embed(topup, shortfall_of=draft, needed=needed),
        view=pay_view(topup),
        ephemeral=True,
    )


# Translators: the title of a form, at most 45 characters
class TopupForm(BotModal, title=N_("Top up your store credit")):
    def __init__(self, interaction_id: int, currencies: list[str]) -> None:
        # Unique to the interaction that opened it: a stale form can't be mistaken for
        # another member's, or another press's. Its title in the member's language.
        super().__init__(
            title=_("Top up your store credit"),
            custom_id=f"topup:form:{interaction_id}",
            timeout=600,
        )
        one = len(currencies) == 1
        if one:
            # Translators: a form field's label, at most 45 characters; {currency} is a code
            label = _("Amount ({currency})", currency=currencies[0])
            # Translators: an example amount in a form field
            placeholder = _("e.g. 500")
        else:
            # Translators: a form field's label, at most 45 characters
            label = _("Amount and currency")
            # Translators: an example amount in a form field; {currency} is a code, "INR"
            placeholder = _("e.g. 500 {currency}", currency=currencies[0] if currencies else "")
        self.amount: discord.ui.TextInput[TopupForm] = discord.ui.TextInput(
            label=label,
            placeholder=placeholder,
            max_length=20,
            custom_id="topup:amount",
        )
        self.add_item(self.amount)

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_link(interaction, read_amount(interaction.client, self.amount.value, None))


class WalletTopupButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=WALLET_BUTTON_ID):
    """Top up, under /wallet's reply. It survives a restart (it carries nothing but its
    purpose: the member who presses is the one topping up)."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                # Translators: button label (pay online for store credit), at most 80 characters
                label=_("Top up"),
                style=discord.ButtonStyle.primary,
                custom_id=WALLET_BUTTON_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        await use_member_language(interaction)
        return True

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: OrderBot = interaction.client
        try:
            service = online_service(bot)
            # A form must be the first answer; nothing before it does I/O.
            await interaction.response.send_modal(
                TopupForm(interaction.id, sorted(c for c in service.currencies if c != "*"))
            )
        except Exception as exc:
            await report_error(interaction, exc)
