"""``python -m sandbox [--host 127.0.0.1] [--port 0] [--only NAME]``

Serves the provider sandboxes until SIGINT/SIGTERM. Once listening it prints one JSON line to
stdout, ``{"boost": url, "checkout": url, "namefi": url, "digital_shop": url}`` (only the
served ones), so a parent process can read the URLs. Logs go to stderr.

API keys default to the demo keys and can be set with the environment variables
``SANDBOX_BOOST_KEY``, ``SANDBOX_CHECKOUT_KEY``, ``SANDBOX_NAMEFI_TOKEN`` and
``SANDBOX_DIGITAL_KEY``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence

from sandbox import boost, checkout, digital_shop, namefi
from sandbox.runner import PROVIDER_NAMES, SandboxCluster

log = logging.getLogger("sandbox")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Run the provider sandbox servers."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free)")
    parser.add_argument(
        "--only",
        choices=[*PROVIDER_NAMES, "digital-shop"],
        help="serve a single sandbox at the root instead of all four under prefixes",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    env = os.environ
    cluster = SandboxCluster(
        args.host,
        args.port,
        boost_key=env.get("SANDBOX_BOOST_KEY", boost.DEFAULT_KEY),
        checkout_key=env.get("SANDBOX_CHECKOUT_KEY", checkout.DEFAULT_KEY),
        namefi_token=env.get("SANDBOX_NAMEFI_TOKEN", namefi.DEFAULT_TOKEN),
        digital_key=env.get("SANDBOX_DIGITAL_KEY", digital_shop.DEFAULT_KEY),
        only=args.only,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    try:
        sys.stdout.write(json.dumps(cluster.urls()) + "\n")
        sys.stdout.flush()
        await stop.wait()
        log.info("sandbox stopping")
    finally:
        await cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
