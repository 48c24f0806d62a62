"""Who may order, and how often: BUYER_ROLE_ID and ORDER_COOLDOWN_SECONDS."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import NotAllowed
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot


class OrderCooldowns:
    """ORDER_COOLDOWN_SECONDS between a buyer's orders, counted from an order actually
    started (a confirmation shown): a request refused before that, a typo in a quantity
    or a phone number, costs the buyer nothing."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until: dict[int, float] = {}

    def check(self, user_id: int) -> None:
        left = self._until.get(user_id, 0.0) - time.monotonic()
        if left > 0:
            raise app_commands.CommandOnCooldown(app_commands.Cooldown(1, self.seconds), left)

    def charge(self, user_id: int) -> None:
        if self.seconds <= 0:
            return
        now = time.monotonic()
        if len(self._until) > 10_000:  # forget finished cooldowns, now and then
            self._until = {u: t for u, t in self._until.items() if t > now}
        self._until[user_id] = now + self.seconds


def buyer_refusal(interaction: discord.Interaction[OrderBot]) -> None:
    """BUYER_ROLE_ID: only members with that role may order (commands and Confirm)."""
    role_id = interaction.client.settings.buyer_role_id
    if role_id is None:
        return
    roles = getattr(interaction.user, "roles", None) or []
    if role_id not in {role.id for role in roles}:
        raise NotAllowed(
            _(
                "Only members with the <@&{role_id}> role can order in this shop. Ask staff "
                "how to get it. Nothing was ordered.",
                role_id=role_id,
            )
        )
