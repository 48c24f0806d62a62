"""The payment webhook endpoint (issue 28): a small aiohttp server, off unless the owner
turns it on, listening where they say (behind their reverse proxy).

For each delivery, in this order:

1. read the raw body, at most MAX_BODY_BYTES (413 past it);
2. verify its signature against every webhook secret, newest first: 401 with nothing
   written when it is missing or wrong;
3. read the event, store it once per event id, answer 200 (503 when it could not be
   stored, so the provider delivers it again). A signed body that isn't an event this
   bot reads is stored too, unapplied, with a staff alert: it is the provider's, and a
   4xx would only have it retried for days;
4. then apply it (credit, end, reverse). Applying is safe to repeat, and an event stored
   but not applied (a crash, an error) is finished by the `apply_pending_events` job.

Bodies are never logged, at any level: they name the payer. A log line says which
provider, which event id and what was refused, by name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from bot.payments.base import EventUnreadable
from bot.payments.signatures import SignatureRefused, verify_razorpay, verify_stripe
from bot.services.topups import TopupService

log = logging.getLogger(__name__)

# Razorpay's and Stripe's events are a few KiB; a body past this is not one of theirs.
MAX_BODY_BYTES = 256 * 1024
PATH = "/webhooks/{provider}"


@dataclass(frozen=True, slots=True)
class WebhookSecrets:
    """Each provider's webhook secrets, newest first (a rotation keeps the old one
    listed until the provider's retries signed with it are over)."""

    by_provider: Mapping[str, Sequence[SecretStr]]


def _verify(
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[SecretStr],
    now: float,
) -> None:
    if provider == "razorpay":
        verify_razorpay(body, headers.get("X-Razorpay-Signature"), secrets)
    elif provider == "stripe":
        verify_stripe(body, headers.get("Stripe-Signature"), secrets, now=now)
    else:
        raise AssertionError(provider)


def unreadable_event_id(provider: str, body: bytes, headers: Mapping[str, str]) -> str:
    """An id for a signed event that can't be read: the provider's own when it can be
    found (Razorpay's header, Stripe's `id`), else the body's hash (a retry of the same
    body is then the same event)."""
    given = headers.get("X-Razorpay-Event-Id") if provider == "razorpay" else None
    if given is None:
        try:
            found = json.loads(body).get("id")
        except (ValueError, AttributeError):
            found = None
        given = found if isinstance(found, str) else None
    if given and len(given) <= 64 and given.isascii() and given.isprintable():
        return given
    return "sha256:" + hashlib.sha256(body).hexdigest()[:48]


def build_webhook_app(
    service: TopupService,
    secrets: WebhookSecrets,
    *,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        client = service.clients.get(provider)
        provider_secrets = secrets.by_provider.get(provider) or ()
        if client is None or not provider_secrets:
            return web.json_response({"error": "unknown webhook"}, status=404)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            # The whole body, however many reads it arrives in (`content.read(n)` returns
            # what is buffered so far); the app's client_max_size caps it.
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            _verify(provider, body, request.headers, provider_secrets, clock())
        except SignatureRefused as exc:
            log.warning("%s webhook refused: %s", provider, exc.problem.value)
            return web.json_response({"error": "signature refused"}, status=401)
        try:
            event = client.parse_event(body, request.headers)
        except EventUnreadable as exc:
            # Signed by the provider, so it is theirs: stored and answered 2xx (a 4xx
            # would only make them retry it for days), read again later, staff told.
            event_id = unreadable_event_id(provider, body, request.headers)
            log.warning(
                "%s webhook %s has a verified signature but can't be read (%s): stored",
                provider,
                event_id,
                exc,
            )
            try:
                await service.store_unreadable(provider, event_id, body)
            except Exception:
                log.exception("%s webhook event %s could not be stored", provider, event_id)
                return web.json_response({"error": "try again"}, status=503)
            return web.json_response({"ok": True, "stored": "unreadable"})
        try:
            stored = await service.store_event(provider, event, body)
        except Exception:
            # Not stored: a 5xx makes the provider deliver it again.
            log.exception("%s webhook event %s could not be stored", provider, event.event_id)
            return web.json_response({"error": "try again"}, status=503)
        if stored is None:
            log.info("%s webhook %s %s (again)", provider, event.kind, event.event_id)
            return web.json_response({"ok": True})
        # Stored: answer now (Razorpay waits 5 s at most), then apply it. A crash or an
        # error from here on is finished by apply_pending_events.
        response = web.json_response({"ok": True})
        await response.prepare(request)
        await response.write_eof()
        try:
            applied = await service.apply_stored(stored)
        except Exception:
            log.exception("%s webhook event %s: applying failed", provider, event.event_id)
        else:
            outcome = "applied" if applied else "waits for its payment's credit"
            log.info("%s webhook %s %s %s", provider, event.kind, event.event_id, outcome)
        return response

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(PATH, receive)
    return app
