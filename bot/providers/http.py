"""The HTTP plumbing every adapter shares: one call, bounded in time and size, turned into
its decoded JSON body or the error taxonomy (bot/providers/errors.py).

`_request` owns the retry of idempotent calls and the rule that a non-idempotent create
that may have been received is reported as ambiguous instead of retried. A reply is read
up to MAX_BODY_BYTES (inflated with a bound when it comes compressed), and a Retry-After
is clamped to MAX_RETRY_AFTER.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import re
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.providers.errors import (
    InvalidRemoteId,
    ProviderAuthError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmissionAmbiguous,
)
from bot.providers.models import MAX_PROVIDER_MESSAGE
from core.crash_points import crash_point

log = logging.getLogger(__name__)

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)

DEFAULT_RETRY_AFTER = 30.0
# No provider can make us wait longer than this, whatever its Retry-After says (`inf`,
# `1e308`, a date years ahead): the value would become every open order's next poll.
MAX_RETRY_AFTER = 600.0
# A reply bigger than this is not an order: reading stops there (a protocol error).
MAX_BODY_BYTES = 1024 * 1024
# The whole call (connect, send, every read) ends by then, whatever the per-read timeout:
# a provider trickling bytes can't hold one longer.
DEFAULT_DEADLINE = 10.0


def parse_retry_after(header: str | None, body: Any = None) -> float:
    """Seconds to wait, from `Retry-After` (seconds or an HTTP date) or the body, clamped to
    0..MAX_RETRY_AFTER (see `requested_retry_after` for what the provider asked)."""
    return min(requested_retry_after(header, body), MAX_RETRY_AFTER)


def requested_retry_after(header: str | None, body: Any = None) -> float:
    """What the provider asked for, unclamped but never negative or NaN (may be inf)."""
    if header:
        try:
            value = float(header)
        except ValueError:
            value = None
            try:
                parsed = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError, IndexError, OverflowError):
                parsed = None
            if parsed is not None:
                try:
                    value = parsed.timestamp() - time.time()
                except (OverflowError, ValueError, OSError):
                    value = math.inf
        if value is not None and not math.isnan(value):
            return max(0.0, value)
    if isinstance(body, dict):
        for key in ("retry_after", "retryAfter"):
            raw = body.get(key)
            if isinstance(raw, int | float) and not isinstance(raw, bool) and not math.isnan(raw):
                try:
                    return max(0.0, float(raw))
                except OverflowError:
                    return math.inf
        data = body.get("data")
        if isinstance(data, dict):
            return requested_retry_after(None, data)
    return DEFAULT_RETRY_AFTER


class ProviderHttp(ABC):
    """One provider's HTTP client and how its calls go: the base of every adapter
    (bot/providers/base.py). Subclasses set `name` and say which parts of an error body
    are safe to show (`_error_message`)."""

    name: str
    # GET retries for idempotent calls: attempts in total, and the first backoff.
    max_attempts = 3
    retry_backoff = 0.2
    # The whole of one call; set from PROVIDER_TIMEOUT_SECONDS by build_adapter.
    deadline = DEFAULT_DEADLINE
    # Statuses that mean "our key is refused". Namefi's 403 means "not your order"
    # (its contract: the user must own the order), so it says (401,).
    auth_statuses: tuple[int, ...] = (401, 403)

    def __init__(self, client: httpx.AsyncClient, secret: SecretStr) -> None:
        self._client = client
        self._secret = secret
        # Paces every request this adapter sends (each try of each call), when several
        # processes share the provider's rate (bot.services.rate_limits). Waiting for a
        # slot doesn't count against the call's deadline.
        self.rate_limit: AbstractAsyncContextManager[None] | None = None

    @abstractmethod
    def _error_message(self, body: Any) -> str | None:
        """A short summary of an error body made only of the provider's codes, field
        names and messages it is known to send: never its free text, which may echo the
        buyer's input (a phone number, an email) into logs, the timeline and staff
        alerts. None when nothing in the body is safe to show."""

    def _is_error_body(self, body: dict[str, Any]) -> bool:
        """Whether a JSON error body has this API's own shape (so a 404 came from the
        API, not from a web server in front of the wrong URL). Adapters whose contract
        shows its error envelope say so more strictly."""
        return True

    # Messages this provider is known to send (lower case) -> how we say them.
    KNOWN_MESSAGES: dict[str, str] = {}

    def _known(self, message: object) -> str | None:
        if not isinstance(message, str):
            return None
        return self.KNOWN_MESSAGES.get(" ".join(message.split()).lower())

    def _safe_text(self, text: str) -> str:
        """Provider-supplied text, trimmed, with our credential scrubbed out of it."""
        secret = self._secret.get_secret_value()
        if secret:
            text = text.replace(secret, "[redacted]")
        return " ".join(text.split())[:MAX_PROVIDER_MESSAGE]

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        idempotent: bool,
        ok_statuses: tuple[int, ...] = (200,),
        attempts: int | None = None,
        form_body: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one call and return its decoded JSON body, or raise the taxonomy.

        Idempotent calls are retried on unavailability with backoff (`attempts` in all,
        max_attempts by default). A non-idempotent call that may have reached the
        provider raises SubmissionAmbiguous.
        """
        attempts = (attempts or self.max_attempts) if idempotent else 1
        # Whether an earlier try of this call may have reached the provider (a timeout or
        # a 5xx, not a refused connection). A refusal to a later try then doesn't mean
        # "nothing happened": the caller must know (see ProviderError.earlier_send).
        earlier_send = False
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(
                    method, path, json_body, idempotent, ok_statuses, form_body, headers
                )
            except ProviderUnavailable as exc:
                exc.earlier_send = earlier_send
                if attempt == attempts:
                    raise
                earlier_send = earlier_send or exc.sent
                delay = self.retry_backoff * (2 ** (attempt - 1)) * (0.5 + random.random())
                log.info(
                    "%s %s %s unavailable (%s); retry %d/%d in %.2fs",
                    self.name,
                    method,
                    path,
                    exc.message,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
            except ProviderError as exc:
                exc.earlier_send = earlier_send
                raise
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        method: str,
        path: str,
        json_body: Any,
        idempotent: bool,
        ok_statuses: tuple[int, ...],
        form_body: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        sent = False
        if self.rate_limit is not None:
            async with self.rate_limit:
                pass  # a slot is ours: send now
        try:
            async with asyncio.timeout(self.deadline):
                try:
                    request = self._client.build_request(
                        method,
                        path,
                        json=json_body,
                        data=dict(form_body) if form_body is not None else None,
                        headers=dict(headers) if headers is not None else None,
                    )
                except httpx.InvalidURL:
                    # Built from an order id; nothing was sent.
                    raise InvalidRemoteId(self.name, "the order id makes an invalid URL") from None
                sent = True
                response = await self._client.send(request, stream=True)
                if method == "POST":
                    crash_point("create.sent")
                try:
                    content = await self._read_capped(response)
                finally:
                    await response.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: safe to report as unavailable for any call.
            raise ProviderUnavailable(
                self.name, f"cannot connect ({type(exc).__name__})", sent=False
            ) from None
        except (TimeoutError, httpx.TimeoutException, httpx.TransportError) as exc:
            what = "no complete answer in time" if isinstance(exc, TimeoutError) else "no answer"
            if not idempotent and sent:
                raise SubmissionAmbiguous(
                    self.name, f"{what} after sending ({type(exc).__name__})"
                ) from None
            raise ProviderUnavailable(
                self.name, f"{what} ({type(exc).__name__})", sent=sent
            ) from None
        except httpx.DecodingError:
            # The body arrived but doesn't decode (a broken gzip, say): the provider's fault,
            # and it may have acted on a create.
            raise ProviderProtocolError(self.name, "a reply that does not decode") from None
        return self._decode(
            response.status_code,
            response.headers,
            content,
            idempotent=idempotent,
            ok_statuses=ok_statuses,
        )

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The body, decoded, or a protocol error once it passes MAX_BODY_BYTES. Raw bytes
        are read and decompressed here with a bound on the output: httpx would inflate a
        whole network chunk at once, and 64 KiB of gzip can be 64 MiB of zeros."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ProviderProtocolError(
                self.name, f"a reply of {int(declared):,} bytes (the limit is {MAX_BODY_BYTES:,})"
            )
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            decoder = None
        elif encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            decoder = zlib.decompressobj()
        else:
            raise ProviderProtocolError(
                self.name, f"a reply in an encoding we don't read ({encoding[:20]})"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            async for raw in response.aiter_raw():
                piece = (
                    raw if decoder is None else decoder.decompress(raw, MAX_BODY_BYTES - size + 1)
                )
                size += len(piece)
                if size > MAX_BODY_BYTES or (decoder is not None and decoder.unconsumed_tail):
                    raise ProviderProtocolError(
                        self.name, f"a reply over {MAX_BODY_BYTES:,} bytes; reading stopped there"
                    )
                chunks.append(piece)
            if decoder is not None:
                tail = decoder.flush(MAX_BODY_BYTES - size + 1)
                if size + len(tail) > MAX_BODY_BYTES:
                    raise ProviderProtocolError(
                        self.name, f"a reply over {MAX_BODY_BYTES:,} bytes; reading stopped there"
                    )
                chunks.append(tail)
        except zlib.error:
            raise ProviderProtocolError(self.name, "a reply that does not decode") from None
        return b"".join(chunks)

    def _decode(
        self,
        status: int,
        headers: httpx.Headers,
        content: bytes,
        *,
        idempotent: bool,
        ok_statuses: tuple[int, ...],
    ) -> Any:
        try:
            body: Any = json.loads(content) if content else None
            parse_failed = False
        except (ValueError, RecursionError):
            # Not JSON, not UTF-8, or JSON Python refuses (an integer of 5,000 digits).
            body, parse_failed = None, True
        provider_text = self._error_message(body) if isinstance(body, dict) else None
        detail = f"HTTP {status}" + (f": {self._safe_text(provider_text)}" if provider_text else "")
        if status in ok_statuses:
            if parse_failed or body is None:
                raise ProviderProtocolError(
                    self.name, f"HTTP {status} with a body that is not JSON"
                )
            return body
        if status == 429:
            asked = requested_retry_after(headers.get("Retry-After"), body)
            retry_after = min(asked, MAX_RETRY_AFTER)
            raise ProviderRateLimited(
                self.name,
                "rate limited",
                retry_after,
                asked=asked if asked > MAX_RETRY_AFTER else None,
            )
        if status in self.auth_statuses:
            raise ProviderAuthError(self.name, f"{detail} (check the API key)")
        if status >= 500 or status == 408:
            if not idempotent:
                # The provider may have processed it before failing; don't guess.
                raise SubmissionAmbiguous(self.name, detail)
            raise ProviderUnavailable(self.name, detail)
        if 400 <= status < 500:
            raise ProviderRejected(
                self.name,
                detail,
                status_code=status,
                user_message=self._safe_text(provider_text) if provider_text else "",
                from_api=isinstance(body, dict) and self._is_error_body(body),
            )
        raise ProviderProtocolError(self.name, f"unexpected HTTP {status}")

    def _parse(self, model: type[BaseModelT], body: Any) -> BaseModelT:
        """Validate a body against the contract's model. On mismatch, the error names
        fields only: pydantic's own message would echo the input (maybe credentials)."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            fields = sorted(
                {
                    ".".join(str(p) for p in e["loc"]) or "(body)"
                    for e in exc.errors(include_input=False)
                }
            )
            raise ProviderProtocolError(
                self.name, f"reply does not match the contract (fields: {', '.join(fields)[:200]})"
            ) from None


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\[\]-]{0,63}$")


def identifier(value: object) -> str | None:
    """A provider's code or field name (`NOT_FOUND`, `contact.phone_number`), or None for
    anything that could be free text."""
    return value if isinstance(value, str) and IDENTIFIER.match(value) else None


def build_client(
    base_url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One client per provider, created once: explicit timeouts and connection limits."""
    return httpx.AsyncClient(
        base_url=base_url,
        # Uncompressed, please: a compressed reply is a way to send 1,000 times its size
        # (one that comes anyway is inflated with a bound, see _read_capped).
        headers={"Accept": "application/json", "Accept-Encoding": "identity", **headers},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        transport=transport,
        follow_redirects=False,
    )
