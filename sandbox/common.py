"""Shared machinery of the sandbox providers: the app every provider is served as.

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

This module owns the wiring: the middleware that records, delays and applies faults, and
:func:`build_app`. The parts are in ``sandbox.faults`` (faults and how they are answered),
``sandbox.state`` (orders, timelines, the request log), ``sandbox.control`` (the
``/_sandbox/`` endpoints) and ``sandbox.util`` (JSON and value helpers); their names are
re-exported here, so ``from sandbox.common import Fault, ProviderState, ...`` keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.control import (
    CONTROL_PREFIX,
    add_control_routes,
    control_error,
    is_control_path,
    is_loopback,
)
from sandbox.faults import (
    FAULT_KINDS,
    GARBAGE_BODY,
    MALFORMED_BODY,
    STATUS_OVERRIDE,
    WEIRD_STATUS,
    Fault,
    FaultKind,
    respond_with_fault,
)
from sandbox.state import ProviderState, RecordedRequest, SandboxOrder, Timeline
from sandbox.util import (
    JSON_CONTENT_TYPE,
    Handler,
    is_int,
    is_number,
    iso_z,
    json_response,
    keys_equal,
    read_json,
)

__all__ = [
    "CONTROL_PREFIX",
    "FAULT_KINDS",
    "GARBAGE_BODY",
    "JSON_CONTENT_TYPE",
    "MALFORMED_BODY",
    "STATUS_OVERRIDE",
    "WEIRD_STATUS",
    "Fault",
    "FaultKind",
    "Handler",
    "ProviderState",
    "RecordedRequest",
    "SandboxOrder",
    "Timeline",
    "add_control_routes",
    "build_app",
    "is_int",
    "is_number",
    "iso_z",
    "json_response",
    "keys_equal",
    "read_json",
]

log = logging.getLogger(__name__)


def _provider_middleware(state: ProviderState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = state.relative_path(request.path)
        if is_control_path(path):
            if not is_loopback(request.remote):
                return json_response({"error": "the control interface is loopback-only"}, 403)
            return await handler(request)
        started = time.perf_counter()
        await state.record(request, path)
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        fault = state.take_fault(request.method, path)
        response = await respond_with_fault(state, request, handler, fault)
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
        if is_control_path(state.relative_path(request.path)):
            return control_error("unknown control endpoint", 404)
        return state.error_response(404)

    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
