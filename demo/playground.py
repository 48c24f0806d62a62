"""`make playground` / `orderbot playground [--catalog FILE]`: try the bot in a browser.

Starts the sandbox providers, the Razorpay sandbox, the Discord emulator with its web
front (emulator/web) and the real bot (`python -m bot run`, a process of its own), with
the given catalog, then prints one local address. The page there looks and works enough
like Discord to use the shop as a buyer, a second buyer, a buyer with closed DMs, staff,
or a member without the staff role, in English or Hindi, and has a panel per provider to
move orders along, pay top-ups and inject faults (docs/playground.md).

Nothing here reads the owner's `.env` or environment: the bot gets the sandboxes' and the
emulator's addresses only (demo/stack.py), so nothing it does leaves 127.0.0.1.

This module is the command line alone, on the standard library: Ctrl+C at any moment,
even while the rest is still being imported, stops it without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path


async def serve(workdir: Path, catalog_path: Path, port: int) -> int:
    from demo.playground_stack import Playground
    from demo.stack import BotProcessError

    # What the emulator and the sandboxes log goes to a file, not over the address.
    handler = logging.FileHandler(workdir / "playground.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)

    print("Starting the sandbox providers, the Discord emulator and the bot…", flush=True)
    playground = Playground(workdir, catalog_path, port=port)
    starting = asyncio.ensure_future(playground.start())
    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        if not starting.done():
            starting.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
    try:
        try:
            await starting
        except asyncio.CancelledError:
            print("Stopped before the playground was ready.", flush=True)
            return 0
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
        return 0
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
    finally:
        await playground.stop()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    # Until the event loop takes them over: SIGTERM stops it as Ctrl+C does, cleanly.
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(
        prog="orderbot playground", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
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
        from bot.catalog import load_catalog
        from bot.config import ConfigError
        from demo.__main__ import SHIPPED_CATALOG

        catalog = args.catalog or SHIPPED_CATALOG
        try:
            load_catalog(catalog, setting="--catalog")
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
            print(
                f"--workdir {workdir} can't be used as a folder ({exc.strerror})", file=sys.stderr
            )
            return 2
        return asyncio.run(serve(workdir.resolve(), catalog.resolve(), args.port))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
