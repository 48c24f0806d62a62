"""`make playground` / `orderbot playground [--catalog FILE]`: try the bot in a browser.

Starts the sandbox providers, the Razorpay sandbox, the Discord emulator with its web
front (emulator/web) and the real bot (`python -m bot run`, a process of its own), with
the given catalog, then prints one local address. The page there looks and works enough
like Discord to use the shop as a buyer, a second buyer, a buyer with closed DMs, staff,
or a member without the staff role, in English or Hindi, and has a panel per provider to
move orders along, pay top-ups and inject faults.

Nothing here reads the owner's `.env` or environment: the bot gets the sandboxes' and the
emulator's addresses only (demo/stack.py), so nothing it does leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.catalog import load_catalog
from bot.config import ConfigError
from core.domain import Money, PaymentMode
from demo.__main__ import SHIPPED_CATALOG
from demo.journeys import stack_env
from demo.payments import PaymentSandboxes
from demo.playground_panels import OrderPanel, PaymentPanel
from demo.shop import credit_text
from demo.stack import BotProcessError, LocalStack
from emulator.server import Emulator
from emulator.web.app import Persona, PlaygroundWeb


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
            emulator=Emulator(port=port),
            payments=PaymentSandboxes(),
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


async def serve(workdir: Path, catalog_path: Path, port: int) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    print("Starting the sandbox providers, the Discord emulator and the bot…", flush=True)
    playground = Playground(workdir, catalog_path, port=port)
    try:
        async with playground:
            credited = (
                "Each buyer starts with "
                + " and ".join(m.format("en") for m in playground.credited.values())
                + " of store credit (staff credited it in #staff).\n"
                if playground.credited
                else ""
            )
            print(
                f"\nThe playground is ready. Open this address in your browser:\n\n"
                f"    {playground.url}\n\n"
                f"Only this computer can reach it, and only with that address.\n"
                f"Catalog: {catalog_path}\n"
                f"{credited}"
                f"The bot (pid {playground.bot_pid}): its database and log are in {workdir}\n"
                "Ctrl+C stops everything.",
                flush=True,
            )
            bot_exit = await playground.until_stopped_or_bot_exits(stopping)
            if bot_exit is not None:
                # Never a page left talking to a bot that is gone.
                print(
                    f"The bot stopped on its own (exit status {bot_exit}), so the playground "
                    f"stops too. The end of its log ({workdir / 'bot.log'}):\n"
                    + "\n".join(playground.stack.bot_log().splitlines()[-15:]),
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            print("Stopping…", flush=True)
    except BotProcessError as exc:
        print(f"The bot did not start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE and port:
            print(
                f"The playground could not start: port {port} on 127.0.0.1 is in use. "
                "Choose another with --port, or leave --port out for any free one.",
                file=sys.stderr,
            )
        else:
            print(f"The playground could not start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="orderbot playground", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=SHIPPED_CATALOG,
        help="the catalog.toml to sell (default: the shipped example)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the bot's database and log in this folder"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the page's port on 127.0.0.1 (default: any free one)"
    )
    args = parser.parse_args(argv)
    try:
        load_catalog(args.catalog, setting="--catalog")
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print("--port must be between 1 and 65535 (or 0 for any free port)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="orderbot-playground-"))
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"--workdir {workdir} can't be used as a folder ({exc.strerror})", file=sys.stderr)
        return 2
    return asyncio.run(serve(workdir.resolve(), args.catalog.resolve(), args.port))


if __name__ == "__main__":
    sys.exit(main())
