"""The one interface every provider adapter implements, and the shared HTTP plumbing.

Adapters are thin: they build the provider's request, send it through `_request`, and
turn the reply into a `ProviderOrder`. `_request` owns the error taxonomy, the retry of
idempotent calls, and the rule that a non-idempotent create that may have been received
is reported as ambiguous instead of retried.
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
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.providers.errors import (
    InvalidRemoteId,
    ProviderAuthError,
    ProviderCapabilityError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmissionAmbiguous,
)
from core.crash_points import crash_point
from core.domain import Delivery, Money, OrderStatus

log = logging.getLogger(__name__)

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)

DEFAULT_RETRY_AFTER = 30.0
# No provider can make us wait longer than this, whatever its Retry-After says (`inf`,
# `1e308`, a date years ahead): the value would become every open order's next poll.
MAX_RETRY_AFTER = 600.0
MAX_PROVIDER_MESSAGE = 200
MAX_RAW_STATUS = 64
# A reply bigger than this is not an order: reading stops there (a protocol error).
MAX_BODY_BYTES = 1024 * 1024
# The whole call (connect, send, every read) ends by then, whatever the per-read timeout:
# a provider trickling bytes can't hold one longer.
DEFAULT_DEADLINE = 10.0
# Keys whose values are secrets in some provider's payload; scrubbed from the raw
# payload we keep for the timeline.
SECRET_PAYLOAD_KEYS = frozenset(
    {"deliveryData", "content", "encryptedEppAuthorizationCode", "contact", "phone_number"}
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    can_create: bool
    can_poll: bool
    # The create call carries our own id, so re-sending it can never make a second order.
    idempotent_create: bool
    # Staff may link an existing order of this provider to a member (tracking).
    can_link: bool


@dataclass(frozen=True, slots=True)
class CreateRequest:
    order_id: str  # our id; idempotent providers receive it as theirs
    product_key: str
    product_name: str
    quantity: int
    unit_price: Money
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"invite_code": ...}
    contact: Mapping[str, str] | None = None  # e.g. {"phone_number": ...}
    options: Mapping[str, Any] = field(default_factory=dict)  # catalog provider options

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity

    def __repr__(self) -> str:
        # Contact details are personal data: keep them out of reprs and logs.
        return (
            f"CreateRequest(order_id={self.order_id!r}, product_key={self.product_key!r}, "
            f"quantity={self.quantity}, contact={'<hidden>' if self.contact else None})"
        )


@dataclass(frozen=True, slots=True)
class PreparedCreate:
    """A create request exactly as it goes on the wire, built once when the buyer confirms.

    It is frozen in the order row (encrypted: it carries contact details), so a re-send
    after a lost reply is byte for byte the first send, whatever happened to the catalog
    since. `our_id` is the id we asked an idempotent provider to use; its answer must
    echo it."""

    method: str
    path: str
    body: dict[str, Any]
    our_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"method": self.method, "path": self.path, "body": self.body, "our_id": self.our_id},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> PreparedCreate:
        data = json.loads(text)
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            body=dict(data["body"]),
            our_id=data.get("our_id"),
        )

    def __repr__(self) -> str:
        return f"PreparedCreate({self.method} {self.path}, our_id={self.our_id!r}, body=<hidden>)"


@dataclass(frozen=True, slots=True)
class ProviderOrder:
    """One normalized view of a provider's order, whatever the provider.

    `status` is None when the provider reported a status we don't know: the order is
    still open, and `raw_status` holds the provider's word so staff can be told.
    """

    remote_id: str
    status: OrderStatus | None
    raw_status: str
    status_message: str | None = None
    price: str | None = None  # as the provider stated it; informational, never summed
    currency: str | None = None
    delivery: Delivery | None = field(default=None, repr=False)
    # The provider says the order is done but its goods aren't in the reply yet (a
    # digital-goods order completed without its credentials): not final for us.
    delivery_missing: bool = False
    # The reply as received. Private: it may hold credentials. Use `raw`.
    payload: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # What a provider says is stored and shown: never unbounded, whatever it sends.
        object.__setattr__(self, "raw_status", str(self.raw_status)[:MAX_RAW_STATUS])
        if self.status_message is not None:
            object.__setattr__(
                self, "status_message", " ".join(self.status_message.split())[:MAX_PROVIDER_MESSAGE]
            )

    @property
    def unknown_status(self) -> bool:
        return self.status is None

    @property
    def raw(self) -> dict[str, Any]:
        """The provider's payload for the timeline, scrubbed of secret-bearing fields.
        Computed on demand: most polls never need it."""
        scrubbed = scrub_payload(self.payload)
        return scrubbed if isinstance(scrubbed, dict) else {}

    def __repr__(self) -> str:
        return (
            f"ProviderOrder(remote_id={self.remote_id!r}, status={self.status}, "
            f"raw_status={self.raw_status!r}, delivery={'<redacted>' if self.delivery else None})"
        )


def scrub_payload(value: Any) -> Any:
    """Copy of a provider payload without secret-bearing fields (kept for the timeline)."""
    if isinstance(value, dict):
        return {
            k: (
                "<redacted>"
                if k in SECRET_PAYLOAD_KEYS and v not in (None, "", [])
                else scrub_payload(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub_payload(v) for v in value]
    return value


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


class ProviderAdapter(ABC):
    """Base of every adapter. Subclasses set `name`, `capabilities` and implement the
    operations they support; the rest of the bot asks `capabilities`, never the name."""

    name: str
    capabilities: Capabilities
    # GET retries for idempotent calls: attempts in total, and the first backoff.
    max_attempts = 3
    retry_backoff = 0.2
    # The whole of one call; set from PROVIDER_TIMEOUT_SECONDS by build_adapter.
    deadline = DEFAULT_DEADLINE

    def __init__(self, client: httpx.AsyncClient, secret: SecretStr) -> None:
        self._client = client
        self._secret = secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def probe(self, *, within: float) -> None:
        """Does the provider answer at all? One GET of its base URL: any HTTP reply (a
        404 included) means it is up; raises httpx.HTTPError / TimeoutError when not.
        Only the start-up self-check calls it; the reply is not read beyond its head."""
        async with asyncio.timeout(within):
            async with self._client.stream("GET", "/", timeout=within) as reply:
                del reply

    # --- operations --------------------------------------------------------------------

    def prepare_create(self, request: CreateRequest) -> PreparedCreate:
        """The create call for `request`, checked but not sent. Raises ProviderRejected
        for a request this provider would refuse (nothing has been sent then)."""
        raise ProviderCapabilityError(self.name, "this provider cannot create orders")

    async def send_create(self, prepared: PreparedCreate) -> ProviderOrder:
        """Send a prepared create (the first time or again) and read the answer."""
        raise ProviderCapabilityError(self.name, "this provider cannot create orders")

    async def create_order(self, request: CreateRequest) -> ProviderOrder:
        return await self.send_create(self.prepare_create(request))

    async def get_order(self, remote_id: str) -> ProviderOrder:
        raise ProviderCapabilityError(self.name, "this provider cannot be polled")

    def check_remote_id(self, remote_id: str) -> str | None:
        """A friendly problem with an order id a staff member typed, or None if it looks
        right. Checked before any request so a typo never reaches the provider."""
        return None if remote_id.strip() else "the order id is empty"

    # --- plumbing for subclasses -------------------------------------------------------

    def is_usable_id(self, remote_id: object) -> bool:
        """One of this provider's ids exactly as given (no surrounding whitespace)."""
        return (
            isinstance(remote_id, str)
            and remote_id == remote_id.strip()
            and self.check_remote_id(remote_id) is None
        )

    def _path_id(self, remote_id: str) -> str:
        """`remote_id`, if it is one of this provider's ids; it goes into a request path,
        so anything else (`../x`, `a?b`, a megabyte) is refused before any request."""
        if not self.is_usable_id(remote_id):
            raise InvalidRemoteId(
                self.name, f"stored order id {_shown_id(remote_id)} is not a {self.name} id"
            )
        return remote_id

    # Whether this provider's ids ignore case (UUIDs); otherwise ids compare exactly:
    # `ABCdef123456` and `abcDEF123456` are two digital-shop orders.
    ids_ignore_case = False

    def _check_reply_id(self, asked: str, answered: str) -> None:
        """A reply about another order than the one we asked for is never recorded: it
        could carry somebody else's credentials to our buyer."""
        same = answered.lower() == asked.lower() if self.ids_ignore_case else answered == asked
        if not same:
            raise ProviderProtocolError(
                self.name,
                f"asked about order {_shown_id(asked)} but the reply is about "
                f"{_shown_id(answered)}",
            )

    @abstractmethod
    def _error_message(self, body: Any) -> str | None:
        """A short summary of an error body made only of the provider's codes, field
        names and messages it is known to send: never its free text, which may echo the
        buyer's input (a phone number, an email) into logs, the timeline and staff
        alerts. None when nothing in the body is safe to show."""

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
    ) -> Any:
        """Send one call and return its decoded JSON body, or raise the taxonomy.

        Idempotent calls are retried on unavailability with backoff. A non-idempotent
        call that may have reached the provider raises SubmissionAmbiguous.
        """
        attempts = self.max_attempts if idempotent else 1
        # Whether an earlier try of this call may have reached the provider (a timeout or
        # a 5xx, not a refused connection). A refusal to a later try then doesn't mean
        # "nothing happened": the caller must know (see ProviderError.earlier_send).
        earlier_send = False
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(method, path, json_body, idempotent, ok_statuses)
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
    ) -> Any:
        sent = False
        try:
            async with asyncio.timeout(self.deadline):
                try:
                    request = self._client.build_request(method, path, json=json_body)
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
        if status in (401, 403):
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


def _shown_id(value: object) -> str:
    """An id as it may appear in a log line or a staff message: short and printable."""
    text = str(value)
    shown = "".join(c if c.isprintable() else "?" for c in text[:40])
    return repr(shown + ("…" if len(text) > 40 else ""))


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


__all__ = [
    "Capabilities",
    "CreateRequest",
    "PreparedCreate",
    "ProviderAdapter",
    "ProviderError",
    "ProviderOrder",
    "build_client",
    "parse_retry_after",
    "scrub_payload",
]
