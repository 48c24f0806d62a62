"""``python -m emulator --port 0``: run the emulator standalone.

Prints one JSON line (base URL, token and every seeded id) once listening, then serves until
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys

from .server import DEFAULT_TOKEN, Emulator

log = logging.getLogger(__name__)


async def serve(args: argparse.Namespace) -> None:
    emu = Emulator(
        host=args.host,
        port=args.port,
        token=args.token,
        openapi_spec=args.openapi_spec,
        validate_contract=not args.no_contract,
        ack_deadline=None if args.ack_deadline <= 0 else args.ack_deadline,
    )
    await emu.start()
    info = {
        "base_url": emu.base_url,
        "gateway_url": emu.gateway_url,
        "token": emu.token,
        **{name: str(value) for name, value in emu.world.ids().items()},
    }
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token to accept")
    parser.add_argument("--openapi-spec", default=None, help="path to Discord's openapi.json")
    parser.add_argument("--no-contract", action="store_true", help="skip the contract check")
    parser.add_argument(
        "--ack-deadline", type=float, default=3.0, help="seconds to acknowledge (0: no limit)"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
