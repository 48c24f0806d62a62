"""Sandbox of Stripe Checkout Sessions and their webhooks, after Stripe's public API
(version 2024-06-20); its state is sandbox/stripe_state.py.

The API: `Authorization: Bearer <secret key>` (or Basic, the key as user, no password);
parameters in Stripe's bracket notation (`line_items[0][quantity]=1`, `expand[]=x`) in
a form body or the query; JSON answers; errors `{"error": {"type", "message", "code"?,
"param"?}}`, a bad key a 401 that quotes it masked, an unknown id a 404.

* ``POST /v1/checkout/sessions`` -> the session (`status: open`), checked as Stripe
  does: `mode=payment`; one line item whose `price_data` has a `currency`, a
  `unit_amount` of at least the currency's minimum charge (a multiple of 10 in a
  three-decimal currency) and `product_data[name]`, with a `quantity`; `expires_at` 30
  minutes to 24 hours ahead; unknown or empty parameters refused. An `Idempotency-Key`
  replays the first answer (`Idempotent-Replayed: true`); reused for other parameters,
  it is an `idempotency_error`.
* ``GET /v1/checkout/sessions/{id}[?expand[]=payment_intent]``: an open session past
  its `expires_at` reads `expired` (its event made once, held until delivered).
* ``GET /v1/checkout/sessions[?limit&created[gte]&payment_intent&status&starting_after]``
  -> ``{"object": "list", "data": [newest first], "has_more", "url"}``.
* ``POST /v1/checkout/sessions/{id}/expire``: only an open session.

Control (loopback only, under ``/_sandbox/``, JSON bodies), besides the shared faults and
request log. What an action raises is delivered `copies` times (default 1) with one
event id, signed as `signature` says (`good`, `wrong`, `missing`, `old`), or held with
`deliver: false`; each answers the ids made, the `event_id` and the webhook's statuses:

* ``PUT /_sandbox/webhook`` ``{"url", "secret"?}``: where events go, signed with `secret`.
* ``POST /_sandbox/sessions/{id}/pay`` ``{"async"?}``: the payer pays, by card or (async)
  by a bank debit left `processing`: `checkout.session.completed`.
* ``POST /_sandbox/sessions/{id}/async`` ``{"result": "succeeded"|"failed"}``: the
  debit's outcome, `checkout.session.async_payment_succeeded` or `..._failed`.
* ``POST /_sandbox/sessions/{id}/expire``: the session expires now.
* ``POST /_sandbox/payments/{pi}/refund`` or ``/dispute`` ``{"amount"?}``:
  `charge.refunded`, `charge.dispute.created`.
* ``POST /_sandbox/events/{id}/deliver``: an event again (or at last, when held).
* ``GET /_sandbox/events``, ``GET /_sandbox/deliveries``: what was raised and delivered.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.control import CONTROL_PREFIX, control_error
from sandbox.faults import STATUS_OVERRIDE
from sandbox.stripe_checks import (
    SIGNATURES,
    expansions,
    list_filters,
    parse_int,
    validate_create,
)
from sandbox.stripe_state import (
    DEFAULT_SECRET_KEY,
    DEFAULT_WEBHOOK_SECRET,
    StripeState,
)
from sandbox.stripe_wire import StripeError, parse_form
from sandbox.util import is_int, json_response, read_json

__all__ = [
    "DEFAULT_SECRET_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "StripeError",
    "StripeState",
    "create_app",
    "parse_form",
    "validate_create",
]

SESSIONS = "/v1/checkout/sessions"
Handler = Callable[[web.Request], Awaitable[web.Response]]
FORM_TYPE = "application/x-www-form-urlencoded"


class BadControl(Exception):
    """A control request that makes no sense (400), whatever the state."""


def answers_errors(handler: Handler) -> Handler:
    """A handler whose StripeError is its answer."""

    @functools.wraps(handler)
    async def answering(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except StripeError as refusal:
            return refusal.response()

    return answering


def create_app(state: StripeState) -> web.Application:
    # build_app's middleware checks the key before any handler below runs.

    def no_such_session(session_id: str) -> StripeError:
        return StripeError(
            f"No such checkout.session: '{session_id}'",
            "session",
            code="resource_missing",
            status=404,
        )

    async def form_params(request: web.Request) -> dict[str, Any]:
        """The body's parameters and the query's, as Stripe reads both."""
        raw = await request.read() if request.body_exists else b""
        if raw and request.content_type != FORM_TYPE:
            raise StripeError(
                f"Invalid request (check that your POST content type is {FORM_TYPE})."
            )
        query = request.rel_url.raw_query_string
        return parse_form(raw.decode("utf-8", "replace") + "&" + query)

    def view(request: web.Request, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        if expand and session["payment_intent"] is not None:
            session["payment_intent"] = state.intent_view(session["payment_intent"])
        override = request.get(STATUS_OVERRIDE)  # the `unknown_status` fault
        if override is not None:
            session["status"] = override
        return session

    def replayed(request: web.Request, params: dict[str, Any]) -> web.Response | None:
        """The first answer under this Idempotency-Key (None when the key is new or
        there is none); a key reused for another request is an `idempotency_error`."""
        key = request.headers.get("Idempotency-Key")
        kept = state.idempotent.get(key) if key is not None else None
        if key is None or kept is None:
            return None
        path, first_params, status, body = kept
        if (path, first_params) != (request.path, params):
            raise StripeError(
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                "meant to execute a different request.",
                kind="idempotency_error",
            )
        headers = {"Idempotent-Replayed": "true", "Idempotency-Key": key}
        return web.Response(
            body=body, status=status, headers=headers, content_type="application/json"
        )

    def answer(request: web.Request, params: dict[str, Any], data: Any) -> web.Response:
        response = json_response(data)
        key = request.headers.get("Idempotency-Key")
        if key is not None and request.method == "POST":
            # Kept only once the work is done: Stripe keeps no validation refusal. There is
            # no await between `replayed` and here, so two racing with one key make one.
            assert isinstance(response.body, bytes)
            state.idempotent[key] = (request.path, params, response.status, response.body)
            response.headers["Idempotency-Key"] = key
        return response

    @answers_errors
    async def create(request: web.Request) -> web.Response:
        params = await form_params(request)
        replay = replayed(request, params)
        if replay is not None:
            return replay
        expand = expansions(params, "payment_intent")
        validate_create(params, state.wall_clock())
        session = state.create_session(params)
        return answer(request, params, view(request, session, expand))

    @answers_errors
    async def fetch(request: web.Request) -> web.Response:
        params = await form_params(request)
        expand = expansions(params, "payment_intent")
        session_id = request.match_info["session_id"]
        session = state.session_now(session_id)
        if session is None:
            raise no_such_session(session_id)
        return answer(request, params, view(request, session, expand))

    @answers_errors
    async def list_sessions(request: web.Request) -> web.Response:
        params = await form_params(request)
        filters = list_filters(params)
        expand = expansions(params, "data.payment_intent")
        limit = parse_int(params.get("limit", "10"), "limit", least=1)
        if limit > 100:
            raise StripeError("This value must be less than or equal to 100.", "limit")
        sessions = [
            s
            for s in state.sessions_newest_first()
            if all(test(s[field]) for field, test in filters)
        ]
        after = params.get("starting_after")
        if after is not None:
            ids = [s["id"] for s in sessions]
            if after not in ids:
                raise StripeError(
                    f"No such checkout.session: '{after}'",
                    "starting_after",
                    code="resource_missing",
                )
            sessions = sessions[ids.index(after) + 1 :]
        listed = {
            "object": "list",
            "data": [view(request, s, expand) for s in sessions[:limit]],
            "has_more": len(sessions) > limit,
            "url": SESSIONS,
        }
        return answer(request, params, listed)

    @answers_errors
    async def expire(request: web.Request) -> web.Response:
        params = await form_params(request)
        replay = replayed(request, params)
        if replay is not None:
            return replay
        expand = expansions(params, "payment_intent")
        session_id = request.match_info["session_id"]
        if state.session_now(session_id) is None:
            raise no_such_session(session_id)
        if state.expire(session_id) is None:
            raise StripeError('Only Checkout Sessions with a status in ["open"] can be expired.')
        session = state.session_now(session_id) or {}
        return answer(request, params, view(request, session, expand))

    # -- control -----------------------------------------------------------------------

    async def control_body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await read_json(request)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def put_webhook(request: web.Request) -> web.Response:
        body = await control_body(request)
        state.webhook_url = body.get("url") or None
        if body.get("secret"):
            state.webhook_secret = str(body["secret"])
        return json_response({"url": state.webhook_url})

    def delivery_options(body: dict[str, Any]) -> tuple[int, str]:
        copies = body.get("copies", 1)
        signature = body.get("signature", "good")
        if not is_int(copies) or not 0 <= copies <= 100:
            raise BadControl("copies must be an integer 0..100")
        if signature not in SIGNATURES:
            raise BadControl("signature must be good, wrong, missing or old")
        return copies, signature

    def amount_in(body: dict[str, Any]) -> int | None:
        amount = body.get("amount")
        if amount is not None and (not is_int(amount) or amount <= 0):
            raise BadControl("amount must be a positive integer")
        return amount

    Action = Callable[[str, dict[str, Any]], tuple[str, dict[str, str]]]

    def control(kept: dict[str, Any], what: str, act: Action) -> Handler:
        """A control endpoint on one of `kept` (a 404 for an id not there): `act` makes an
        event and says what else it made; the event is delivered as the body says."""

        async def handle(request: web.Request) -> web.Response:
            key = request.match_info["id"]
            if key not in kept:
                return control_error(f"no such {what}", 404)
            body = await control_body(request)
            try:
                copies, signature = delivery_options(body)
                event_id, made = act(key, body)
            except BadControl as exc:
                return control_error(str(exc))
            except ValueError as exc:  # the state refuses: not now, not for this one
                return control_error(str(exc), 409)
            answers = (
                await state.deliver(event_id, copies=copies, signature=signature)
                if body.get("deliver", True)
                else []
            )
            return json_response({**made, "event_id": event_id, "deliveries": answers})

        return handle

    def pay(session_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        intent_id, charge_id, event_id = state.pay(session_id, is_async=bool(body.get("async")))
        return event_id, {"payment_intent": intent_id, "charge": charge_id}

    def settle(session_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        if body.get("result") not in ("succeeded", "failed"):
            raise BadControl("result must be succeeded or failed")
        return state.settle(session_id, succeeded=body["result"] == "succeeded"), {}

    def expire_now(session_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        event_id = state.expire(session_id)
        if event_id is None:
            raise ValueError("only an open session can expire")
        return event_id, {}

    def refund(intent_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        refund_id, event_id = state.refund(intent_id, amount_in(body))
        return event_id, {"refund": refund_id}

    def dispute(intent_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        dispute_id, event_id = state.dispute(intent_id, amount_in(body))
        return event_id, {"dispute": dispute_id}

    def deliver(event_id: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        return event_id, {}

    async def events(request: web.Request) -> web.Response:
        return json_response([{"id": i, "type": t} for i, t in state.event_types.items()])

    async def deliveries(request: web.Request) -> web.Response:
        return json_response([asdict(d) for d in state.deliveries])

    def routes(router: web.UrlDispatcher) -> None:
        router.add_post(SESSIONS, create)
        router.add_get(SESSIONS, list_sessions)
        router.add_get(f"{SESSIONS}/{{session_id}}", fetch)
        router.add_post(f"{SESSIONS}/{{session_id}}/expire", expire)
        router.add_put(f"{CONTROL_PREFIX}/webhook", put_webhook)
        sessions, intents = state.sessions, state.payment_intents
        control_routes: list[tuple[str, dict[str, Any], str, Action]] = [
            ("sessions/{id}/pay", sessions, "session", pay),
            ("sessions/{id}/async", sessions, "session", settle),
            ("sessions/{id}/expire", sessions, "session", expire_now),
            ("payments/{id}/refund", intents, "payment intent", refund),
            ("payments/{id}/dispute", intents, "payment intent", dispute),
            ("events/{id}/deliver", state.events, "event", deliver),
        ]
        for path, kept, what, act in control_routes:
            router.add_post(f"{CONTROL_PREFIX}/{path}", control(kept, what, act))
        router.add_get(f"{CONTROL_PREFIX}/events", events)
        router.add_get(f"{CONTROL_PREFIX}/deliveries", deliveries)

    return build_app(state, routes)
