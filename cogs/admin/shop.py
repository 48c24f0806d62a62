"""/admin shop pause|resume, /admin providers, /admin workers, /admin stats: staff run
the whole shop.

Thin: the switches are in bot.services.shop, provider health in storage.provider_health,
the figures and the chart in bot.services.stats.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.staff_presenters import providers_embed, stats_embed, workers_embed
from cogs.admin.access import Additions, admin_group, shop_group
from cogs.admin.ui import log_read
from core.i18n import _

if TYPE_CHECKING:
    from bot.app import OrderBot


@app_commands.command(name="pause", description="Stop buyers from ordering (staff work goes on)")
@app_commands.describe(reason="Shown to buyers who try to order, e.g. 'back at 6pm'")
async def pause_shop(
    interaction: discord.Interaction[OrderBot],
    reason: app_commands.Range[str, 1, 200] | None = None,
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    changed = await interaction.client.shop.pause(interaction.user.id, reason)
    if changed:
        paused = _("⏸️ The shop is paused.")
    else:
        paused = _("⏸️ The shop is paused (it was already paused; the reason is updated).")
    if reason:
        answer = _(
            "`/boost`, `/buy` and Confirm now answer buyers with your reason, and nothing new "
            "reaches a provider."
        )
    else:
        answer = _(
            "`/boost`, `/buy` and Confirm now answer buyers with a short notice, and nothing "
            "new reaches a provider."
        )
    going_on = _("Orders already confirmed go on. `/admin shop resume` opens it again.")
    await interaction.followup.send(f"{paused} {answer} {going_on}", ephemeral=True)


@app_commands.command(name="resume", description="Let buyers order again")
async def resume_shop(interaction: discord.Interaction[OrderBot]) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    changed = await interaction.client.shop.resume(interaction.user.id)
    text = (
        _("▶️ The shop is open: buyers can order again.")
        if changed
        else _("The shop was not paused.")
    )
    await interaction.followup.send(text, ephemeral=True)


@app_commands.command(
    name="providers", description="Each provider's health: circuit, errors, holds"
)
async def providers(interaction: discord.Interaction[OrderBot]) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    report = await bot.provider_health_report()
    log_read(interaction, "viewed provider health")
    await interaction.followup.send(embed=providers_embed(report), ephemeral=True)


@app_commands.command(
    name="workers", description="The shop's processes: who is alive, and their jobs' last runs"
)
async def workers(interaction: discord.Interaction[OrderBot]) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    assert bot.process_health is not None
    records = await bot.process_health.report()
    log_read(interaction, "viewed the processes")
    embed = workers_embed(
        records, now=time.time(), stall_after=bot.settings.timings.process_stall_after
    )
    await interaction.followup.send(embed=embed, ephemeral=True)


@app_commands.command(name="stats", description="Orders, revenue and timings, with a chart")
@app_commands.describe(days="How many days back (default 14)")
async def stats(
    interaction: discord.Interaction[OrderBot], days: app_commands.Range[int, 1, 365] = 14
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    figures = await bot.stats.collect(days)
    png = await bot.stats.chart(figures)
    log_read(interaction, f"viewed stats for {days} day(s)")
    name = f"orders-{figures.first_day}-to-{figures.last_day}.png"
    embed = stats_embed(figures)
    embed.set_image(url=f"attachment://{name}")
    await interaction.followup.send(
        embed=embed, file=discord.File(io.BytesIO(png), filename=name), ephemeral=True
    )


# What this module adds to /admin (cogs.admin's setup attaches it).
COMMANDS: Additions = (
    (shop_group, pause_shop),
    (shop_group, resume_shop),
    (admin_group, providers),
    (admin_group, workers),
    (admin_group, stats),
)
