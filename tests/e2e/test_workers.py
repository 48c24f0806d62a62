"""Issue 27: one gateway (`run --no-workers`) and worker processes (`worker`) on one
PostgreSQL, each a real process, through the emulator and the sandboxes.

The gateway answers interactions and places orders; the workers poll, DM, post staff
alerts and recover. Every process records itself in the registry, and a worker killed
with kill -9 is reported to staff by the others.
"""

from __future__ import annotations

import time

import pytest

from demo.stack import LocalStack
from tests.e2e.helpers import (
    assert_exactly_one_dm,
    button,
    db_rows,
    embed_text,
    requests_to,
    run_bot,
    wait_for_row,
    wait_until,
)
from tests.e2e.journeys import boost_draft, place_boost, press, staff_line

GATEWAY = ("run", "--no-workers")
FAST_WATCH = "heartbeat_interval=0.2,process_stall_after=2"

pytestmark = [
    pytest.mark.workers,
    pytest.mark.stack(process=True, command=GATEWAY, env={"TIMINGS": FAST_WATCH}),
    pytest.mark.parametrize(
        "engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
    ),
]


def alive_roles(stack: LocalStack) -> list[str]:
    rows = db_rows(stack, "SELECT role FROM processes WHERE stopped_at IS NULL ORDER BY role")
    return [r["role"] for r in rows]


async def test_workers_do_the_background_work_of_orders_the_gateway_places(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    stack.sandbox.state("boost").set_default_timeline(
        [{"after": 0, "status": "PENDING"}, {"after": 1, "status": "COMPLETED"}]
    )
    order_id = await place_boost(stack, buyer)  # the gateway places it: one POST
    assert len(requests_to(stack, "boost")) == 1
    assert alive_roles(stack) == ["gateway"]
    first, second = await stack.workers.start(), await stack.workers.start()
    assert alive_roles(stack) == ["gateway", "worker", "worker"]
    # A worker polls it to the end and DMs the buyer, once.
    dm = await assert_exactly_one_dm(stack, buyer, order_id)
    assert "completed" in embed_text(dm).lower(), embed_text(dm)
    assert len(requests_to(stack, "boost")) == 1  # never placed twice
    sent_by = [w for w in (first, second) if f"DM for order {order_id}" in w.log()]
    assert len(sent_by) == 1, "exactly one worker sent the DM"
    assert f"DM for order {order_id}" not in stack.bot_log()  # not the gateway
    for worker in (first, second):
        assert "listening for wake-ups" in worker.log(), worker.log()[-3000:]
    # A clean stop is recorded as one, and the gateway is still the only gateway.
    assert await stack.workers.stop(first) == 0
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS n FROM processes WHERE role = 'worker' AND stopped_at IS NOT NULL",
        (),
        lambda r: r["n"] == 1,
    )
    status, said = await run_bot(stack, list(GATEWAY), {})
    assert status == 2 and "Traceback" not in said
    assert "another orderbot run is using this PostgreSQL database" in said
    # The last worker killed with kill -9: the gateway itself tells staff (it posts the
    # staff alerts too, so they arrive when every worker is down).
    assert await stack.workers.stop(second, kill=True) == -9
    alert = await staff_line(stack, "has not been heard from", timeout=30)
    assert f":{second.process.pid}`" in alert["content"]
    _, answer = await stack.admin("workers")
    shown = embed_text(answer)
    assert "🔴" in shown and "⚪" in shown and "🟢" in shown, shown  # dead, stopped, gateway


@pytest.mark.stack(env={"TIMINGS": FAST_WATCH, "PAYMENT_MODE": "approval"})
async def test_the_gateway_answers_the_buttons_of_an_alert_a_worker_posted(
    stack: LocalStack,
) -> None:
    emu = stack.emulator
    buyer = emu.world.buyer_id
    await stack.workers.start()
    confirmation = await boost_draft(stack, buyer)
    await press(stack, buyer, confirmation, button(confirmation, "order:confirm:"))
    (row,) = db_rows(stack, "SELECT id FROM orders")
    order_id = str(row["id"])
    approval = await emu.wait_for_channel_message(
        emu.world.staff_channel_id,
        timeout=15,
        predicate=lambda m: order_id in (m.get("content") or "") and bool(m.get("components")),
    )
    pressed = await emu.press_button(
        emu.world.staff_id, approval, button(approval, "approval:approve:")
    )
    await pressed.wait_for_response()
    note = embed_text(await pressed.wait_for_followup(timeout=15))
    assert "Approved" in note, note
    await wait_for_row(
        stack,
        "SELECT status FROM orders WHERE id = ?",
        (order_id,),
        lambda r: r["status"] in ("submitted", "processing", "completed"),
    )
    assert len(requests_to(stack, "boost")) == 1


def busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window [t, t + 1) of `times`."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


RATES = {"PROVIDER_RATE_PER_SECOND": "5", "DISCORD_RATE_PER_SECOND": "10"}


DONE = {"boost": "COMPLETED", "namefi": "SUCCEEDED", "digital_shop": "COMPLETED"}
PER_PROVIDER = 8


@pytest.mark.stack(env={"TIMINGS": FAST_WATCH, **RATES})
async def test_three_workers_together_keep_to_the_provider_and_discord_rates(
    stack: LocalStack,
) -> None:
    """Three workers that each counted their own rate would poll each provider at 15 a
    second and talk to Discord at 30: shared through PostgreSQL, they stay at 5 and 10
    together. The demand is higher than both (8 pending orders per provider, due every
    second; then 24 completions found at 3 x 5 a second, each owing a DM), so both limits
    are reached, and held."""
    emu = stack.emulator
    buyer = emu.world.buyer_id
    for provider in DONE:
        stack.sandbox.state(provider).set_default_timeline(
            [{"after": 0, "status": "PENDING" if provider != "namefi" else "CREATED"}]
        )
    for _ in range(3):
        await stack.workers.start()
    orders = [await place_boost(stack, buyer) for _ in range(PER_PROVIDER)]
    for provider in ("namefi", "digital_shop"):
        for _ in range(PER_PROVIDER):
            remote = stack.sandbox.state(provider).create_order()
            orders.append(await stack.staff_link_order(provider, remote, buyer))
    boost = stack.sandbox.state("boost")
    await wait_until(
        lambda: len([r for r in boost.requests if r.method == "GET"]) >= 20,
        within=30,
        failure=lambda: f"{len(boost.requests)} requests to boost",
    )
    # Every provider completes every order at once.
    started = time.time()
    for provider, status in DONE.items():
        step = {"after": 0, "status": status}
        if provider == "digital_shop":
            step["deliveryData"] = "KEY-0000"
        for order in stack.sandbox.state(provider).orders.values():
            order.timeline = [step]
    for order_id in orders:
        await assert_exactly_one_dm(stack, buyer, order_id)
    discord = [
        r.at
        for r in emu.requests
        if r.at >= started and not r.path.startswith(("/interactions/", "/webhooks/"))
    ]
    assert len(discord) >= 3 * PER_PROVIDER  # a DM each, and staff alerts
    for provider in DONE:
        polls = [r.at for r in stack.sandbox.state(provider).requests if r.method == "GET"]
        assert busiest_second(polls) == 5, (provider, sorted(polls))
    assert busiest_second(discord) in (9, 10), sorted(discord)  # 10 spaced 1.1/10 s apart
    assert not [r for r in emu.requests if r.status == 429]
