"""/admin wallet view|credit|debit and /admin order refund: staff move store credit.

Thin: bot.services.wallet posts the ledger row, the audit row and the staff-channel line
in one transaction, keyed by this interaction's id (a redelivered interaction moves money
once). The member's DM is sent here, once, after that commit, under a nonce derived from
the same key.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import InvalidInput, clip
from bot.presenters import signed
from bot.services.wallet import WalletChange
from cogs.admin.access import Additions, StaffGroup, admin_group, order_group, staff_refusal
from cogs.admin.ui import StaffPager, log_read, order_autocomplete
from cogs.pager import send_paged
from cogs.wallet import wallet_page
from core import i18n
from core.domain import AmountError, Money, parse_amount
from core.i18n import _, speaking

if TYPE_CHECKING:
    from bot.app import OrderBot

log = logging.getLogger(__name__)

wallet_group = StaffGroup(name="wallet", description="Staff: members' store credit")


def shop_currencies(interaction: discord.Interaction[OrderBot]) -> list[str]:
    return sorted({p.currency for p in interaction.client.catalog.all()})


def names_currency(text: str) -> bool:
    """`₹199`, `5 USD`: the amount says its currency itself."""
    return any(not (c.isdigit() or c in ". ") for c in text)


def read_amount(
    interaction: discord.Interaction[OrderBot],
    amount: str,
    currency: str | None,
    fallback: str | None = None,
) -> Money:
    """Staff's amount, exactly: `12.50` with a currency, `₹199`, `199 INR`. With no
    currency anywhere: `fallback` (an order's currency), else the shop's only currency."""
    if not currency and not names_currency(amount):
        known = shop_currencies(interaction)
        currency = fallback or (known[0] if len(known) == 1 else None)
    try:
        money = parse_amount(amount, currency or None)
    except AmountError as exc:
        raise InvalidInput(_("{problem} Nothing was changed.", problem=str(exc))) from None
    sold = shop_currencies(interaction)
    if (
        not currency
        and sold
        and money.currency not in sold
        and money.currency not in amount.upper()
    ):
        # A bare symbol read as a currency the shop doesn't sell: `$100` is USD in
        # English, but a shop that sells in CAD meant its own dollars.
        figures = "".join(c for c in amount if c.isdigit() or c == ".") or "10"
        raise InvalidInput(
            _(
                "`{amount}` reads as {currency}, and this shop prices in {sold}. Write the "
                "currency's code, e.g. `{example}`. Nothing was changed.",
                amount=clip(amount, 20),
                currency=money.currency,
                sold=", ".join(sold),
                example=f"{figures} {sold[0]}",
            )
        )
    return money


async def currency_autocomplete(
    interaction: discord.Interaction[OrderBot], current: str
) -> list[app_commands.Choice[str]]:
    if staff_refusal(interaction) is not None:
        return []
    return [
        app_commands.Choice(name=c, value=c)
        for c in shop_currencies(interaction)
        if current.upper() in c
    ]


async def dm_member(
    interaction: discord.Interaction[OrderBot], member_id: int, embed: discord.Embed, key: str
) -> str:
    """The member's DM about a movement, and a line for staff saying whether it went."""
    nonce = hashlib.sha256(f"wallet|{key}".encode()).hexdigest()[:25]
    try:
        dm = await interaction.client.create_dm(discord.Object(id=member_id))
        await dm.send(embed=embed, nonce=nonce)
    except discord.HTTPException as exc:
        log.info("wallet DM to a member failed (%s)", exc.status)
        return _("I couldn't DM them (their DMs may be closed); `/wallet` shows it to them.")
    return _("They got a DM.")


async def member_language(bot: OrderBot, member_id: int) -> str:
    """The language of a member's DM: their /language choice, else the shop's default
    (the staff member's interaction is in the staff language)."""
    try:
        return await bot.languages.for_dm(member_id, None)
    except Exception:
        # The money has moved by now: an unreadable choice must not fail the command.
        log.warning("language choice of member %s unreadable", member_id, exc_info=True)
        return i18n.default_language()


def movement_embed(title: str, change: WalletChange, note: str | None) -> discord.Embed:
    embed = discord.Embed(
        title=title,
        colour=discord.Colour.green() if change.amount.minor > 0 else discord.Colour.gold(),
    )
    # Translators: the field names of a member's DM about their store credit
    embed.add_field(name=_("Amount"), value=signed(change.amount), inline=True)
    embed.add_field(name=_("Balance now"), value=change.balance.format(), inline=True)
    if note:
        embed.add_field(name=_("Note"), value=note[:300], inline=False)
    embed.set_footer(text=_("/wallet shows your store credit and its history"))
    return embed


@app_commands.command(name="view", description="A member's store credit and ledger")
@app_commands.describe(member="Whose wallet")
async def view_wallet(interaction: discord.Interaction[OrderBot], member: discord.Member) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    log_read(interaction, f"wallet of {member.id}")
    bot = interaction.client
    title = _("Store credit of {member}", member=member.display_name)[:200]
    await send_paged(
        interaction,
        interaction.user.id,
        lambda page: wallet_page(bot, member.id, page, title),
        # Staff pages: the staff check and the staff language on every turn.
        make_pager=lambda owner, render, pages: StaffPager(
            owner, render, pages, custom_id=f"admin-wallet:{interaction.id}"
        ),
    )


async def _move(
    interaction: discord.Interaction[OrderBot],
    member: discord.Member,
    amount: str,
    currency: str | None,
    note: str,
    *,
    credit: bool,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    if member.bot:
        raise InvalidInput(_("Bots have no store credit."))
    money = read_amount(interaction, amount, currency)
    signed_money = money if credit else Money(-money.minor, money.currency)
    change = await interaction.client.wallet.adjust(
        staff_id=interaction.user.id,
        member_id=member.id,
        amount=signed_money,
        note=note,
        interaction_id=interaction.id,
    )
    if change.repeated:
        await interaction.followup.send(
            _(
                "This was already done ({amount}); {member}'s balance is {balance}.",
                amount=signed(change.amount),
                member=member.mention,
                balance=change.balance.format(),
            ),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return
    # The member reads the DM in their language, not the staff's.
    with speaking(await member_language(interaction.client, member.id)):
        title = _("💰 Store credit added") if credit else _("Store credit taken off")
        embed = movement_embed(title, change, note)
    told = await dm_member(interaction, member.id, embed, f"staff:{interaction.id}")
    if credit:
        done = _(
            "Credited {member} **{amount}**; balance now {balance}.",
            member=member.mention,
            amount=signed(change.amount),
            balance=change.balance.format(),
        )
    else:
        done = _(
            "Debited {member} **{amount}**; balance now {balance}.",
            member=member.mention,
            amount=signed(change.amount),
            balance=change.balance.format(),
        )
    await interaction.followup.send(
        f"{done} {told}",
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@app_commands.command(name="credit", description="Add store credit after a member paid you")
@app_commands.describe(
    member="Who paid",
    amount="As you'd write it: 12.50, ₹199, 5 USD (no thousands separators)",
    currency="Needed when the amount has no symbol and the shop sells in several currencies",
    note="What it was for (the member and the ledger show it)",
)
@app_commands.autocomplete(currency=currency_autocomplete)
async def credit_wallet(
    interaction: discord.Interaction[OrderBot],
    member: discord.Member,
    amount: app_commands.Range[str, 1, 30],
    note: app_commands.Range[str, 1, 200],
    currency: app_commands.Range[str, 3, 3] | None = None,
) -> None:
    await _move(interaction, member, amount, currency, note, credit=True)


@app_commands.command(
    name="debit", description="Take store credit off (e.g. correct a wrong credit)"
)
@app_commands.describe(
    member="Whose credit",
    amount="As you'd write it: 12.50, ₹199, 5 USD (no thousands separators)",
    currency="Needed when the amount has no symbol and the shop sells in several currencies",
    note="Why (the member and the ledger show it)",
)
@app_commands.autocomplete(currency=currency_autocomplete)
async def debit_wallet(
    interaction: discord.Interaction[OrderBot],
    member: discord.Member,
    amount: app_commands.Range[str, 1, 30],
    note: app_commands.Range[str, 1, 200],
    currency: app_commands.Range[str, 3, 3] | None = None,
) -> None:
    await _move(interaction, member, amount, currency, note, credit=False)


@app_commands.command(name="refund", description="Refund a wallet-paid order, fully or in part")
@app_commands.describe(
    order_id="The order id, or start typing the buyer's name",
    amount="How much (default: everything still paid), e.g. 150 or ₹150",
)
@app_commands.autocomplete(order_id=order_autocomplete)
async def refund_order(
    interaction: discord.Interaction[OrderBot],
    order_id: str,
    amount: app_commands.Range[str, 1, 30] | None = None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    money: Money | None = None
    if amount is not None:
        order = await bot.staff_orders.get(order_id)
        money = read_amount(interaction, amount, None, order.total.currency)
    change = await bot.wallet.refund_order(
        staff_id=interaction.user.id,
        order_id=order_id,
        amount=money,
        interaction_id=interaction.id,
    )
    assert change.order is not None
    values = {
        "amount": change.amount.format(),
        "order_id": change.order.id,
        "user_id": change.order.user_id,
        "balance": change.balance.format(),
    }
    if change.repeated:
        text = _(
            "This was already done: Refunded **{amount}** of order `{order_id}` to "
            "<@{user_id}>'s store credit (balance now {balance}). They get a DM.",
            **values,
        )
    else:
        text = _(
            "Refunded **{amount}** of order `{order_id}` to <@{user_id}>'s store credit "
            "(balance now {balance}). They get a DM.",
            **values,
        )
    await interaction.followup.send(
        text,
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


# What this module adds to /admin (cogs.admin's setup attaches it), /admin wallet first.
COMMANDS: Additions = (
    (admin_group, wallet_group),
    (wallet_group, view_wallet),
    (wallet_group, credit_wallet),
    (wallet_group, debit_wallet),
    (order_group, refund_order),
)
