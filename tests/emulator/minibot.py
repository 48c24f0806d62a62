"""A minimal real discord.py client for the emulator tests: slash commands, buttons,
selects, modals and a persistent staff view, recording what it saw in `Seen`."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from typing import Any

import discord
from discord import app_commands

from emulator import Emulator

TOKEN = "test-token"


@dataclasses.dataclass
class Seen:
    """What the test bot observed, for assertions from the test side."""

    echo: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    modal_values: list[str] = dataclasses.field(default_factory=list)
    links: list[tuple[discord.abc.User, str]] = dataclasses.field(default_factory=list)
    uploads: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fixes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    orders: list[int] = dataclasses.field(default_factory=list)
    approvals: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    errors: list[BaseException] = dataclasses.field(default_factory=list)
    resumed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class MiniBot(discord.Client):
    def __init__(self, guild_id: int, staff_channel_id: int) -> None:
        intents = discord.Intents.default()
        intents.members = True
        # guild_ready_timeout: otherwise on_ready waits 2 s after the last GUILD_CREATE.
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.guild_id = guild_id
        self.staff_channel_id = staff_channel_id
        self.seen = Seen()
        _register(self)

    async def setup_hook(self) -> None:
        # A persistent view: it handles the buttons of every order message, including
        # those posted before this process started.
        self.add_view(ApprovalView(self.seen))

    async def on_resumed(self) -> None:
        self.seen.resumed.set()


class ConfirmView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, custom_id="confirm")
    async def confirm(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(content="confirmed", view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="cancel")
    async def cancel(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_message("cancelled", ephemeral=True)


class PlanView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.select(
        custom_id="plan",
        options=[
            discord.SelectOption(label="Monthly", value="1m"),
            discord.SelectOption(label="Yearly", value="12m"),
        ],
    )
    async def plan(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        await interaction.response.send_message(f"plan {select.values[0]}", ephemeral=True)

    @discord.ui.button(label="Sold out", disabled=True, custom_id="soldout")
    async def soldout(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        raise AssertionError("a disabled button cannot be clicked")


class PhoneModal(discord.ui.Modal, title="Contact details"):
    phone: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Phone number", custom_id="phone", min_length=5, max_length=20
    )
    note: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Note", custom_id="note", required=False, style=discord.TextStyle.paragraph
    )

    def __init__(self, seen: Seen) -> None:
        super().__init__(custom_id="phone_modal")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.modal_values.append(self.phone.value)
        await interaction.response.send_message(f"phone={self.phone.value}", ephemeral=True)


class LabelModal(discord.ui.Modal, title="Labelled"):
    def __init__(self, seen: Seen) -> None:
        super().__init__(custom_id="label_modal")
        self.seen = seen
        self.code: discord.ui.TextInput[discord.ui.Modal] = discord.ui.TextInput(custom_id="code")
        self.add_item(discord.ui.Label(text="Invite code", component=self.code))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.modal_values.append(self.code.value)
        await interaction.response.send_message(f"code={self.code.value}")


class FixModal(discord.ui.Modal, title="Fix an order"):
    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What is wrong?", custom_id="reason", style=discord.TextStyle.paragraph
    )
    code: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Replacement code", custom_id="code", required=False, max_length=40
    )

    def __init__(self, seen: Seen, custom_id: str) -> None:
        super().__init__(custom_id=custom_id)
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.fixes.append(
            {
                "custom_id": self.custom_id,
                "user_id": interaction.user.id,
                "message_id": interaction.message.id if interaction.message else None,
                "reason": self.reason.value,
                "code": self.code.value,
            }
        )
        await interaction.response.send_message(f"noted: {self.reason.value}", ephemeral=True)


class FixView(discord.ui.View):
    def __init__(self, seen: Seen) -> None:
        super().__init__(timeout=60)
        self.seen = seen

    @discord.ui.button(label="Describe the problem", custom_id="fix_open")
    async def open(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        # One modal per press: a custom_id unique to the interaction keeps concurrent
        # modals (two staff members, two orders) apart.
        await interaction.response.send_modal(FixModal(self.seen, f"fix:{interaction.id}"))


class ApprovalView(discord.ui.View):
    """Approve/Reject on an order message in the staff channel.

    Persistent (no timeout, fixed custom_ids), registered with ``add_view`` at startup.
    """

    def __init__(self, seen: Seen) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.permissions.manage_messages:
            return True
        await interaction.response.send_message("staff only", ephemeral=True)
        return False

    async def _decide(self, interaction: discord.Interaction, decision: str) -> None:
        message = interaction.message
        assert message is not None
        self.seen.approvals.append(
            {
                "decision": decision,
                "user_id": interaction.user.id,
                "message_id": message.id,
                "author_id": message.author.id,
            }
        )
        done = ApprovalView(self.seen)
        for item in done.children:
            assert isinstance(item, discord.ui.Button)
            item.disabled = True
        await interaction.response.edit_message(
            content=f"{message.content}\n{decision} by <@{interaction.user.id}>", view=done
        )
        await interaction.followup.send(f"{decision} order {message.id}", ephemeral=True)

    @discord.ui.button(
        label="Approve", style=discord.ButtonStyle.success, custom_id="order:approve"
    )
    async def approve(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await self._decide(interaction, "approved")

    @discord.ui.button(label="Reject", style=discord.ButtonStyle.danger, custom_id="order:reject")
    async def reject(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await self._decide(interaction, "rejected")


def _register(bot: MiniBot) -> None:
    tree = bot.tree
    guild = discord.Object(bot.guild_id)
    seen = bot.seen

    @tree.command(description="Echo text back", guild=guild)
    @app_commands.describe(text="what to echo", count="a number")
    async def echo(
        interaction: discord.Interaction, text: str, count: app_commands.Range[int, 1, 10] = 1
    ) -> None:
        seen.echo.append(
            {"text": text, "count": count, "user": interaction.user, "id": interaction.id}
        )
        try:
            await interaction.response.send_message(f"echo {text}", ephemeral=True)
        except discord.HTTPException as exc:
            seen.errors.append(exc)
            return
        await interaction.followup.send(f"followup {count}", ephemeral=True)

    @tree.command(description="Defer, then answer", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("done")
        await interaction.followup.send("and more")

    @tree.command(description="Show buttons", guild=guild)
    async def shop(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Buy it?", view=ConfirmView(), ephemeral=True)

    @tree.command(description="Show a select menu", guild=guild)
    async def plans(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Pick a plan", view=PlanView())

    @tree.command(description="Reply, edit, add and delete a followup", guild=guild)
    async def revise(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("draft")
        await interaction.edit_original_response(content="final")
        extra = await interaction.followup.send("temporary", wait=True)
        await extra.edit(content="temporary!")
        await extra.delete()
        original = await interaction.original_response()
        seen.echo.append({"original": original.content})

    @tree.command(description="Ask for a phone number", guild=guild)
    async def form(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(PhoneModal(seen))

    @tree.command(description="Ask with a label modal", guild=guild)
    async def labelled(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(LabelModal(seen))

    async def product_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        catalog = ["netflix-1m", "netflix-12m", "spotify-1m"]
        return [app_commands.Choice(name=p, value=p) for p in catalog if current in p]

    @tree.command(description="Pick a product", guild=guild)
    @app_commands.autocomplete(product=product_autocomplete)
    async def pick(interaction: discord.Interaction, product: str) -> None:
        await interaction.response.send_message(f"picked {product}", ephemeral=True)

    @tree.command(description="DM a user", guild=guild)
    async def notify(interaction: discord.Interaction, user: discord.User) -> None:
        try:
            await user.send("hello from the shop")
        except discord.Forbidden as exc:
            seen.errors.append(exc)
            await interaction.response.send_message(f"forbidden {exc.code}", ephemeral=True)
            return
        await interaction.response.send_message("sent", ephemeral=True)

    @tree.command(description="Post to the staff channel", guild=guild)
    async def announce(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(ephemeral=True)
        staff = bot.get_channel(bot.staff_channel_id)
        assert isinstance(staff, discord.TextChannel)
        await staff.send(text)
        await interaction.followup.send("posted", ephemeral=True)

    @tree.command(description="Send a file", guild=guild)
    async def report(interaction: discord.Interaction) -> None:
        data = io.BytesIO(b"id,status\n1,done\n")
        await interaction.response.send_message(
            "report", file=discord.File(data, filename="report.csv"), ephemeral=True
        )

    @tree.command(description="Staff only", guild=guild)
    @app_commands.default_permissions(manage_messages=True)
    async def staffonly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("welcome, staff", ephemeral=True)

    @tree.command(description="Works in DMs")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"pong {interaction.context.dm_channel}")

    @tree.command(description="Upload a file for the shop", guild=guild)
    async def upload(
        interaction: discord.Interaction, file: discord.Attachment, note: str | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        seen.uploads.append(
            {
                "id": file.id,
                "filename": file.filename,
                "size": file.size,
                "content_type": file.content_type,
                "data": data,
                "note": note,
            }
        )
        await interaction.followup.send(f"got {file.filename} ({len(data)} bytes)")

    @tree.command(description="Report a problem with an order", guild=guild)
    async def fixorder(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "Something wrong with your order?", view=FixView(seen), ephemeral=True
        )

    @tree.command(name="order", description="Place an order for staff approval", guild=guild)
    async def place_order(interaction: discord.Interaction, item: str) -> None:
        await interaction.response.defer(ephemeral=True)
        staff = bot.get_channel(bot.staff_channel_id)
        assert isinstance(staff, discord.TextChannel)
        posted = await staff.send(
            f"Order {item} for <@{interaction.user.id}>", view=ApprovalView(seen)
        )
        seen.orders.append(posted.id)
        await interaction.followup.send(f"order {posted.id} sent to staff", ephemeral=True)

    admin = app_commands.Group(name="admin", description="Staff commands", guild_ids=[bot.guild_id])
    order = app_commands.Group(name="order", description="Orders", parent=admin)

    @order.command(name="link", description="Link an order to a member")
    async def link(interaction: discord.Interaction, member: discord.Member, order_id: str) -> None:
        seen.links.append((member, order_id))
        await interaction.response.send_message(f"linked {order_id} to {member.id}")

    tree.add_command(admin)


async def start_bot(emu: Emulator) -> tuple[MiniBot, asyncio.Task[None]]:
    bot = MiniBot(emu.world.guild_id, emu.world.staff_channel_id)
    await bot.login(emu.token)
    task = asyncio.create_task(bot.connect())
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    await bot.tree.sync(guild=discord.Object(emu.world.guild_id))
    await bot.tree.sync()
    return bot, task
