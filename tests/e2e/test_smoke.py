from __future__ import annotations

from demo.stack import LocalStack


async def test_bot_connects_and_syncs_guild_commands(stack: LocalStack) -> None:
    emu = stack.emulator
    names = {c["name"] for c in emu.commands(emu.world.guild_id)}
    assert {"boost", "buy", "orders", "order"} <= names
    assert emu.commands(None) == []  # never synced globally
    assert "wallet" in names
    # Nothing the owner can't act on: the shop never joins voice.
    assert "voice will NOT be supported" not in stack.bot_log()
    assert "Traceback" not in stack.bot_log()
