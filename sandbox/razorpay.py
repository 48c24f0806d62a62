"""Sandbox of Razorpay Payment Links and their webhooks (issue 28), after Razorpay's
public docs (the contract notes are in docs/payments.md).

The API (basic auth, `key_id:key_secret`; JSON bodies; every error is
`{"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}`):

* ``POST /v1/payment_links`` -> 200 and the link (`status: created`). Checked as the
  docs say: `amount` an integer of at least 100 subunits, `reference_id` unique and at
  most 40 characters, `expire_by` at least 15 minutes ahead, `callback_method: get`
  with a `callback_url`, unknown fields refused.
* ``GET /v1/payment_links/{id}`` -> the link; `payments` is null until a payment is
  captured, then a list of `{amount, created_at, method, payment_id, status}`.
* ``GET /v1/payment_links[?reference_id=&count=]`` -> ``{"payment_links": [...]}``.
* ``POST /v1/payment_links/{id}/cancel`` -> the cancelled link; only a `created` link.
* Unknown ids and unknown routes answer **400**, as Razorpay does, not 404; a bad key 401.

Control (loopback only, under ``/_sandbox/``), besides the shared faults and request log:

* ``PUT /_sandbox/webhook`` ``{"url", "secret"}``: where events go, signed with `secret`.
* ``POST /_sandbox/payment_links/{id}/pay`` ``{"amount"?, "copies"?, "signature"?,
  "deliver"?}``: the payer pays (`amount` defaults to what is due; less with
  `accept_partial` is a partial payment, anything else pays the link). The event is
  delivered `copies` times with one event id; `signature` is `good`, `wrong` or
  `missing`; `deliver: false` holds it (a webhook that never came, or comes late).
* ``POST /_sandbox/payment_links/{id}/expire``: the link expires now.
* ``POST /_sandbox/payments/{payment_id}/refund`` ``{"amount"}``: `refund.processed`.
* ``POST /_sandbox/payments/{payment_id}/dispute`` ``{"amount"}``: a chargeback,
  `payment.dispute.created`.
* ``POST /_sandbox/events/{event_id}/deliver`` ``{"copies"?, "signature"?}``: deliver
  an event (again, or for the first time when it was held).
* ``GET /_sandbox/deliveries``: every delivery and the status it got.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.common import build_app
from sandbox.control import CONTROL_PREFIX, control_error
from sandbox.razorpay_state import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    RazorpayState,
)
from sandbox.util import is_int, json_response, read_json

__all__ = [
    "DEFAULT_KEY_ID",
    "DEFAULT_KEY_SECRET",
    "DEFAULT_WEBHOOK_SECRET",
    "RazorpayState",
    "create_app",
]


def create_app(state: RazorpayState) -> web.Application:
    def unauthorized() -> web.Response:
        return json_response(state.error_body(401), 401)

    def no_such_link(link_id: str) -> web.Response:
        if not link_id.startswith("plink_") or len(link_id) != len("plink_") + 14:
            return state.bad_request(f"invalid input [strippedId] = [{link_id[6:]}]")
        return state.bad_request("The id provided does not exist")

    async def create(request: web.Request) -> web.Response:
        if not state.is_authorized(request):
            return unauthorized()
        try:
            body = await read_json(request)
        except ValueError:
            return state.bad_request("wrong input fields sent.")
        refused = state.validate_create(body)
        if refused is not None:
            return refused
        return json_response(state.create_link(body))

    async def fetch(request: web.Request) -> web.Response:
        if not state.is_authorized(request):
            return unauthorized()
        link_id = request.match_info["link_id"]
        link = state.link_now(link_id)
        return json_response(link) if link is not None else no_such_link(link_id)

    async def list_links(request: web.Request) -> web.Response:
        if not state.is_authorized(request):
            return unauthorized()
        reference = request.query.get("reference_id")
        links = [
            state.link_now(link_id) or {}
            for link_id, link in state.links.items()
            if reference is None or link["reference_id"] == reference
        ]
        count = request.query.get("count", "")
        if count.isdigit():
            links = links[: int(count)]
        # Not Razorpay's usual collection: `{"payment_links": [...]}`, as documented.
        return json_response({"payment_links": links})

    async def cancel(request: web.Request) -> web.Response:
        if not state.is_authorized(request):
            return unauthorized()
        link_id = request.match_info["link_id"]
        if state.link_now(link_id) is None:
            return no_such_link(link_id)
        link, problem = state.cancel(link_id)
        return json_response(link) if link is not None else state.bad_request(str(problem))

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

    def delivery_options(body: dict[str, Any]) -> tuple[int, str] | web.Response:
        copies = body.get("copies", 1)
        signature = body.get("signature", "good")
        if not is_int(copies) or not 0 <= copies <= 100:
            return control_error("copies must be an integer 0..100")
        if signature not in ("good", "wrong", "missing"):
            return control_error("signature must be good, wrong or missing")
        return copies, signature

    async def pay(request: web.Request) -> web.Response:
        link_id = request.match_info["link_id"]
        if link_id not in state.links:
            return control_error("no such link", 404)
        body = await control_body(request)
        amount = body.get("amount")
        if amount is not None and (not is_int(amount) or amount <= 0):
            return control_error("amount must be a positive integer")
        options = delivery_options(body)
        if isinstance(options, web.Response):
            return options
        payment_id, event_id = state.pay(link_id, amount)
        answers = (
            await state.deliver(event_id, copies=options[0], signature=options[1])
            if body.get("deliver", True)
            else []
        )
        return json_response(
            {"payment_id": payment_id, "event_id": event_id, "deliveries": answers}
        )

    async def expire(request: web.Request) -> web.Response:
        link_id = request.match_info["link_id"]
        if link_id not in state.links:
            return control_error("no such link", 404)
        event_id = state.expire(link_id)
        if event_id is None:
            return control_error("only a created or partially paid link can expire", 409)
        body = await control_body(request)
        answers = await state.deliver(event_id) if body.get("deliver", True) else []
        return json_response({"event_id": event_id, "deliveries": answers})

    async def take_back(request: web.Request) -> web.Response:
        """A refund or a dispute of a payment (the route's last step says which)."""
        payment_id = request.match_info["payment_id"]
        if payment_id not in state.payments:
            return control_error("no such payment", 404)
        body = await control_body(request)
        amount = body.get("amount", state.payments[payment_id]["amount"])
        if not is_int(amount) or amount <= 0:
            return control_error("amount must be a positive integer")
        if request.path.endswith("/dispute"):
            event_id = state.dispute(payment_id, amount)
        else:
            event_id = state.refund(payment_id, amount)
        answers = await state.deliver(event_id) if body.get("deliver", True) else []
        return json_response({"event_id": event_id, "deliveries": answers})

    async def deliver(request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        if event_id not in state.events:
            return control_error("no such event", 404)
        options = delivery_options(await control_body(request))
        if isinstance(options, web.Response):
            return options
        answers = await state.deliver(event_id, copies=options[0], signature=options[1])
        return json_response({"event_id": event_id, "deliveries": answers})

    async def deliveries(request: web.Request) -> web.Response:
        listed = [
            {"event_id": d.event_id, "event": d.event, "status": d.status, "signature": d.signature}
            for d in state.deliveries
        ]
        return json_response(listed)

    def routes(router: web.UrlDispatcher) -> None:
        router.add_post("/v1/payment_links", create)
        router.add_post("/v1/payment_links/", create)
        router.add_get("/v1/payment_links", list_links)
        router.add_get("/v1/payment_links/{link_id}", fetch)
        router.add_post("/v1/payment_links/{link_id}/cancel", cancel)
        router.add_put(f"{CONTROL_PREFIX}/webhook", put_webhook)
        router.add_post(f"{CONTROL_PREFIX}/payment_links/{{link_id}}/pay", pay)
        router.add_post(f"{CONTROL_PREFIX}/payment_links/{{link_id}}/expire", expire)
        router.add_post(f"{CONTROL_PREFIX}/payments/{{payment_id}}/refund", take_back)
        router.add_post(f"{CONTROL_PREFIX}/payments/{{payment_id}}/dispute", take_back)
        router.add_post(f"{CONTROL_PREFIX}/events/{{event_id}}/deliver", deliver)
        router.add_get(f"{CONTROL_PREFIX}/deliveries", deliveries)

    return build_app(state, routes)
