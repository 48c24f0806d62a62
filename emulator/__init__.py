"""A local Discord (REST + gateway) that the unmodified discord.py client connects to.

    async with Emulator() as emu:
        redirect_discord_py(emu.base_url)
        ...  # start the bot with emu.token, then drive users:
        driven = await emu.send_slash_command(emu.world.buyer_id, "orders")
        reply = await driven.wait_for_response()

See docs/emulator.md.
"""

from .base import StoredFile
from .contract import ContractChecker, ContractViolation
from .faults import Fault
from .interactions import DrivenInteraction, OptionError
from .redirect import redirect_discord_py
from .rest_base import RequestRecord, Upload
from .server import DEFAULT_TOKEN, Emulator
from .world import World

__all__ = [
    "DEFAULT_TOKEN",
    "ContractChecker",
    "ContractViolation",
    "DrivenInteraction",
    "Emulator",
    "Fault",
    "OptionError",
    "RequestRecord",
    "StoredFile",
    "Upload",
    "World",
    "redirect_discord_py",
]
