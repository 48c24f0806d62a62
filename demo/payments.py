"""The payment sandboxes beside the stack (issue 28): Razorpay (INR) and, when asked for,
Stripe (every other currency the shop sells), with the bot's webhook endpoint on a free
local port for both.

`webhooks=False` is the shop with no public URL: the sandboxes never reach the bot, and
reconciliation alone credits every payment."""

from __future__ import annotations

import socket

from aiohttp import web

from sandbox.razorpay import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
)
from sandbox.razorpay import create_app as razorpay_app
from sandbox.stripe import DEFAULT_SECRET_KEY as STRIPE_SECRET_KEY
from sandbox.stripe import DEFAULT_WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET
from sandbox.stripe import StripeState
from sandbox.stripe import create_app as stripe_app
from sandbox.util import loopback_only


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _serve(app: web.Application, guarded: bool) -> tuple[web.AppRunner, str]:
    if guarded:
        app.middlewares.insert(0, loopback_only)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class PaymentSandboxes:
    def __init__(
        self, *, webhooks: bool = True, stripe: bool = False, loopback_only: bool = False
    ) -> None:
        # The playground's: Host and Origin checked (sandbox.util.loopback_only).
        self.loopback_only = loopback_only
        self.razorpay = RazorpayState()
        self.stripe = StripeState() if stripe else None
        self.webhooks = webhooks
        self.webhook_port = free_port() if webhooks else None
        self.razorpay_url: str | None = None
        self.stripe_url: str | None = None
        self._runners: list[web.AppRunner] = []

    async def start(self) -> None:
        if self._runners:
            return
        runner, self.razorpay_url = await _serve(razorpay_app(self.razorpay), self.loopback_only)
        self._runners.append(runner)
        if self.stripe is not None:
            runner, self.stripe_url = await _serve(stripe_app(self.stripe), self.loopback_only)
            self._runners.append(runner)
        if self.webhook_port is not None:
            base = f"http://127.0.0.1:{self.webhook_port}/webhooks"
            self.razorpay.webhook_url = f"{base}/razorpay"
            if self.stripe is not None:
                self.stripe.webhook_url = f"{base}/stripe"

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    def bot_env(self) -> dict[str, str]:
        assert self.razorpay_url is not None, "start the sandboxes first"
        env = {
            "RAZORPAY_KEY_ID": DEFAULT_KEY_ID,
            "RAZORPAY_KEY_SECRET": DEFAULT_KEY_SECRET,
            "RAZORPAY_API_BASE_URL": self.razorpay_url,
            # Newest first: a rotated secret still verifies the sandbox's deliveries.
            "RAZORPAY_WEBHOOK_SECRETS": f"a-newer-secret,{DEFAULT_WEBHOOK_SECRET}",
        }
        if self.stripe_url is not None:
            env.update(
                {
                    "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
                    "STRIPE_API_BASE_URL": self.stripe_url,
                    "STRIPE_WEBHOOK_SECRETS": f"whsec_newer,{STRIPE_WEBHOOK_SECRET}",
                }
            )
        if self.webhook_port is not None:
            env["PAYMENT_WEBHOOK_LISTEN"] = f"127.0.0.1:{self.webhook_port}"
        return env
