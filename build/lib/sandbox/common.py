"""Shared machinery of the sandbox providers.

Every provider app built by :func:`build_app` gets:

* a request log: each request to the provider API is recorded *before* any auth or fault
  handling, so tests can assert exactly what a client sent;
* fault injection: a FIFO queue of :class:`Fault` plus a fixed ``latency``;
* a scenario engine: every order carries a *timeline* of steps
  ``{"after": seconds_since_creation, "status": "X", ...extra}``, and its current state is the
  last step whose ``after`` has elapsed on ``state.clock``. It is computed on read, so there
  are no background tasks and a fake clock makes progression deterministic;
* a control interface under ``/_sandbox/`` (loopback callers only, no auth) that mirrors the
  Python methods of :class:`ProviderState`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeGuard, cast, get_args

from aiohttp import web

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
CONTROL_PREFIX = "/_sandbox"
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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Timeline = list[dict[str, Any]]

#: Set on a request when an ``unknown_status`` fault applies; handlers render this status.
STATUS_OVERRIDE = web.RequestKey("sandbox_status_override", str)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (no charset)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers=headers, content_type=JSON_CONTENT_TYPE)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds, as the provider docs show."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_int(value: Any) -> bool:
    """True for a JSON integer (``bool`` is not an integer here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def keys_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented credential with the expected one."""
    if given is None:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request to a provider API, as it arrived.

    ``path`` is relative to the provider app (``/order/abc`` even when the app is mounted at
    ``/boost``). ``headers`` has lower-case names. ``json`` is the parsed body, or ``None`` when
    the body is empty or not JSON; ``text`` is always the raw body. ``at`` is ``state.clock()``.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    text: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


@dataclass(slots=True)
class SandboxOrder:
    """A stored order: provider-specific ``data`` plus its status timeline."""

    id: str
    data: dict[str, Any]
    timeline: Timeline
    created_at: float
    created_wall: datetime = field(default_factory=lambda: datetime.now(UTC))

    def step_at(self, now: float) -> dict[str, Any]:
        """The last step whose ``after`` has elapsed (the first step before that)."""
        elapsed = now - self.created_at
        current = self.timeline[0]
        for step in self.timeline:
            if step["after"] > elapsed:
                break
            current = step
        return current

    @property
    def created_iso(self) -> str:
        return iso_z(self.created_wall)

    def step_iso(self, step: Mapping[str, Any]) -> str:
        """Wall-clock time at which ``step`` took effect (used for ``updatedAt``)."""
        return iso_z(self.created_wall + timedelta(seconds=float(step["after"])))


class ProviderState:
    """Mutable state of one provider sandbox. Subclasses add the provider's specifics.

    The operations below are also served over HTTP under ``/_sandbox/``.
    """

    name: str = "provider"

    def __init__(
        self,
        api_key: str,
        *,
        clock: Callable[[], float] | None = None,
        hang_seconds: float = 30.0,
        max_recorded: int = 50_000,
    ) -> None:
        self.api_key = api_key
        self.clock: Callable[[], float] = clock or time.monotonic
        self.orders: dict[str, SandboxOrder] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.hang_seconds = hang_seconds
        self.max_recorded = max_recorded
        self.default_timeline: Timeline = self.initial_default_timeline()
        #: Prefix the app is mounted at (set by SandboxCluster); stripped from recorded paths.
        self.mount_prefix = ""

    # -- provider hooks -------------------------------------------------------------------

    def initial_default_timeline(self) -> Timeline:
        return [{"after": 0, "status": "PENDING"}]

    def is_authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def new_order_id(self) -> str:
        return str(uuid.uuid4())

    def check_order_id(self, order_id: Any) -> None:
        """Raise ValueError if ``order_id`` cannot be an id of this provider."""
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("id must be a non-empty string")

    def seed_data(self, order_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Turn control-interface seed fields into the stored ``data`` of an order."""
        return dict(fields)

    def check_step(self, index: int, step: dict[str, Any]) -> None:
        """Validate provider-specific fields of a timeline step (raise ValueError)."""
        message = step.get("statusMessage")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"timeline[{index}].statusMessage must be a string")

    # -- operations (mirrored by the control interface) -------------------------------------

    def validate_timeline(self, raw: Any) -> Timeline:
        if not isinstance(raw, list) or not raw:
            raise ValueError("timeline must be a non-empty list of steps")
        steps: Timeline = []
        for index, step in enumerate(raw):
            if not isinstance(step, dict):
                raise ValueError(f"timeline[{index}] must be an object")
            after = step.get("after")
            if not is_number(after) or after < 0:
                raise ValueError(f"timeline[{index}].after must be a number of seconds >= 0")
            status = step.get("status")
            if not isinstance(status, str) or not status:
                raise ValueError(f"timeline[{index}].status must be a non-empty string")
            self.check_step(index, step)
            steps.append(dict(step))
        steps.sort(key=lambda s: s["after"])
        return steps

    def _fresh_id(self) -> str:
        order_id = self.new_order_id()
        while order_id in self.orders:
            order_id = self.new_order_id()
        return order_id

    def add_order(
        self, data: dict[str, Any], *, order_id: str | None = None, timeline: Any = None
    ) -> SandboxOrder:
        steps = self.default_timeline if timeline is None else self.validate_timeline(timeline)
        if order_id is None:
            order_id = self._fresh_id()
        elif order_id in self.orders:
            raise ValueError(f"order {order_id!r} already exists")
        order = SandboxOrder(
            id=order_id,
            data=data,
            timeline=[dict(s) for s in steps],
            created_at=self.clock(),
        )
        self.orders[order_id] = order
        return order

    def create_order(self, timeline: Any = None, **fields: Any) -> str:
        """Seed an order (``id`` optional, other fields provider-specific); return its id."""
        order_id = fields.pop("id", None)
        if order_id is not None:
            self.check_order_id(order_id)
            if order_id in self.orders:
                raise ValueError(f"order {order_id!r} already exists")
        steps = None if timeline is None else self.validate_timeline(timeline)
        if order_id is None:
            order_id = self._fresh_id()
        data = self.seed_data(order_id, fields)
        return self.add_order(data, order_id=order_id, timeline=steps).id

    def set_default_timeline(self, timeline: Any) -> Timeline:
        self.default_timeline = self.validate_timeline(timeline)
        return self.default_timeline

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> int:
        cleared = len(self.faults)
        self.faults.clear()
        return cleared

    def set_latency(self, seconds: float) -> None:
        if not is_number(seconds) or seconds < 0:
            raise ValueError("seconds must be a number >= 0")
        self.latency = float(seconds)

    def clear_requests(self) -> None:
        self.requests.clear()

    def reset(self) -> None:
        """Forget orders, requests and faults; restore latency and the default timeline."""
        self.orders.clear()
        self.requests.clear()
        self.faults.clear()
        self.latency = 0.0
        self.default_timeline = self.initial_default_timeline()

    def current_step(self, order: SandboxOrder | str) -> dict[str, Any]:
        if isinstance(order, str):
            order = self.orders[order]
        return order.step_at(self.clock())

    def order_status(self, order_id: str) -> str:
        return str(self.current_step(order_id)["status"])

    def describe(self, order: SandboxOrder) -> dict[str, Any]:
        """Control-interface view of a stored order."""
        return {
            "id": order.id,
            "data": order.data,
            "timeline": order.timeline,
            "current": self.current_step(order),
            "createdAt": order.created_iso,
        }

    # -- machinery --------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.matches(method, path):
                if fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        del self.faults[index]
                return fault
        return None

    def relative_path(self, path: str) -> str:
        prefix = self.mount_prefix
        if prefix and path.startswith(prefix):
            return path[len(prefix) :] or "/"
        return path

    async def record(self, request: web.Request, path: str) -> RecordedRequest:
        raw = await request.read() if request.body_exists else b""
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        entry = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            text=raw.decode("utf-8", errors="replace"),
            at=self.clock(),
        )
        self.requests.append(entry)
        excess = len(self.requests) - self.max_recorded
        if excess > self.max_recorded // 10:
            del self.requests[:excess]
        return entry

    def rejection_response(self) -> web.Response:
        """A validation refusal in this provider's shape (the ``rejected`` fault)."""
        return self.error_response(400)

    def error_response(
        self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return json_response(self.error_body(status, message), status=status, headers=headers)

    def status_for(self, request: web.Request, step: Mapping[str, Any]) -> str:
        """The status to render: the step's, unless an ``unknown_status`` fault applies."""
        override = request.get(STATUS_OVERRIDE)
        return override if override is not None else str(step["status"])


async def read_json(request: web.Request) -> Any:
    """Parse the request body as JSON; raise ValueError when it is not JSON."""
    raw = await request.read()
    if not raw:
        raise ValueError("empty body")
    return json.loads(raw)


def _is_loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_control(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


async def _respond(
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


async def _huge_gzip_body(request: web.Request, size_mb: float) -> web.StreamResponse:
    """`size_mb` MiB of JSON whitespace, gzip-compressed: a few KiB on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = web.StreamResponse(
        status=200, headers={"Content-Type": JSON_CONTENT_TYPE, "Content-Encoding": "gzip"}
    )
    out.enable_chunked_encoding()
    await out.prepare(request)
    total = int(size_mb * 1024 * 1024)
    block = b" " * (1024 * 1024)
    try:
        await out.write(packer.compress(b"{"))
        for _ in range(total // len(block)):
            packed = packer.compress(block)
            if packed:
                await out.write(packed)
        await out.write(packer.compress(b"}") + packer.flush())
        await out.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return out


def _provider_middleware(state: ProviderState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = state.relative_path(request.path)
        if _is_control(path):
            if not _is_loopback(request.remote):
                return json_response({"error": "the control interface is loopback-only"}, 403)
            return await handler(request)
        started = time.perf_counter()
        await state.record(request, path)
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        fault = state.take_fault(request.method, path)
        response = await _respond(state, request, handler, fault)
        log.info(
            "%s %s %s -> %s in %.1f ms%s",
            state.name,
            request.method,
            path,
            response.status,
            (time.perf_counter() - started) * 1000,
            f" [fault {fault.kind}]" if fault is not None else "",
        )
        return response

    return middleware


def _control_error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def _control_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await read_json(request)
    except ValueError as exc:
        raise ValueError(f"body must be a JSON object ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return cast(dict[str, Any], body)


def add_control_routes(app: web.Application, state: ProviderState) -> None:
    """Register the ``/_sandbox/`` control endpoints for ``state`` on ``app``."""

    async def create_order(request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            timeline = body.pop("timeline", None)
            order_id = state.create_order(timeline, **body)
        except (ValueError, TypeError) as exc:
            return _control_error(str(exc))
        log.info("%s control: seeded order %s", state.name, order_id)
        return json_response({"id": order_id}, status=201)

    async def list_orders(request: web.Request) -> web.Response:
        return json_response([state.describe(o) for o in state.orders.values()])

    async def get_order(request: web.Request) -> web.Response:
        order = state.orders.get(request.match_info["order_id"])
        if order is None:
            return _control_error("no such order", 404)
        return json_response(state.describe(order))

    async def get_default_timeline(request: web.Request) -> web.Response:
        return json_response({"timeline": state.default_timeline})

    async def put_default_timeline(request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            timeline = state.set_default_timeline(body.get("timeline"))
        except ValueError as exc:
            return _control_error(str(exc))
        return json_response({"timeline": timeline})

    async def list_faults(request: web.Request) -> web.Response:
        return json_response([f.to_dict() for f in state.faults])

    async def add_fault(request: web.Request) -> web.Response:
        try:
            fault = state.add_fault(Fault.from_dict(await _control_body(request)))
        except (ValueError, TypeError) as exc:
            return _control_error(str(exc))
        log.info("%s control: queued fault %s x%s", state.name, fault.kind, fault.count)
        return json_response(fault.to_dict(), status=201)

    async def clear_faults(request: web.Request) -> web.Response:
        return json_response({"cleared": state.clear_faults()})

    async def put_latency(request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            seconds: Any = body.get("seconds")
            state.set_latency(seconds)
        except ValueError as exc:
            return _control_error(str(exc))
        return json_response({"seconds": state.latency})

    async def list_requests(request: web.Request) -> web.Response:
        return json_response([r.to_dict() for r in state.requests])

    async def clear_requests(request: web.Request) -> web.Response:
        state.clear_requests()
        return json_response({"cleared": True})

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        log.info("%s control: reset", state.name)
        return json_response({"reset": True})

    router = app.router
    router.add_post(f"{CONTROL_PREFIX}/orders", create_order)
    router.add_get(f"{CONTROL_PREFIX}/orders", list_orders)
    router.add_get(f"{CONTROL_PREFIX}/orders/{{order_id}}", get_order)
    router.add_get(f"{CONTROL_PREFIX}/default-timeline", get_default_timeline)
    router.add_put(f"{CONTROL_PREFIX}/default-timeline", put_default_timeline)
    router.add_get(f"{CONTROL_PREFIX}/faults", list_faults)
    router.add_post(f"{CONTROL_PREFIX}/faults", add_fault)
    router.add_delete(f"{CONTROL_PREFIX}/faults", clear_faults)
    router.add_put(f"{CONTROL_PREFIX}/latency", put_latency)
    router.add_get(f"{CONTROL_PREFIX}/requests", list_requests)
    router.add_delete(f"{CONTROL_PREFIX}/requests", clear_requests)
    router.add_post(f"{CONTROL_PREFIX}/reset", reset)


def build_app(
    state: ProviderState, add_routes: Callable[[web.UrlDispatcher], None]
) -> web.Application:
    """An app with the provider middleware, control routes, ``add_routes`` and a catch-all.

    The catch-all answers unknown paths with the provider's own 404 error body.
    """
    app = web.Application(middlewares=[_provider_middleware(state)])
    add_control_routes(app, state)
    add_routes(app.router)

    async def not_found(request: web.Request) -> web.Response:
        if _is_control(state.relative_path(request.path)):
            return _control_error("unknown control endpoint", 404)
        return state.error_response(404)

    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
