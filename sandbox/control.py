"""The control interface under ``/_sandbox/``: tests and scripts steer a sandbox over HTTP.

Loopback callers only, no auth. The endpoints mirror the Python methods of
:class:`sandbox.state.ProviderState`: seed and list orders, move one to a status, set the default timeline, queue
and clear faults, set latency, read and clear the request log, reset.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, cast

from aiohttp import web

from sandbox.faults import Fault
from sandbox.state import ProviderState
from sandbox.util import json_response, read_json

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox"


def is_loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        return ipaddress.ip_address(remote.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def control_error(message: str, status: int = 400) -> web.Response:
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
            return control_error(str(exc))
        log.info("%s control: seeded order %s", state.name, order_id)
        return json_response({"id": order_id}, status=201)

    async def list_orders(request: web.Request) -> web.Response:
        return json_response([state.describe(o) for o in state.orders.values()])

    async def get_order(request: web.Request) -> web.Response:
        order = state.orders.get(request.match_info["order_id"])
        if order is None:
            return control_error("no such order", 404)
        return json_response(state.describe(order))

    async def move_order(request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            status = body.pop("status", None)
            if not isinstance(status, str):
                raise ValueError("status must be a string")
            step = state.move_to(request.match_info["order_id"], status, **body)
        except LookupError as exc:
            return control_error(str(exc), 404)
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
        return json_response(step)

    async def get_default_timeline(request: web.Request) -> web.Response:
        return json_response({"timeline": state.default_timeline})

    async def put_default_timeline(request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            timeline = state.set_default_timeline(body.get("timeline"))
        except ValueError as exc:
            return control_error(str(exc))
        return json_response({"timeline": timeline})

    async def list_faults(request: web.Request) -> web.Response:
        return json_response([f.to_dict() for f in state.faults])

    async def add_fault(request: web.Request) -> web.Response:
        try:
            fault = state.add_fault(Fault.from_dict(await _control_body(request)))
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
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
            return control_error(str(exc))
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
    router.add_post(f"{CONTROL_PREFIX}/orders/{{order_id}}/status", move_order)
    router.add_get(f"{CONTROL_PREFIX}/default-timeline", get_default_timeline)
    router.add_put(f"{CONTROL_PREFIX}/default-timeline", put_default_timeline)
    router.add_get(f"{CONTROL_PREFIX}/faults", list_faults)
    router.add_post(f"{CONTROL_PREFIX}/faults", add_fault)
    router.add_delete(f"{CONTROL_PREFIX}/faults", clear_faults)
    router.add_put(f"{CONTROL_PREFIX}/latency", put_latency)
    router.add_get(f"{CONTROL_PREFIX}/requests", list_requests)
    router.add_delete(f"{CONTROL_PREFIX}/requests", clear_requests)
    router.add_post(f"{CONTROL_PREFIX}/reset", reset)
