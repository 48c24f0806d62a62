"""The Razorpay sandbox beside the stack (issue 28): a payment provider the bot tops up
wallets through, with the bot's webhook endpoint on a free local port.

`webhooks=False` is the shop with no public URL: the sandbox never reaches the bot, and
reconciliation alone credits every payment."""

from __future__ import annotations

import socket

from aiohttp import web

from sandbox.razorpay import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
    create_app,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class RazorpaySandbox:
    def __init__(self, *, webhooks: bool = True) -> None:
        self.state = RazorpayState()
        self.webhooks = webhooks
        self.webhook_port = free_port() if webhooks else None
        self.url: str | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(create_app(self.state), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._runner = runner
        if self.webhook_port is not None:
            self.state.webhook_url = f"http://127.0.0.1:{self.webhook_port}/webhooks/razorpay"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def bot_env(self) -> dict[str, str]:
        assert self.url is not None, "start the sandbox first"
        env = {
            "RAZORPAY_KEY_ID": DEFAULT_KEY_ID,
            "RAZORPAY_KEY_SECRET": DEFAULT_KEY_SECRET,
            "RAZORPAY_API_BASE_URL": self.url,
            # Newest first: a rotated secret still verifies the sandbox's deliveries.
            "RAZORPAY_WEBHOOK_SECRETS": f"a-newer-secret,{DEFAULT_WEBHOOK_SECRET}",
        }
        if self.webhook_port is not None:
            env["PAYMENT_WEBHOOK_LISTEN"] = f"127.0.0.1:{self.webhook_port}"
        return env
