"""The contact form /buy opens for products whose provider needs a phone number, and the
**Fix it** button that opens it again, filled in, when a field was wrong."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import discord

from bot.catalog import Product
from bot.contact import ContactProblem, parse_contact
from bot.services.ordering import CONFIRMATION_TTL
from bot.tree import report_error
from cogs.ordering.buttons import confirmation_view
from cogs.ordering.checks import OrderCooldowns
from cogs.ordering.embeds import confirmation_embed, is_short
from cogs.ui import BotModal, OwnedView
from core.i18n import N_, _

if TYPE_CHECKING:
    from bot.app import OrderBot

# A contact form whose modal this process doesn't know (it was open longer than
# CONFIRMATION_TTL, or the bot restarted meanwhile) gets this answer instead of silence
# (the Ordering cog's on_interaction). discord.py drops such a submit without a word; a
# known form answers well within it.
ORPHAN_FORM_GRACE = 1.5
FORM_EXPIRED = N_(
    "This form has expired (it was open too long, or the bot restarted). Nothing was "
    "ordered: run `/buy` again."
)
# The custom_id prefixes of the form and of its Fix it button.
FORM_PREFIX = "order:contact:"
FIX_PREFIX = "order:fixcontact:"


# Translators: the title of a form, at most 45 characters
class ContactModal(BotModal, title=N_("Contact details")):
    """What the checkout API requires (a phone number), plus optional name and email.
    Its title and fields are made per form, in the language of the member it opens for."""

    def __init__(
        self,
        product: Product,
        quantity: int,
        interaction_id: int,
        cooldowns: OrderCooldowns,
        typed: dict[str, str] | None = None,
    ) -> None:
        # discord.py keeps open modals by custom_id alone: with a fixed id, two buyers'
        # forms open at once would cross (one shown the other's product, one dropped).
        super().__init__(
            title=_("Contact details"),
            timeout=CONFIRMATION_TTL,
            custom_id=f"{FORM_PREFIX}{interaction_id}",
        )
        # "Fix it": what they typed before, so only the wrong field is retyped.
        typed = typed or {}
        self.phone: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("Phone number"),
            # Translators: example phone numbers in a form field, at most 100 characters
            placeholder=_("98765 43210, or +44 7700 900123 from abroad"),
            default=typed.get("phone") or None,
            min_length=5,
            max_length=25,
            custom_id="contact:phone",
        )
        self.name: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("Name (optional)"),
            default=typed.get("name") or None,
            required=False,
            max_length=80,
            custom_id="contact:name",
        )
        self.email: discord.ui.TextInput[ContactModal] = discord.ui.TextInput(
            # Translators: a form field's label, at most 45 characters
            label=_("Email (optional)"),
            default=typed.get("email") or None,
            required=False,
            max_length=120,
            custom_id="contact:email",
        )
        for field in (self.phone, self.name, self.email):
            self.add_item(field)
        self.product = product
        self.quantity = quantity
        self.cooldowns = cooldowns

    async def submitted(self, interaction: discord.Interaction[OrderBot]) -> None:
        bot = interaction.client
        try:
            try:
                contact = parse_contact(
                    self.phone.value,
                    self.name.value,
                    self.email.value,
                    region=bot.settings.default_phone_region,
                )
            except ContactProblem as problem:
                # Discord allows no form in answer to a form: a button opens it again.
                typed = {
                    "phone": self.phone.value,
                    "name": self.name.value,
                    "email": self.email.value,
                }
                await interaction.response.send_message(
                    # Translators: {problem} is what was wrong with the form, a sentence;
                    # "Fix it" is the label of the button below
                    _(
                        "{problem}\nPress **Fix it**: the form opens again with everything "
                        "you typed, so only that needs changing. Nothing was ordered.",
                        problem=problem.user_message,
                    ),
                    view=FixContactView(
                        self.product, self.quantity, typed, interaction.user.id, self.cooldowns
                    ),
                    ephemeral=True,
                )
                return
            # Checked again here: two forms open at once (a phone and a desktop), or a
            # Fix it pressed after an order was started, must not start a second order
            # inside the cooldown.
            self.cooldowns.check(interaction.user.id)
            await interaction.response.defer(ephemeral=True, thinking=True)
            draft = await bot.ordering.create_draft(
                product=self.product,
                quantity=self.quantity,
                user_id=interaction.user.id,
                buyer_name=interaction.user.display_name,
                guild_id=interaction.guild_id,
                interaction_key=str(interaction.id),
                contact=contact,
            )
            self.cooldowns.charge(interaction.user.id)
            preview = await bot.ordering.payment_preview(draft)
            await interaction.followup.send(
                embed=confirmation_embed(draft, preview, contact=contact),
                view=confirmation_view(draft.id, short=is_short(draft, preview)),
                ephemeral=True,
            )
        except Exception as exc:
            await report_error(interaction, exc)


class FixContactView(OwnedView):
    """The **Fix it** button under a refused contact form: the form again, filled in."""

    def __init__(
        self,
        product: Product,
        quantity: int,
        typed: dict[str, str],
        owner_id: int,
        cooldowns: OrderCooldowns,
    ) -> None:
        super().__init__(owner_id, timeout=CONFIRMATION_TTL)
        self.product = product
        self.quantity = quantity
        self.typed = typed
        self.cooldowns = cooldowns
        # Unique per refused form (discord.py routes a press by custom_id and message).
        self.fix.custom_id = f"{FIX_PREFIX}{owner_id}:{time.monotonic_ns()}"
        self.fix.label = _("Fix it")

    # Translators: button label (opens a refused form again), at most 80 characters
    @discord.ui.button(label=N_("Fix it"), style=discord.ButtonStyle.primary)
    async def fix(
        self, interaction: discord.Interaction[OrderBot], button: discord.ui.Button[Any]
    ) -> None:
        self.cooldowns.check(interaction.user.id)
        await interaction.response.send_modal(
            ContactModal(self.product, self.quantity, interaction.id, self.cooldowns, self.typed)
        )
