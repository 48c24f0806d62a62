"""The playground's stack (`make playground`, demo/playground.py): the sandboxes, the
emulator with its web front (emulator/web), and the real bot in a process of its own, with
the personas the page offers and a panel per provider."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.catalog import load_catalog
from core.domain import Money, PaymentMode
from demo.journeys import stack_env
from demo.payments import PaymentSandboxes
from demo.playground_panels import OrderPanel, PaymentPanel
from demo.shop import credit_text
from demo.stack import LocalStack
from emulator.server import Emulator, random_token
from emulator.web.app import Persona, PlaygroundWeb
from sandbox.runner import SandboxCluster


class Playground:
    """The stack with the page: ``async with Playground(workdir, catalog) as p: p.url``."""

    def __init__(self, workdir: Path, catalog_path: Path, *, port: int = 0) -> None:
        self.workdir = workdir
        self.catalog = load_catalog(catalog_path, setting="--catalog")
        self.buyers: list[int] = []
        #: What each buyer was credited at the start, per currency (`starting_credit`).
        self.credited: dict[str, Money] = {}
        self.stack = LocalStack(
            workdir,
            env=stack_env(catalog_path),
            emulator=Emulator(port=port, token=random_token()),
            sandbox=SandboxCluster(port=0, loopback_only=True),
            payments=PaymentSandboxes(loopback_only=True),
            # The bot's jobs come round sooner: a status moved in a panel reaches the
            # buyer in a second or two, not a minute. What it does is the same.
            fast=True,
        )
        self.web: PlaygroundWeb | None = None

    @property
    def url(self) -> str:
        assert self.web is not None, "start the playground first"
        return self.web.url

    def set_the_scene(self) -> PlaygroundWeb:
        emu = self.stack.emulator
        world = emu.world
        # The channel buyers shop in is #shop here.
        shop = world.channels[world.general_channel_id]
        shop.name, shop.topic = "shop", "Buy here: /boost, /buy, /wallet, /orders"
        world.channels[world.notice_channel_id].name = "notices"
        closed = emu.add_member("quiet_buyer", global_name="Quiet Buyer")
        self.buyers = [world.buyer_id, world.buyer2_id, closed]
        emu.set_dms_closed(closed)
        member = emu.add_member("curious_member", global_name="Curious Member")
        personas = [
            Persona(world.buyer_id, "Buyer"),
            Persona(world.buyer2_id, "Second buyer"),
            Persona(closed, "Buyer with closed DMs", "the bot can't DM them"),
            Persona(world.staff_id, "Staff", "has the staff role"),
            Persona(member, "Member without the staff role"),
        ]
        sandbox = self.stack.sandbox
        titles = {
            "boost": "Boost reseller",
            "checkout": "Checkout (digital goods)",
            "digital_shop": "Digital shop",
            "namefi": "Namefi (domains)",
        }
        panels: list[OrderPanel | PaymentPanel] = [
            OrderPanel(sandbox.state(name), name, title) for name, title in titles.items()
        ]
        assert self.stack.payments is not None
        panels.append(PaymentPanel(self.stack.payments.razorpay))
        return emu.serve_playground(
            personas=personas,
            channels=[world.general_channel_id, world.staff_channel_id, world.notice_channel_id],
            panels=panels,
        )

    async def start(self) -> None:
        stack = self.stack
        self.web = self.set_the_scene()
        await stack.start()
        await self.starting_credit()

    async def starting_credit(self) -> None:
        """Each buyer starts with store credit for a few orders, so the shop can be tried
        at once: staff credit it with `/admin wallet credit` in #staff, as after a payment,
        through Discord like everything else (the lines are in #staff to see)."""
        wanted: dict[str, int] = {}
        for product in self.catalog.enabled():
            if product.payment not in (None, PaymentMode.WALLET):
                continue
            order = product.unit_price * max(product.min_quantity, 1)
            wanted[product.currency] = max(wanted.get(product.currency, 0), order * 5)
        for currency, minor in sorted(wanted.items()):
            money = Money(minor, currency)
            for buyer in self.buyers:
                await self.stack.credit(
                    buyer, credit_text(money), note="playground starting credit"
                )
            self.credited[currency] = money

    async def stop(self) -> None:
        await self.stack.stop()

    @property
    def bot_pid(self) -> int | None:
        process = self.stack.process
        return process.pid if process is not None else None

    async def until_stopped_or_bot_exits(self, stopping: asyncio.Event) -> int | None:
        """Wait for Ctrl+C (None) or for the bot's process to end (its exit status)."""
        process = self.stack.process
        assert process is not None
        exited = asyncio.ensure_future(process.wait())
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exited, stopped):
                task.cancel()
        return process.returncode if not stopping.is_set() else None

    async def __aenter__(self) -> Playground:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
