"""The playground's provider panels (emulator/web/panels.py): what each sandbox holds, as a
shop owner wants to see it, and what they can do to it.

An order panel moves an order to another status (``ProviderState.move_to``), a payment
panel pays or expires a payment link (and the sandbox sends the bot its webhook), and
both inject one fault into the provider's next request: a 429 with Retry-After, a 500,
or a request that hangs until the bot gives up on it.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from core.money import Money
from sandbox.faults import Fault
from sandbox.razorpay_state import RazorpayState
from sandbox.state import ProviderState, RecordedRequest

#: Requests shown per panel, newest last.
SHOWN_REQUESTS = 25


def _request(entry: RecordedRequest, wall: float) -> dict[str, Any]:
    """A request as the log shows it: no headers (they carry the sandbox's key)."""
    return {"method": entry.method, "path": entry.path, "body": entry.text[:2000], "at": wall}


class _Panel:
    name: str
    title: str

    def __init__(self, state: ProviderState, name: str, title: str) -> None:
        self.state = state
        self.name = name
        self.title = title
        self._acts = 0
        # The sandbox's clock is monotonic: its times become wall-clock times from one
        # fixed reading, so a request's time is the same every time the panel is drawn.
        self._wall_at_clock = (time.time(), state.clock())

    def wall_time(self, at: float) -> float:
        wall, clock = self._wall_at_clock
        return wall + (at - clock)

    def version(self) -> int:
        state = self.state
        return hash((self._acts, len(state.orders), len(state.requests), len(state.faults)))

    def inject(self, kind: str, retry_after: float | None = None) -> str:
        if kind == "rate_limit":
            seconds = 5.0 if retry_after is None else retry_after
            self.state.add_fault(Fault(kind="rate_limit", retry_after=seconds))
            said = f"the next request gets 429 Too Many Requests, Retry-After: {seconds:g}"
        elif kind == "server_error":
            self.state.add_fault(Fault(kind="server_error"))
            said = "the next request gets 500 Internal Server Error"
        elif kind == "hang":
            self.state.add_fault(Fault(kind="hang"))
            said = f"the next request hangs for {self.state.hang_seconds:g} s"
        else:
            raise ValueError(f"no fault {kind!r}")
        self._acts += 1
        return said

    def clear_faults(self) -> int:
        self._acts += 1
        return self.state.clear_faults()

    def common(self) -> dict[str, Any]:
        return {
            "faults": [fault.kind for fault in self.state.faults],
            "requests": [
                _request(r, self.wall_time(r.at)) for r in self.state.requests[-SHOWN_REQUESTS:]
            ],
        }


def _summary(name: str, data: dict[str, Any]) -> str:
    if name == "boost":
        return f"{data.get('amount')} boosts for discord.gg/{data.get('inviteCode')}"
    if name == "digital_shop":
        return str(data.get("productName", ""))
    if name == "namefi":
        return ", ".join(str(d) for d in data.get("domains") or []) or "domains"
    if name == "checkout":
        items = ", ".join(
            f"{item.get('quantity')} × {item.get('name')}"
            for item in data.get("items") or []
            if isinstance(item, dict)
        )
        total, currency = data.get("total_amount"), data.get("currency")
        if isinstance(total, int) and isinstance(currency, str):
            return f"{items} · {Money(total, currency).format('en')}"
        return items
    return ""


def _after(statuses: tuple[str, ...], current: str) -> tuple[str, ...]:
    """Where an order can go from ``current``: the statuses after it, the next first
    (PENDING → PROCESSING, COMPLETED, FAILED; a completed digital order can be REFUNDED)."""
    if current not in statuses:
        return statuses
    return statuses[statuses.index(current) + 1 :]


class OrderPanel(_Panel):
    """A provider that holds orders with statuses (boost, digital shop, namefi, checkout)."""

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        orders = []
        for order in state.orders.values():
            status = state.current_step(order)["status"] if order.timeline else ""
            orders.append(
                {
                    "id": order.id,
                    "status": status,
                    "summary": _summary(self.name, order.data),
                    "actions": [
                        {"id": s, "label": f"→ {s}"} for s in _after(state.statuses, status)
                    ],
                }
            )
        return {"orders": orders, **self.common()}

    async def act(self, order_id: str, action: str) -> str:
        fields: dict[str, Any] = {}
        if self.name == "digital_shop" and action == "COMPLETED":
            # What a real digital shop delivers: a key the buyer gets by DM.
            fields["deliveryData"] = f"KEY-{secrets.token_hex(4).upper()}"
        self.state.move_to(order_id, action, **fields)
        self._acts += 1
        return f"order {order_id} is {action} now"


class PaymentPanel(_Panel):
    """The Razorpay sandbox: the payment links the bot made for top-ups."""

    state: RazorpayState

    def __init__(self, state: RazorpayState) -> None:
        super().__init__(state, "razorpay", "Razorpay (payments)")

    def snapshot(self) -> dict[str, Any]:
        links = []
        for link in self.state.links.values():
            status = str(link["status"])
            actions = []
            if status in ("created", "partially_paid"):
                actions = [{"id": "pay", "label": "Pay"}, {"id": "expire", "label": "Expire"}]
            amount = Money(int(link["amount"]), str(link["currency"]))
            links.append(
                {
                    "id": link["id"],
                    "status": status,
                    "summary": f"{amount.format('en')} · {link.get('description') or ''}".strip(
                        " ·"
                    ),
                    "actions": actions,
                }
            )
        return {"orders": links, **self.common()}

    async def act(self, order_id: str, action: str) -> str:
        state = self.state
        if order_id not in state.links:
            raise LookupError(f"no payment link {order_id!r}")
        if action == "pay":
            if state.links[order_id]["status"] not in ("created", "partially_paid"):
                raise ValueError("this link can't be paid any more")
            payment_id, event_id = state.pay(order_id, None)
            self._acts += 1
            answers = await state.deliver(event_id)
            told = f", webhook answered {answers[0]}" if answers else ""
            return f"paid as {payment_id}{told}"
        if action == "expire":
            expired = state.expire(order_id)
            if expired is None:
                raise ValueError("only an unpaid link can expire")
            self._acts += 1
            await state.deliver(expired)
            return f"link {order_id} expired"
        raise LookupError(f"no action {action!r}")
