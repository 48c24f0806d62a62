"""What the demo's journeys (demo/journeys.py) act on: `Shop`, the running stack with the
transcript and what the catalog sells, and the steps a scripted buyer or staff member
takes through the Discord emulator (each written to the transcript)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.catalog import Catalog, Product
from core import i18n
from core.domain import ORDER_ID_RE, Money, OrderKind, PaymentMode
from core.i18n import _
from demo.stack import LocalStack
from demo.transcript import Transcript, text_of


class JourneyFailed(Exception):
    pass


def modal_input(modal: dict[str, Any]) -> str:
    """The custom_id of a modal's one text input (inside an action row or a label)."""
    for row in modal.get("components") or []:
        for comp in [*(row.get("components") or []), row.get("component") or {}]:
            if comp.get("type") == 4:
                return str(comp["custom_id"])
    raise JourneyFailed("the form has no text input")


def custom_id(message: dict[str, Any], prefix: str) -> str:
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if str(comp.get("custom_id", "")).startswith(prefix):
                return str(comp["custom_id"])
    raise JourneyFailed(f"no button {prefix!r} on the bot's message")


def quantity_for(product: Product, extra: int = 0) -> int:
    """A quantity the product allows: its minimum, plus `extra` where it can."""
    return min(product.min_quantity + extra, product.max_quantity)


def paid_from_wallet(product: Product | None) -> bool:
    # The demo runs with PAYMENT_MODE=wallet: a product without its own mode uses it.
    return product is not None and product.payment in (None, PaymentMode.WALLET)


async def first_answer(driven: Any) -> dict[str, Any]:
    """The bot's first visible answer: immediate (a refusal before any I/O) or a followup."""
    first = await driven.wait_for_response(timeout=15)
    if first.get("type") == 4:
        return dict(first.get("data") or {})
    return dict(await driven.wait_for_followup(timeout=15))


def credit_text(money: Money) -> str:
    """An amount as staff would type it: no thousands separators, ASCII digits."""
    return money.format("en").replace(",", "")


def mentions(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: text in text_of(message)


class Shop:
    """What the journeys act on: the running stack, the transcript, what the catalog
    sells, and the steps a buyer or staff member takes (each written to the transcript)."""

    def __init__(
        self, stack: LocalStack, out: Transcript, catalog: Catalog, language: str = "en"
    ) -> None:
        self.stack = stack
        # The language the buyers read (python -m demo --language): what the journeys
        # expect to see is the bot's own text in it, from the same catalog.
        self.language = language
        self.emu = stack.emulator
        self.out = out
        world = self.emu.world
        self.names = {world.buyer_id: "buyer", world.buyer2_id: "buyer2", world.staff_id: "staff"}
        # The journeys walk whatever the catalog sells: its first boost and first
        # digital product (either may be missing: those journeys say so and are skipped).
        boosts = catalog.enabled(OrderKind.BOOST)
        self.boosts = boosts
        self.boost_product: Product | None = boosts[0] if boosts else None
        self.several_boosts = len(boosts) > 1
        digital = catalog.enabled(OrderKind.DIGITAL)
        self.digital_product: Product | None = digital[0] if digital else None
        # Boosts first: the journeys that top up use the first one paid from the wallet.
        self.products = [*boosts, *digital]
        self.reviewed: str | None = None  # Journey 5's order, once staff marked it placed

    def boost_options(self, invite: str, extra: int = 0) -> dict[str, Any]:
        product = self.boost_product
        assert product is not None
        options: dict[str, Any] = {"invite": invite, "amount": quantity_for(product, extra)}
        if self.several_boosts:
            options["product"] = product.key
        return options

    def display_name(self, user_id: int) -> str:
        user = self.emu.world.users[user_id]
        return str(user.global_name or user.username)

    def skip(self, what: str) -> None:
        self.out.note(f"skipped: this catalog sells no {what}")

    async def slash(self, user_id: int, command: str, options: dict[str, Any]) -> Any:
        shown = " ".join(f"{k}:{v}" for k, v in options.items())
        self.out.user(self.names[user_id], f"/{command} {shown}".strip())
        driven = await self.emu.send_slash_command(user_id, command, options)
        await driven.wait_for_response()
        return driven

    async def confirm(self, user_id: int, confirmation: dict[str, Any]) -> dict[str, Any]:
        self.out.user(self.names[user_id], "presses [Confirm]")
        pressed = await self.emu.press_button(
            user_id, confirmation, custom_id(confirmation, "order:confirm:")
        )
        await pressed.wait_for_response()
        result = await pressed.wait_for_original(
            lambda m: not (m.get("components") or []), timeout=20
        )
        self.out.bot(f"{self.names[user_id]}, only they see it", result)
        return result

    def said(self, message: str, /, **values: Any) -> str:
        """`message` as the buyers read it."""
        with i18n.speaking(self.language):
            return _(message, **values)

    def price(self, money: Money) -> str:
        with i18n.speaking(self.language):
            return money.format()

    async def placed(self, product: Product, result: dict[str, Any]) -> str:
        """The order id of a confirmed order, once it is placed: an approval-paid one is
        approved by staff first, with the buttons on its staff-channel message."""
        text = text_of(result)
        found = re.search(ORDER_ID_RE, text)
        if found is None:
            raise JourneyFailed(f"the {product.name} order has no id: {text[:300]}")
        order_id = found.group(0)
        if product.payment is PaymentMode.APPROVAL and self.said("Order awaiting approval") in text:
            self.out.note("this product is paid outside the bot: staff check, then approve")
            message = await self.emu.wait_for_channel_message(
                self.emu.world.staff_channel_id,
                timeout=15,
                predicate=lambda m: (
                    order_id in (m.get("content") or "") and bool(m.get("components"))
                ),
            )
            self.out.bot("#staff", message)
            self.out.user("staff", "presses [Approve]")
            pressed = await self.emu.press_button(
                self.emu.world.staff_id, message, custom_id(message, "approval:approve:")
            )
            await pressed.wait_for_response()
            self.out.bot("staff, only they see it", await pressed.wait_for_followup(timeout=20))
            # The buyer wasn't watching when it was sent: they are told by DM.
            await self.dm(self.emu.world.buyer_id, order_id)
            return order_id
        if self.said("Order submitted") not in text:
            raise JourneyFailed(f"the {product.name} order was not placed: {text[:300]}")
        return order_id

    async def staff_line(self, order_hint: str) -> None:
        msg = await self.emu.wait_for_channel_message(
            self.emu.world.staff_channel_id,
            timeout=15,
            predicate=lambda m: order_hint in m["content"],
        )
        self.out.bot("#staff", msg)

    async def dm(self, user_id: int, order_id: str) -> dict[str, Any]:
        msg = await self.emu.wait_for_dm(
            user_id, timeout=30, predicate=lambda m: order_id in text_of(m)
        )
        self.out.bot(f"{self.names[user_id]}'s DMs", msg)
        return msg

    async def staff(self, path: str, options: dict[str, Any]) -> dict[str, Any]:
        """Staff type `/admin <path> options` in #staff; returns the bot's answer."""
        shown = " ".join(
            f"{k}:@{self.display_name(v)}" if k == "member" else f"{k}:{v}"
            for k, v in options.items()
        )
        self.out.user("staff", f"/admin {path} {shown} (in #staff)".replace("  ", " "))
        _, answer = await self.stack.admin(path, options)
        self.out.bot("staff, only they see it", answer)
        return answer

    async def link(self, remote: str, member_id: int) -> str:
        """Staff link a digital-shop order to a member; returns the bot's order id."""
        self.out.user(
            "staff",
            f"/admin order link provider:digital_shop remote_id:{remote} "
            f"member:@{self.display_name(member_id)} (in #staff)",
        )
        return await self.stack.staff_link_order("digital_shop", remote, member_id)
