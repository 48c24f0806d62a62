"""Fault injection: what a provider sandbox does wrong on purpose.

:class:`Fault` is one queued fault (its kind, how many requests it affects, which ones it
matches, and the kind's parameters: ``Retry-After``, trickle speed, body size, a raw reply...).
:func:`respond_with_fault` answers a provider request under the fault taken for it: an error
status instead of the work, or the work done and then the reply delayed, trickled, bloated,
rewritten (a wrong id, no delivery data) or replaced. The queue itself lives on
:class:`sandbox.state.ProviderState`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from aiohttp import web

from sandbox.util import JSON_CONTENT_TYPE, Handler, is_int, is_number, json_response

if TYPE_CHECKING:
    from sandbox.state import ProviderState

log = logging.getLogger(__name__)

WEIRD_STATUS = "WEIRD_NEW_STATE"
MALFORMED_BODY = b'{"status": tru'
GARBAGE_BODY: dict[str, Any] = {"unexpected": 1}

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "hang",
    "malformed",
    "unknown_status",
    "auth",
    "garbage_shape",
    "rejected",
    "trickle",
    "huge_body",
    "conflict",
    "wrong_id",
    "no_delivery",
    "raw",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

#: Set on a request when an ``unknown_status`` fault applies; handlers render this status.
STATUS_OVERRIDE = web.RequestKey("sandbox_status_override", str)


@dataclass(slots=True)
class Fault:
    """An injected fault; the first queued fault matching a request is applied to it.

    ``count`` is how many requests it affects (``-1``: until cleared). ``method`` and
    ``path_prefix`` (relative to the provider app) narrow which requests it matches.
    ``retry_after`` is the ``Retry-After`` value of a ``rate_limit`` fault (default 1 second);
    ``retry_after_header`` sends that header verbatim instead (``"inf"``, ``"1e308"``, an HTTP
    date years ahead: what a broken provider really sends).
    ``trickle`` answers the real reply one byte every ``seconds`` / body length (``seconds``,
    default 10); ``huge_body`` answers 200 with ``size_mb`` MiB of JSON (default 50), with a
    Content-Length unless ``chunked``; with ``gzip`` it is sent gzip-compressed (about a
    thousandth of the size on the wire, chunked, ``Content-Encoding: gzip``).
    ``conflict`` answers 409 in the provider's error shape without doing anything (what an
    API says when it already holds an order under the id sent). ``wrong_id`` does the work
    and answers the real reply with the order's ``id`` replaced by ``id_value`` (default: a
    fresh id of this provider), as a provider that ignored or mixed up ids would.
    ``no_delivery`` answers the real reply without ``deliveryData`` and ``items``.
    ``raw`` does the work, then answers ``body`` verbatim with ``status`` (default 200) and
    ``headers``: a gzip header on a body that isn't gzip, a JSON integer of 5,000 digits.
    """

    kind: FaultKind
    count: int = 1
    retry_after: float | None = None
    method: str | None = None
    path_prefix: str | None = None
    retry_after_header: str | None = None
    seconds: float | None = None
    size_mb: float | None = None
    id_value: str | None = None
    body: str | None = None
    status: int | None = None
    headers: dict[str, str] | None = None
    chunked: bool = False
    gzip: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if not is_int(self.count) or (self.count < 1 and self.count != -1):
            raise ValueError("count must be a positive integer, or -1 for 'until cleared'")
        if self.retry_after is not None and (
            not is_number(self.retry_after) or self.retry_after < 0
        ):
            raise ValueError("retry_after must be a non-negative number of seconds")
        if self.method is not None:
            if not isinstance(self.method, str) or not self.method:
                raise ValueError("method must be a non-empty string")
            self.method = self.method.upper()
        if self.path_prefix is not None and (
            not isinstance(self.path_prefix, str) or not self.path_prefix.startswith("/")
        ):
            raise ValueError("path_prefix must be a string starting with '/'")
        if self.retry_after_header is not None and (
            not isinstance(self.retry_after_header, str) or "\n" in self.retry_after_header
        ):
            raise ValueError("retry_after_header must be a one-line string")
        for name in ("seconds", "size_mb"):
            value = getattr(self, name)
            if value is not None and (not is_number(value) or value <= 0):
                raise ValueError(f"{name} must be a positive number")
        if self.id_value is not None and not isinstance(self.id_value, str):
            raise ValueError("id_value must be a string")
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError("body must be a string")
        if self.status is not None and (not is_int(self.status) or not 100 <= self.status <= 599):
            raise ValueError("status must be an HTTP status code")
        if self.headers is not None and (
            not isinstance(self.headers, dict)
            or not all(
                isinstance(k, str) and isinstance(v, str) and "\n" not in k + v
                for k, v in self.headers.items()
            )
        ):
            raise ValueError("headers must map one-line strings to one-line strings")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        fields = {"kind", "count", "retry_after", "method", "path_prefix"}
        fields |= {"retry_after_header", "seconds", "size_mb", "id_value"}
        fields |= {"body", "status", "headers", "chunked", "gzip"}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if "kind" not in data:
            raise ValueError("kind is required")
        count = data.get("count")
        return cls(
            kind=data["kind"],
            count=1 if count is None else count,
            retry_after=data.get("retry_after"),
            method=data.get("method"),
            path_prefix=data.get("path_prefix"),
            retry_after_header=data.get("retry_after_header"),
            seconds=data.get("seconds"),
            size_mb=data.get("size_mb"),
            id_value=data.get("id_value"),
            body=data.get("body"),
            status=data.get("status"),
            headers=data.get("headers"),
            chunked=bool(data.get("chunked", False)),
            gzip=bool(data.get("gzip", False)),
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def retry_after_value(self) -> str:
        if self.retry_after_header is not None:
            return self.retry_after_header
        value = 1.0 if self.retry_after is None else float(self.retry_after)
        return str(int(value)) if value.is_integer() else str(value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def respond_with_fault(
    state: ProviderState, request: web.Request, handler: Handler, fault: Fault | None
) -> web.StreamResponse:
    kind = fault.kind if fault is not None else None
    if fault is not None and kind == "rate_limit":
        return state.error_response(429, headers={"Retry-After": fault.retry_after_value()})
    if kind == "server_error":
        return state.error_response(500)
    if kind == "auth":
        return state.error_response(401)
    if kind == "rejected":
        return state.rejection_response()
    if kind == "conflict":
        return state.error_response(409)
    if kind == "unknown_status":
        request[STATUS_OVERRIDE] = WEIRD_STATUS

    response: web.StreamResponse
    if not state.is_authorized(request):
        response = state.error_response(401)
    else:
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            log.exception(
                "%s sandbox handler failed on %s %s", state.name, request.method, request.path
            )
            response = state.error_response(500)

    if kind == "raw" and fault is not None:
        return web.Response(
            body=(fault.body or "").encode(),
            status=fault.status or 200,
            headers={"Content-Type": JSON_CONTENT_TYPE, **(fault.headers or {})},
        )
    if kind in ("wrong_id", "no_delivery") and fault is not None:
        return _rewritten(state, response, fault)
    if kind == "huge_body" and fault is not None:
        if fault.gzip:
            return await _huge_gzip_body(request, fault.size_mb or 50.0)
        return await _huge_body(request, fault.size_mb or 50.0, chunked=fault.chunked)
    if kind == "trickle" and fault is not None and isinstance(response, web.Response):
        # The work is done; the answer arrives a byte at a time, never idle long enough to
        # trip a per-read timeout.
        return await _trickle(request, response, fault.seconds or 10.0)
    if kind == "hang":
        # The work is done (a POST has created its order); the answer is just very late.
        await asyncio.sleep(state.hang_seconds)
    elif kind == "malformed":
        return web.Response(body=MALFORMED_BODY, status=200, content_type=JSON_CONTENT_TYPE)
    elif kind == "garbage_shape":
        return json_response(GARBAGE_BODY)
    return response


def _order_object(body: Any) -> dict[str, Any] | None:
    """The object describing the order in a reply: ``data`` (boost, digital shop),
    ``order`` (Namefi) or the body itself (checkout)."""
    if not isinstance(body, dict):
        return None
    for key in ("data", "order"):
        inner = body.get(key)
        if isinstance(inner, dict) and "id" in inner:
            return inner
    return body if "id" in body else None


def _rewritten(
    state: ProviderState, response: web.StreamResponse, fault: Fault
) -> web.StreamResponse:
    """The real reply, edited as the ``wrong_id`` / ``no_delivery`` fault says."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    try:
        body = json.loads(response.body)
    except ValueError:
        return response
    order = _order_object(body)
    if order is None:
        return response
    if fault.kind == "wrong_id":
        order["id"] = fault.id_value if fault.id_value is not None else state.new_order_id()
    else:
        order["deliveryData"] = None
        order.pop("items", None)
    return json_response(body, status=response.status)


async def _trickle(
    request: web.Request, response: web.Response, seconds: float
) -> web.StreamResponse:
    body = bytes(response.body or b"") if isinstance(response.body, bytes) else b""
    out = web.StreamResponse(status=response.status, headers=response.headers)
    out.content_length = len(body)
    await out.prepare(request)
    pause = seconds / max(len(body), 1)
    for i in range(len(body)):
        await out.write(body[i : i + 1])
        await asyncio.sleep(pause)
    await out.write_eof()
    return out


async def _huge_body(
    request: web.Request, size_mb: float, *, chunked: bool = False
) -> web.StreamResponse:
    chunk = b" " * 65536
    total = int(size_mb * 1024 * 1024)
    out = web.StreamResponse(status=200, headers={"Content-Type": JSON_CONTENT_TYPE})
    if chunked:
        out.enable_chunked_encoding()
    else:
        out.content_length = total + 2
    await out.prepare(request)
    await out.write(b"{")
    sent = 0
    try:
        while sent < total:
            piece = chunk[: min(len(chunk), total - sent)]
            await out.write(piece)
            sent += len(piece)
        await out.write(b"}")
        await out.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client stopped reading, as it should
    return out


@functools.cache
def _gzipped_whitespace(size_mb: float) -> tuple[bytes, ...]:
    """`{`, `size_mb` MiB of spaces and `}`, gzip-compressed once per size and kept: packing
    64 MiB costs a busy machine a second, long enough for a client's read timeout to fire
    before the fault has said anything."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    parts = [packer.compress(b"{")]
    parts += [packer.compress(block) for _ in range(int(size_mb * 1024 * 1024) // len(block))]
    parts.append(packer.compress(b"}") + packer.flush())
    return tuple(part for part in parts if part)


async def _huge_gzip_body(request: web.Request, size_mb: float) -> web.StreamResponse:
    """`size_mb` MiB of JSON whitespace, gzip-compressed: a few KiB on the wire."""
    out = web.StreamResponse(
        status=200, headers={"Content-Type": JSON_CONTENT_TYPE, "Content-Encoding": "gzip"}
    )
    out.enable_chunked_encoding()
    await out.prepare(request)
    try:
        for packed in _gzipped_whitespace(size_mb):
            await out.write(packed)
        await out.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return out
