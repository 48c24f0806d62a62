"""/admin order retry|set-status|deliver|resend|link: staff change orders.

Thin: every decision, compare-and-set and audit row is in bot.services.staff_review. Replies
are ephemeral; the service posts what changed as one line in the staff channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.errors import InvalidInput
from bot.services.ordering import ConfirmOutcome
from bot.services.staff_review import SETTABLE
from cogs.admin.access import Additions, order_group
from cogs.admin.ui import StaffModal, StaffView, order_autocomplete
from core.domain import STATUS_LABELS, Delivery, OrderStatus
from core.i18n import _, _n

if TYPE_CHECKING:
    from bot.app import OrderBot

# An attached delivery is read into memory and DMed as a file: keep it reasonable.
MAX_DELIVERY_FILE = 1024 * 1024
LINKABLE = [
    app_commands.Choice(name="Digital shop", value="digital_shop"),
    app_commands.Choice(name="Namefi", value="namefi"),
]


def _outcome_text(outcome: ConfirmOutcome) -> str:
    # Translators: an order's status when it can't be read
    status = outcome.order.status.label if outcome.order else _("unknown")
    return _("{outcome}\nNow: **{status}**.", outcome=outcome.user_message, status=status)


class MarkPlacedModal(StaffModal):
    remote_id: discord.ui.TextInput[Any]

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__(
            # Translators: a form's title, at most 45 characters with the order id
            title=_("Mark {order_id} placed", order_id=order_id),
            custom_id=f"admin-placed:{key}",
        )
        self.remote_id = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("The provider's order id"),
            max_length=100,
            placeholder=_("As the provider shows it"),
            custom_id="placed:remote_id",
        )
        self.add_item(self.remote_id)
        self.order_id = order_id
        self.seen = seen

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await interaction.client.staff_review.mark_placed(
            self.order_id, interaction.user.id, self.remote_id.value, self.seen
        )
        await interaction.followup.send(
            _(
                "Order `{order_id}` is placed at {provider} as `{remote_id}`: "
                "**{status}**. The bot polls it from now on.",
                order_id=order.id,
                provider=order.provider,
                remote_id=order.remote_id,
                status=order.status.label,
            ),
            ephemeral=True,
        )


class MarkFailedModal(StaffModal):
    note: discord.ui.TextInput[Any]

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__(
            # Translators: a form's title, at most 45 characters with the order id
            title=_("Mark {order_id} failed", order_id=order_id),
            custom_id=f"admin-failed:{key}",
        )
        self.note = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("What the buyer is told"),
            style=discord.TextStyle.paragraph,
            max_length=300,
            required=False,
            placeholder=_("The provider did not place this order."),
            custom_id="failed:note",
        )
        self.add_item(self.note)
        self.order_id = order_id
        self.seen = seen

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        order = await interaction.client.staff_review.mark_failed(
            self.order_id, interaction.user.id, self.note.value, self.seen
        )
        await interaction.followup.send(
            _(
                "Order `{order_id}` is **{status}**; the buyer is being told.",
                order_id=order.id,
                status=order.status.label,
            ),
            ephemeral=True,
        )


class ReviewView(StaffView):
    """The three ways to resolve a needs-review order."""

    def __init__(self, order_id: str, seen: float, key: int) -> None:
        super().__init__()
        self.order_id = order_id
        self.seen = seen  # the order's updated_at when these buttons were shown
        self.key = key
        self.resubmit.custom_id = f"admin-review:{key}:resubmit"
        self.placed.custom_id = f"admin-review:{key}:placed"
        self.failed.custom_id = f"admin-review:{key}:failed"
        # Translators: button label, at most 80 characters
        self.resubmit.label = _("Resubmit (the provider has no such order)")
        # Translators: button label (it opens a form), at most 80 characters
        self.placed.label = _("Mark placed…")
        # Translators: button label (it opens a form), at most 80 characters
        self.failed.label = _("Mark failed…")

    @discord.ui.button(style=discord.ButtonStyle.danger)
    async def resubmit(
        self, interaction: discord.Interaction[OrderBot], _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        # The view stays alive: a second press (a double click, another staff member) is
        # refused by the service's compare-and-set, with a message saying why.
        outcome = await interaction.client.staff_review.resubmit(
            self.order_id, interaction.user.id, self.seen
        )
        await interaction.followup.send(_outcome_text(outcome), ephemeral=True)

    @discord.ui.button(style=discord.ButtonStyle.success)
    async def placed(
        self, interaction: discord.Interaction[OrderBot], _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(
            MarkPlacedModal(self.order_id, self.seen, interaction.id)
        )

    @discord.ui.button(style=discord.ButtonStyle.secondary)
    async def failed(
        self, interaction: discord.Interaction[OrderBot], _button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(
            MarkFailedModal(self.order_id, self.seen, interaction.id)
        )


@app_commands.command(
    name="retry", description="Retry a failed submission, or resolve a needs-review order"
)
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=order_autocomplete)
async def retry_order(interaction: discord.Interaction[OrderBot], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    service = interaction.client.staff_orders
    order = await service.get(order_id)
    if order.status is OrderStatus.NEEDS_REVIEW:
        await interaction.followup.send(
            _(
                "Order `{order_id}` needs review: the outcome at **{provider}** is unknown"
                " ({reason}). Check the provider first, then:\n"
                "• **Resubmit** if the provider has no such order: exactly one more request.\n"
                "• **Mark placed** if it has it: give its id and the bot polls it.\n"
                "• **Mark failed** to end the order and tell the buyer.",
                order_id=order.id,
                provider=order.provider,
                reason=(await service.review_reason(order))[:300],
            ),
            view=ReviewView(order.id, order.updated_at, interaction.id),
            ephemeral=True,
        )
        return
    outcome = await interaction.client.staff_review.retry_failed(order.id, interaction.user.id)
    await interaction.followup.send(_outcome_text(outcome), ephemeral=True)


# --- /admin order set-status -----------------------------------------------------------------


@app_commands.command(name="set-status", description="Move an order to another status, with a note")
@app_commands.describe(
    order_id="The order id, or start typing the buyer's name",
    status="The new status (only moves the order's state machine allows)",
    note="Why: shown to the buyer and kept in the timeline",
)
@app_commands.choices(
    status=[app_commands.Choice(name=STATUS_LABELS[s], value=s.value) for s in SETTABLE]
)
@app_commands.autocomplete(order_id=order_autocomplete)
async def set_status(
    interaction: discord.Interaction[OrderBot],
    order_id: str,
    status: str,
    note: app_commands.Range[str, 1, 300],
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    order = await interaction.client.staff_review.set_status(
        order_id, interaction.user.id, OrderStatus(status), note
    )
    if order.status.is_terminal:
        text = _(
            "Order `{order_id}` is now **{status}**. The buyer is being told.",
            order_id=order.id,
            status=order.status.label,
        )
    else:
        text = _(
            "Order `{order_id}` is now **{status}**.", order_id=order.id, status=order.status.label
        )
    await interaction.followup.send(text, ephemeral=True)


# --- /admin order deliver --------------------------------------------------------------------


class DeliverModal(StaffModal):
    text: discord.ui.TextInput[Any]

    def __init__(self, order_id: str, key: int) -> None:
        super().__init__(
            # Translators: a form's title, at most 45 characters with the order id
            title=_("Deliver {order_id}", order_id=order_id),
            custom_id=f"admin-deliver:{key}",
        )
        self.text = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("The delivery (keys, accounts, links…)"),
            style=discord.TextStyle.paragraph,
            max_length=4000,
            custom_id="deliver:text",
        )
        self.add_item(self.text)
        self.order_id = order_id

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _deliver(interaction, self.order_id, self.text.value)


async def _deliver(interaction: discord.Interaction[OrderBot], order_id: str, text: str) -> None:
    order = await interaction.client.staff_review.deliver(
        order_id, interaction.user.id, Delivery.from_text(text.strip())
    )
    await interaction.followup.send(
        _(
            "Order `{order_id}` is **{status}**. The delivery is stored encrypted and "
            "on its way to <@{user_id}> by DM.",
            order_id=order.id,
            status=order.status.label,
            user_id=order.user_id,
        ),
        ephemeral=True,
    )


@app_commands.command(
    name="deliver", description="Deliver an order by hand: type it, or attach a file"
)
@app_commands.describe(
    order_id="The order id, or start typing the buyer's name",
    file="A text file with the delivery (otherwise a form opens to type it)",
)
@app_commands.autocomplete(order_id=order_autocomplete)
async def deliver_order(
    interaction: discord.Interaction[OrderBot],
    order_id: str,
    file: discord.Attachment | None = None,
) -> None:
    if file is None:
        # A modal must be the first answer. The only I/O before it is a local SQLite read,
        # so staff learn at once that an order can't be delivered, before typing anything.
        order = await interaction.client.staff_review.deliverable(order_id)
        await interaction.response.send_modal(DeliverModal(order.id, interaction.id))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    if file.size > MAX_DELIVERY_FILE:
        raise InvalidInput(
            _n(
                "The file is too large ({count} byte); the limit is 1 MB.",
                "The file is too large ({count} bytes); the limit is 1 MB.",
                file.size,
            )
        )
    try:
        text = (await file.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_("Attach a text file (UTF-8): the delivery is sent as text.")) from None
    except discord.HTTPException:
        raise InvalidInput(_("Discord didn't let me read that file; attach it again.")) from None
    await _deliver(interaction, order_id, text)


# --- /admin order resend ---------------------------------------------------------------------


@app_commands.command(name="resend", description="Send the buyer the order's final DM again")
@app_commands.describe(order_id="The order id, or start typing the buyer's name")
@app_commands.autocomplete(order_id=order_autocomplete)
async def resend_order(interaction: discord.Interaction[OrderBot], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    service = interaction.client.staff_orders
    kind = await interaction.client.staff_review.resend(order_id, interaction.user.id)
    order = await service.get(order_id)
    await interaction.followup.send(
        _(
            "The DM for `{order_id}` is on its way to <@{user_id}> again ({kind}).",
            order_id=order.id,
            user_id=order.user_id,
            kind=kind,
        ),
        ephemeral=True,
    )


# --- /admin order link -----------------------------------------------------------------------


@app_commands.command(name="link", description="Track an existing provider order for a member")
@app_commands.describe(
    provider="Where the order was placed",
    remote_id="The provider's order id (digital shop: 12 letters/digits; Namefi: a UUID)",
    member="Who gets the DM when it finishes",
)
@app_commands.choices(provider=LINKABLE)
async def link_order(
    interaction: discord.Interaction[OrderBot],
    provider: str,
    remote_id: app_commands.Range[str, 1, 100],
    member: discord.Member,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    if member.bot:
        raise InvalidInput(_("Link orders to members, not to bots."))
    order = await interaction.client.staff_review.link(
        staff_id=interaction.user.id,
        provider=provider,
        remote_id=remote_id,
        member_id=member.id,
        member_name=member.display_name,
        guild_id=interaction.guild_id,
    )
    await interaction.followup.send(
        _(
            "Linked {provider} `{remote_id}` to {member} as order `{order_id}` "
            "(**{status}**). They get a DM when it finishes.",
            provider=provider,
            remote_id=order.remote_id,
            member=member.mention,
            order_id=order.id,
            status=order.status.label,
        ),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


# What this module adds to /admin (cogs.admin's setup attaches it).
COMMANDS: Additions = (
    (order_group, retry_order),
    (order_group, set_status),
    (order_group, deliver_order),
    (order_group, resend_order),
    (order_group, link_order),
)
