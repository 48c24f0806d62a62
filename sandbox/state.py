"""The state of one provider sandbox: orders and their timelines, the request log, faults.

:class:`ProviderState` holds what a sandbox knows, and each provider subclasses it with its
specifics (auth, error shape, ids, seed fields). Every order (:class:`SandboxOrder`) carries a
*timeline* of steps ``{"after": seconds_since_creation, "status": "X", ...extra}``; its
current state is the last step whose ``after`` has elapsed on ``state.clock``, computed on
read, so there are no background tasks and a fake clock makes progression deterministic.
Each request to the provider API is recorded as a :class:`RecordedRequest` before any auth
or fault handling. The operations here are mirrored over HTTP by ``sandbox.control``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.faults import STATUS_OVERRIDE, Fault
from sandbox.util import is_number, iso_z, json_response

Timeline = list[dict[str, Any]]


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
    #: The statuses an order of this provider can be in, in the order they usually come
    #: (``move_to``); empty where the API has no order status (checkout).
    statuses: tuple[str, ...] = ()

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

    def move_to(self, order_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """The order is in ``status`` from now on (the playground's "next status" button):
        the steps already reached are kept, the ones still to come are dropped, and the
        new step (with any provider-specific ``fields``) takes effect at once."""
        order = self.orders.get(order_id)
        if order is None:
            raise LookupError(f"no order {order_id!r}")
        if status not in self.statuses:
            raise ValueError(f"{self.name} orders have the statuses {', '.join(self.statuses)}")
        elapsed = max(0.0, self.clock() - order.created_at)
        step = {**fields, "after": elapsed, "status": status}
        self.check_step(len(order.timeline), step)
        order.timeline = [s for s in order.timeline if s["after"] <= elapsed] + [step]
        return step

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
