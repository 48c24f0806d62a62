"""The pagers under /orders and /admin orders turn, through the emulator, against the real
bot process: the next page replaces the first in the same message, and the buttons follow
(their labels and custom ids as they have always been)."""

from __future__ import annotations

from demo.stack import LocalStack
from tests.e2e.helpers import button, button_ids, embed_text
from tests.e2e.journeys import press


async def test_buyer_and_staff_lists_turn_their_pages(stack: LocalStack) -> None:
    emu = stack.emulator
    world = emu.world
    namefi = stack.sandbox.state("namefi")
    for _ in range(11):  # 11 orders: /admin orders shows 10 a page, /orders 5
        remote = namefi.create_order(timeline=[{"after": 0, "status": "CREATED"}])
        await stack.staff_link_order("namefi", remote, world.buyer_id)

    listed, first = await stack.admin("orders")
    assert "Page 1 of 2" in embed_text(first)
    turned = await press(
        stack, world.staff_id, first, button(first, f"admin-orders:{listed.id}:next")
    )
    second = await turned.wait_for_original(lambda m: "Page 2 of 2" in embed_text(m))
    labels = {
        c["custom_id"]: (c["label"], c.get("disabled", False))
        for row in second["components"]
        for c in row["components"]
    }
    assert labels == {
        f"admin-orders:{listed.id}:prev": ("Previous", False),
        f"admin-orders:{listed.id}:next": ("Next", True),
    }

    listing = await emu.send_slash_command(world.buyer_id, "orders")
    page = await listing.wait_for_followup(timeout=10)
    assert "Page 1 of 3" in embed_text(page)
    older = button_ids(page)[1]
    turned = await press(stack, world.buyer_id, page, older)
    second = await turned.wait_for_original(lambda m: "Page 2 of 3" in embed_text(m))
    assert [c["label"] for row in second["components"] for c in row["components"]] == [
        "◀ Newer",
        "Older ▶",
    ]
