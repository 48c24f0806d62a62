"""The buyer's top-up steps through Discord and the Razorpay sandbox, shared by the
top-up journeys and crash tests: /top-up, the link it answers with, what the sandbox
holds, and waiting until a top-up has settled with its DMs sent."""

from __future__ import annotations

from typing import Any

from core.domain import Money
from demo.payments import PaymentSandboxes
from demo.stack import LocalStack
from sandbox.razorpay import RazorpayState
from tests.e2e.helpers import EPHEMERAL, db_rows, embed_text, wait_for_row


def inr(minor: int) -> str:
    return Money(minor, "INR").format()


def sandbox(stack: LocalStack) -> RazorpayState:
    payments: PaymentSandboxes | None = stack.payments
    assert payments is not None
    return payments.razorpay


async def top_up(
    stack: LocalStack, user_id: int, amount: str, currency: str | None = None
) -> dict[str, Any]:
    """/top-up as `user_id`; the bot's private answer."""
    options = {"amount": amount, **({"currency": currency} if currency else {})}
    driven = await stack.emulator.send_slash_command(user_id, "top-up", options)
    first = await driven.wait_for_response()
    assert first["type"] == 5 and first["data"]["flags"] & EPHEMERAL  # deferred, privately
    answer: dict[str, Any] = await driven.wait_for_followup(timeout=15)
    return answer


def pay_button(message: dict[str, Any]) -> dict[str, Any]:
    (link,) = [
        c
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("style") == 5
    ]
    return dict(link)


def topup_id_of(message: dict[str, Any]) -> str:
    footer = message["embeds"][0]["footer"]["text"]
    assert footer.startswith("Top-up TOP-"), footer
    return str(footer.split()[1])


def link_of(stack: LocalStack, topup_id: str) -> dict[str, Any]:
    (link,) = [v for v in sandbox(stack).links.values() if v["reference_id"] == topup_id]
    return link


def ledger(stack: LocalStack, user_id: int) -> list[tuple[str, int, str]]:
    return [
        (r["kind"], r["amount_minor"], r["currency"])
        for r in db_rows(
            stack,
            "SELECT kind, amount_minor, currency FROM ledger WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
    ]


def link_fetches(stack: LocalStack, link_id: str) -> int:
    return sum(
        1
        for r in sandbox(stack).requests
        if r.method == "GET" and r.path == f"/v1/payment_links/{link_id}"
    )


async def settled(stack: LocalStack, topup_id: str, state: str) -> None:
    """The top-up reached `state` and its DMs went out: nothing more is owed for it, so
    a count of its DMs taken now is final (each row is sent once, by a compare-and-set)."""
    await wait_for_row(
        stack, "SELECT state FROM topups WHERE id = ?", (topup_id,), lambda r: r[0] == state
    )
    await wait_for_row(
        stack,
        "SELECT COUNT(*) AS owed FROM notifications WHERE topup_id = ?"
        " AND state IN ('pending', 'sending')",
        (topup_id,),
        lambda r: r["owed"] == 0,
        within=30,
    )


def dms_about(stack: LocalStack, user_id: int, topup_id: str) -> list[dict[str, Any]]:
    return [m for m in stack.emulator.dms(user_id) if topup_id in embed_text(m)]
