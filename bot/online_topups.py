"""Online top-ups in a running process (issue 28): the payment clients the settings turn
on, the service, its jobs, and the webhook endpoint.

- Every process that runs jobs reconciles open top-ups and finishes stored webhook
  events a crash left unapplied.
- The webhook endpoint is served by the process holding the gateway (`run`, or
  `run --no-workers` beside workers), only when PAYMENT_WEBHOOK_LISTEN is set. Without
  it, reconciliation alone credits every payment: no public URL is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.payment_webhooks import WebhookSecrets, build_webhook_app
from bot.payments.base import PaymentClient
from bot.payments.razorpay import build_razorpay
from bot.payments.stripe import build_stripe
from bot.services.topups import TopupService
from core.crypto import DeliveryCipher
from storage.database import Database

log = logging.getLogger(__name__)


class WebhookListenFailed(Exception):
    """PAYMENT_WEBHOOK_LISTEN names an address this process can't listen on."""


def build_payment_clients(settings: Settings) -> dict[str, PaymentClient]:
    clients: dict[str, PaymentClient] = {}
    if settings.razorpay_key_id is not None and settings.razorpay_key_secret is not None:
        clients["razorpay"] = build_razorpay(
            str(settings.razorpay_api_base_url).rstrip("/"),
            settings.razorpay_key_id,
            settings.razorpay_key_secret,
            timeout=settings.provider_timeout_seconds,
        )
    if settings.stripe_secret_key is not None:
        clients["stripe"] = build_stripe(
            str(settings.stripe_api_base_url).rstrip("/"),
            settings.stripe_secret_key,
            timeout=settings.provider_timeout_seconds,
        )
    return clients


@dataclass
class OnlineTopups:
    service: TopupService
    clients: dict[str, PaymentClient]
    webhook: web.AppRunner | None = None
    jobs: list[tuple[str, Callable[[], Awaitable[Any]], str]] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        db: Database,
        cipher: DeliveryCipher,
        *,
        owner: str | None,
        serve_webhooks: bool,
        sold: Iterable[str] = (),
    ) -> OnlineTopups | None:
        """None when no payment provider is configured (top-ups stay staff credits)."""
        clients = build_payment_clients(settings)
        if not clients:
            return None
        service = TopupService(
            db,
            clients,
            currencies=settings.top_up_currencies(sold),
            cipher=cipher,
            owner=owner,
            timings=settings.timings,
        )
        running = cls(service, clients)
        running.jobs = [
            ("topups", service.reconcile_due_topups, "top-up reconciliation"),
            ("topup-events", service.apply_pending_events, "stored payment events"),
        ]
        listen = settings.webhook_listen()
        if serve_webhooks and listen is not None:
            runner = web.AppRunner(
                build_webhook_app(service, WebhookSecrets(settings.webhook_secrets())),
                access_log=None,  # request lines would carry nothing useful, and no bodies
            )
            await runner.setup()
            try:
                await web.TCPSite(runner, listen[0], listen[1]).start()
            except OSError as exc:
                await runner.cleanup()
                await running.aclose()
                raise WebhookListenFailed(
                    f"the payment webhook endpoint can't listen on {listen[0]}:{listen[1]} "
                    f"({exc.strerror or exc}): free the port or change PAYMENT_WEBHOOK_LISTEN"
                ) from None
            running.webhook = runner
            log.info("payment webhooks served on %s:%d", *listen)
        return running

    async def aclose(self) -> None:
        if self.webhook is not None:
            await self.webhook.cleanup()
            self.webhook = None
        for client in self.clients.values():
            try:
                await client.aclose()
            except Exception:
                log.exception("closing the %s payment client failed", client.name)
