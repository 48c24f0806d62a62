"""`make demo`: the real bot, offline, on embedded defaults.

Starts the sandbox providers, the Discord emulator and `python -m bot run` as a
subprocess, then a scripted buyer and staff member walk the shop's journeys while a
readable transcript is printed. Exits 0 when every journey worked, 1 with the reason
otherwise. Nothing here needs a token, an account or the network.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.catalog import Catalog, Product, load_catalog
from bot.config import ConfigError
from bot.presenters import notice_marker_line
from core.domain import Money, OrderKind, PaymentMode
from demo.stack import LocalStack
from sandbox.common import Fault

EPHEMERAL = 64


class JourneyFailed(Exception):
    pass


class Transcript:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.world: Any = None  # the emulator's world: names for mentions

    def _stamp(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def heading(self, text: str) -> None:
        print(f"\n=== {text} ===", flush=True)

    def user(self, who: str, action: str) -> None:
        print(f"{self._stamp()}  [{who}] {action}", flush=True)

    def bot(self, where: str, message: dict[str, Any]) -> None:
        print(f"{self._stamp()}  [bot → {where}]", flush=True)
        for line in render(message, self.world).splitlines():
            print(f"            │ {line}", flush=True)

    def note(self, text: str) -> None:
        print(f"            · {text}", flush=True)


MARKUP = re.compile(
    r"<(?:t:(?P<ts>-?\d+)(?::(?P<style>[tTdDfFR]))?|@&(?P<role>\d+)|@!?(?P<user>\d+)|#(?P<channel>\d+))>"
)


def relative(seconds: float) -> str:
    """Discord's `<t:…:R>`: "in 10 minutes", "3 seconds ago"."""
    ahead, span = seconds >= 0, abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if span >= size or unit == "second":
            count = int(span // size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if ahead else f"{words} ago"
    return "now"


def humanize(text: str, world: Any, now: float) -> str:
    """Discord's markup as the client shows it: times, mentions, channels."""

    def swap(match: re.Match[str]) -> str:
        if match["ts"] is not None:
            at = int(match["ts"])
            if match["style"] == "R":
                return relative(at - now)
            shown = datetime.fromtimestamp(at, tz=UTC)
            return shown.strftime(
                "%H:%M:%S UTC" if match["style"] in ("t", "T") else "%Y-%m-%d %H:%M UTC"
            )
        if match["user"] is not None:
            user = world.users.get(int(match["user"]))
            return f"@{(user.global_name or user.username) if user else match['user']}"
        if match["role"] is not None:
            role = world.roles.get(int(match["role"]))
            return f"@{role.name if role else match['role']}"
        channel = world.channels.get(int(match["channel"]))
        return f"#{getattr(channel, 'name', None) or match['channel']}"

    lines = []
    for line in MARKUP.sub(swap, text).splitlines():
        # `-# …` is Discord's small print.
        lines.append(f"  (small print) {line[3:]}" if line.startswith("-# ") else line)
    return "\n".join(lines)


def render(message: dict[str, Any], world: Any = None) -> str:
    """A message as text. With `world` (the transcript), as Discord shows it: markup
    resolved, the embed's timestamp beside its footer. Without, raw (what checks read)."""
    parts: list[str] = []
    if message.get("content"):
        parts.append(message["content"])
    for embed in message.get("embeds") or []:
        if embed.get("title"):
            parts.append(f"**{embed['title']}**")
        if embed.get("description"):
            parts.append(embed["description"])
        for field in embed.get("fields") or []:
            parts.append(f"{field['name']}: {field['value']}")
        footer = (embed.get("footer") or {}).get("text")
        stamp = embed.get("timestamp")
        if world is not None and stamp:
            when = datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            footer = f"{footer} • {when}" if footer else when
        if footer:
            parts.append(f"({footer})")
    for attachment in message.get("attachments") or []:
        parts.append(f"📎 {attachment.get('filename')}")
    labels = [
        c.get("label")
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("label")
    ]
    if labels:
        parts.append("buttons: " + " | ".join(f"[{label}]" for label in labels))
    text = "\n".join(parts) or "(empty)"
    return humanize(text, world, time.time()) if world is not None else text


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


def text_of(message: dict[str, Any]) -> str:
    return render(message)


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
    """An amount as staff would type it: no thousands separators."""
    return money.format().replace(",", "")


def mentions(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: text in text_of(message)


class Demo:
    def __init__(self, stack: LocalStack, out: Transcript, catalog: Catalog) -> None:
        self.stack = stack
        self.emu = stack.emulator
        self.out = out
        world = self.emu.world
        self.names = {world.buyer_id: "buyer", world.buyer2_id: "buyer2", world.staff_id: "staff"}
        # The journeys walk whatever the catalog sells: its first boost and first
        # digital product (either may be missing: those journeys say so and are skipped).
        boosts = catalog.enabled(OrderKind.BOOST)
        self.boost_product: Product | None = boosts[0] if boosts else None
        self.several_boosts = len(boosts) > 1
        digital = catalog.enabled(OrderKind.DIGITAL)
        self.digital_product: Product | None = digital[0] if digital else None
        # Boosts first: the journeys that top up use the first one paid from the wallet.
        self.products = [*boosts, *digital]

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

    async def placed(self, product: Product, result: dict[str, Any]) -> str:
        """The order id of a confirmed order, once it is placed: an approval-paid one is
        approved by staff first, with the buttons on its staff-channel message."""
        text = text_of(result)
        if product.payment is PaymentMode.APPROVAL and "waiting for staff" in text:
            order_id = text.split("`")[1]
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
        if "placed" not in text:
            raise JourneyFailed(f"the {product.name} order was not placed: {text[:300]}")
        return text.split("`")[1]

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

    # --- journeys -----------------------------------------------------------------------

    async def top_up(self) -> None:
        self.out.heading("Journey 0: a buyer pays the shop, staff add store credit")
        buyer = self.emu.world.buyer_id
        wallet_paid: list[Product] = [p for p in self.products if paid_from_wallet(p)]
        if not wallet_paid:
            return self.skip("products paid from store credit (they are approval or free)")
        product = wallet_paid[0]
        if product.kind is OrderKind.BOOST:
            options: dict[str, Any] = {"invite": "shopdemo", "amount": quantity_for(product)}
            if self.several_boosts:
                options["product"] = product.key
            driven = await self.slash(buyer, "boost", options)
        else:
            driven = await self.slash(buyer, "buy", {"product": product.key, "quantity": 1})
        refused = await first_answer(driven)
        self.out.bot("buyer, only they see it", refused)
        if "How to top up" not in text_of(refused):
            raise JourneyFailed("an empty wallet did not tell the buyer how to top up")
        self.out.note("the buyer pays by UPI and sends staff the receipt")
        # Enough for every order the journeys place (a few of each product).
        needed: dict[str, int] = {}
        for paid in wallet_paid:
            total = paid.price_for(quantity_for(paid, 1)).minor * 4
            needed[paid.currency] = needed.get(paid.currency, 0) + total
        # Round figures, as a buyer would pay.
        needed = {currency: -(-minor // 1000) * 1000 for currency, minor in needed.items()}
        for number, (currency, minor) in enumerate(sorted(needed.items())):
            note = f"UPI ref {4471 + number}"
            amount = credit_text(Money(minor, currency))
            await self._staff("wallet credit", {"member": buyer, "amount": amount, "note": note})
            await self.staff_line(note)
            await self.emu.wait_for_dm(buyer, timeout=15, predicate=mentions(note))
        self.out.bot(f"{self.names[buyer]}'s DMs", self.emu.dms(buyer)[-1])

    async def boost(self) -> None:
        self.out.heading("Journey 1: a buyer orders boosts, paid from store credit")
        if self.boost_product is None:
            return self.skip("boosts")
        buyer = self.emu.world.buyer_id
        driven = await self.slash(
            buyer, "boost", self.boost_options("https://discord.gg/shopdemo", extra=1)
        )
        confirmation = await driven.wait_for_followup(timeout=15)
        self.out.bot("buyer, only they see it", confirmation)
        if "Demo Server" not in text_of(confirmation):
            raise JourneyFailed("the confirmation did not name the invite's server")
        result = await self.confirm(buyer, confirmation)
        order_id = await self.placed(self.boost_product, result)
        await self.staff_line(order_id)
        self.out.note("the provider moves it PENDING → PROCESSING → COMPLETED; the bot polls…")
        await self.dm(buyer, order_id)

    async def buy(self) -> None:
        self.out.heading("Journey 2: a buyer orders a digital product")
        product = self.digital_product
        if product is None:
            return self.skip("digital products")
        buyer = self.emu.world.buyer_id
        typed = product.name[:3]
        choices = await self.emu.send_autocomplete(buyer, "buy", {"product": typed}, "product")
        self.out.user("buyer", f"types /buy product:{typed}…")
        self.out.note("autocomplete offers: " + ", ".join(c["name"] for c in choices))
        driven = await self.slash(
            buyer, "buy", {"product": product.key, "quantity": quantity_for(product)}
        )
        if driven.modal is None:
            answer = driven.followups[-1] if driven.followups else {}
            raise JourneyFailed(
                f"/buy {product.key} did not ask for the contact details the checkout API "
                f"needs; it answered: {text_of(answer)[:300]}"
            )
        self.out.bot(
            "buyer", {"content": f"(a form) {driven.modal.get('title')}: phone, name, email"}
        )
        self.out.user("buyer", "fills in phone +91 98765 43210, name Asha, and submits")
        submitted = await self.emu.submit_modal(
            buyer,
            str(driven.modal["custom_id"]),  # unique to this /buy: two buyers' forms can't cross
            {"contact:phone": "+91 98765 43210", "contact:name": "Asha", "contact:email": ""},
            source_interaction=driven,
        )
        await submitted.wait_for_response()
        confirmation = await submitted.wait_for_followup(timeout=15)
        self.out.bot("buyer, only they see it", confirmation)
        result = await self.confirm(buyer, confirmation)
        order_id = await self.placed(product, result)
        await self.staff_line(order_id)
        sent = [r for r in self.stack.sandbox.state("checkout").requests if r.method == "POST"][-1]
        self.out.note(
            f"the checkout API received id={sent.json['id']}, total_amount={sent.json['total_amount']} "
            f"{sent.json['currency']} (minor units); staff deliver it by hand"
        )
        self.out.user("staff", f"/admin order deliver order_id:{order_id} (in #staff)")
        opener, _ = await self.stack.admin("order deliver", {"order_id": order_id})
        modal = opener.modal
        if modal is None:
            raise JourneyFailed("/admin order deliver did not open the delivery form")
        self.out.bot("staff", {"content": f"(a form) {modal.get('title')}"})
        self.out.user("staff", "types the account details and submits")
        delivered = await self.emu.submit_modal(
            self.emu.world.staff_id,
            modal["custom_id"],
            {modal_input(modal): "user: asha@example.com\npass: Str3am-Demo"},
        )
        await delivered.wait_for_response()
        self.out.bot("staff, only they see it", await delivered.wait_for_followup(timeout=15))
        await self.staff_line(f"delivered order `{order_id}`")
        dm = await self.dm(buyer, order_id)
        if "Str3am-Demo" not in text_of(dm):
            raise JourneyFailed("the delivery DM did not carry what staff typed")

    async def tracking(self) -> None:
        self.out.heading("Journey 3: staff link an existing digital-shop order to a member")
        buyer = self.emu.world.buyer_id
        remote = self.stack.sandbox.state("digital_shop").create_order(
            productName="Streaming account (family plan)",
            timeline=[
                {"after": 0, "status": "PROCESSING"},
                {
                    "after": 3,
                    "status": "COMPLETED",
                    "deliveryData": "user: demo@example.com\npass: demo-Pa55",
                },
            ],
        )
        order_id = await self._link(remote, buyer)
        self.out.note(f"tracked as {order_id}; the bot polls it until it completes…")
        dm = await self.dm(buyer, order_id)
        if "demo-Pa55" not in text_of(dm):
            raise JourneyFailed("the delivery DM did not carry the credentials")

    async def closed_dms(self) -> None:
        self.out.heading("Journey 3b: a buyer with closed DMs still learns the order finished")
        buyer2 = self.emu.world.buyer2_id
        self.emu.set_dms_closed(buyer2, True)
        remote = self.stack.sandbox.state("digital_shop").create_order(
            productName="Game key",
            timeline=[
                {
                    "after": 0,
                    "status": "COMPLETED",
                    "items": [{"uid": "key-1", "content": "AAAA-BBBB-CCCC"}],
                }
            ],
        )
        self.out.note("buyer2's DMs are closed")
        order_id = await self._link(remote, buyer2)
        notice = await self.emu.wait_for_channel_message(
            self.emu.world.notice_channel_id,
            timeout=30,
            predicate=lambda m: notice_marker_line(order_id, "final") in m["content"],
        )
        self.out.bot("#notices (public: names no order, product or delivery)", notice)
        if "AAAA-BBBB" in notice["content"]:
            raise JourneyFailed("the public notice leaked the delivery")
        driven = await self.slash(buyer2, "order", {"id": order_id})
        reply = await driven.wait_for_followup(timeout=15)
        self.out.bot("buyer2, only they see it", reply)
        if "AAAA-BBBB-CCCC" not in text_of(reply):
            raise JourneyFailed("/order did not show the owner their delivery")

    async def orders(self) -> None:
        self.out.heading("Journey 4: a buyer checks their orders and their store credit")
        buyer = self.emu.world.buyer_id
        driven = await self.slash(buyer, "orders", {})
        self.out.bot("buyer, only they see it", await driven.wait_for_followup(timeout=15))
        driven = await self.slash(buyer, "wallet", {})
        statement = await driven.wait_for_followup(timeout=15)
        self.out.bot("buyer, only they see it", statement)
        topped_up = any(paid_from_wallet(p) for p in self.products)
        paid_orders = any(paid_from_wallet(p) for p in (self.boost_product, self.digital_product))
        if topped_up and "Top-up" not in text_of(statement):
            raise JourneyFailed("/wallet did not show the top-ups")
        if paid_orders and "Order `" not in text_of(statement):
            raise JourneyFailed("/wallet did not show the orders paid from it")

    async def review(self) -> None:
        self.out.heading("Journey 5: staff resolve an order whose outcome is unknown")
        if self.boost_product is None:
            return self.skip("boosts (this journey uses the boost reseller)")
        if self.boost_product.payment is PaymentMode.APPROVAL:
            return self.skip("boosts paid at Confirm (this one waits for approval)")
        buyer = self.emu.world.buyer_id
        boost = self.stack.sandbox.state("boost")
        boost.add_fault(Fault("server_error", method="POST"))
        posts_before = len([r for r in boost.requests if r.method == "POST"])
        self.out.note("the boost reseller answers the next order with a 500 (did it take it?)")
        driven = await self.slash(buyer, "boost", self.boost_options("shopdemo"))
        confirmation = await driven.wait_for_followup(timeout=15)
        result = await self.confirm(buyer, confirmation)
        order_id = text_of(confirmation).split("(Order ")[1].split(")")[0]
        if "Staff are checking" not in text_of(result):
            raise JourneyFailed(f"the ambiguous boost was not handed to staff: {text_of(result)}")
        await self.staff_line(f"Order `{order_id}` by")
        remote = boost.create_order(
            timeline=[{"after": 0, "status": "PROCESSING"}, {"after": 2, "status": "COMPLETED"}]
        )
        self.out.note(f"staff check the reseller's panel: it does have the order, as {remote}")
        self.out.user("staff", f"/admin order retry order_id:{order_id} (in #staff)")
        retry, offer = await self.stack.admin("order retry", {"order_id": order_id})
        self.out.bot("staff, only they see it", offer)
        self.out.user("staff", "presses [Mark placed…] and gives the reseller's id")
        pressed = await self.emu.press_button(
            self.emu.world.staff_id, offer, f"admin-review:{retry.id}:placed"
        )
        await pressed.wait_for_response()
        submitted = await self.emu.submit_modal(
            self.emu.world.staff_id,
            f"admin-placed:{pressed.id}",
            {"placed:remote_id": remote},
            source_interaction=pressed,
        )
        await submitted.wait_for_response()
        self.out.bot("staff, only they see it", await submitted.wait_for_followup(timeout=15))
        await self.staff_line(f"marked order `{order_id}` as placed")
        await self.dm(buyer, order_id)
        posts = len([r for r in boost.requests if r.method == "POST"]) - posts_before
        if posts != 1:
            raise JourneyFailed(f"the reseller received {posts} POSTs for one order")
        self.out.note("the reseller received exactly one POST for this order: it was never re-sent")

    async def run_the_shop(self) -> None:
        self.out.heading("Journey 6: staff run the shop: pause, providers, stats")
        buyer2 = self.emu.world.buyer2_id
        await self._staff("shop pause", {"reason": "stocktaking, back at 6pm"})
        await self.staff_line("paused the shop")
        if self.boost_product is not None:
            driven = await self.slash(buyer2, "boost", self.boost_options("shopdemo"))
            refused = await driven.wait_for_followup(timeout=15)
        else:
            assert self.digital_product is not None
            driven = await self.slash(
                buyer2, "buy", {"product": self.digital_product.key, "quantity": 1}
            )
            refused = await driven.wait_for_response()
            refused = refused.get("data") or refused
        self.out.bot("buyer2, only they see it", refused)
        if "back at 6pm" not in text_of(refused):
            raise JourneyFailed("a paused shop did not tell the buyer why")
        await self._staff("shop resume", {})
        await self.staff_line("resumed the shop")
        await self._staff("providers", {})
        answer = await self._staff("stats", {"days": 7})
        files = [a["filename"] for a in answer.get("attachments") or []]
        if not files or not files[0].endswith(".png"):
            raise JourneyFailed("/admin stats attached no chart")
        png = self.emu.attachment_bytes(answer["attachments"][0])
        self.out.note(f"the chart is {files[0]} ({len(png):,} bytes of PNG)")

    async def _staff(self, path: str, options: dict[str, Any]) -> dict[str, Any]:
        shown = " ".join(
            f"{k}:@{self.display_name(v)}" if k == "member" else f"{k}:{v}"
            for k, v in options.items()
        )
        self.out.user("staff", f"/admin {path} {shown} (in #staff)".replace("  ", " "))
        _, answer = await self.stack.admin(path, options)
        self.out.bot("staff, only they see it", answer)
        return answer

    async def _link(self, remote: str, member_id: int) -> str:
        self.out.user(
            "staff",
            f"/admin order link provider:digital_shop remote_id:{remote} "
            f"member:@{self.display_name(member_id)} (in #staff)",
        )
        return await self.stack.staff_link_order("digital_shop", remote, member_id)


SHIPPED_CATALOG = Path(__file__).resolve().parents[1] / "catalog.toml"


async def run(workdir: Path, catalog_path: Path, catalog: Catalog, *, keep: bool) -> int:
    """Walk the journeys. `keep`: the work directory stays afterwards (always on failure)."""
    out = Transcript()
    stack = LocalStack(
        workdir,
        env={
            "PAYMENT_MODE": "wallet",
            "TOP_UP_INSTRUCTIONS": "Pay by UPI to shop@upi, then open a ticket with the receipt.",
            "CATALOG_PATH": str(catalog_path),
        },
    )
    print("Starting the sandbox providers, the Discord emulator and the bot…", flush=True)
    print(f"Catalog: {catalog_path} ({len(catalog)} product(s))", flush=True)
    await stack.sandbox.start()
    stack.sandbox.state("boost").set_default_timeline(
        [
            {"after": 0, "status": "PENDING"},
            {"after": 2, "status": "PROCESSING"},
            {"after": 4, "status": "COMPLETED"},
        ]
    )
    await stack.emulator.start()
    out.world = stack.emulator.world
    failed = False
    try:
        await stack.start_bot()
        kept = (
            "kept" if keep else "removed at the end unless something fails (--workdir DIR keeps it)"
        )
        print(
            f"Bot online (pid {stack.process.pid if stack.process else '?'}); its database and "
            f"log are in {workdir} ({kept})",
            flush=True,
        )
        await stack.let_staff_see_admin()
        out.note(
            "the shop owner lets the staff role see /admin "
            "(Server Settings → Integrations → the bot → /admin)"
        )
        demo = Demo(stack, out, catalog)
        journeys: list[Callable[[], Awaitable[None]]] = [
            demo.top_up,
            demo.boost,
            demo.buy,
            demo.tracking,
            demo.closed_dms,
            demo.orders,
            demo.review,
            demo.run_the_shop,
        ]
        for journey in journeys:
            await journey()
        stack.emulator.assert_no_contract_violations()
    except Exception as exc:  # whatever went wrong, the work folder is kept to look at
        failed = True
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        print("--- last bot log lines ---", file=sys.stderr)
        print(stack.bot_log()[-3000:], file=sys.stderr)
        return 1
    finally:
        await stack.stop()
        if failed or keep:
            print(f"The database and the bot's log are kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nAll journeys worked in {time.monotonic() - out.started:.1f}s. Demo finished.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, help="keep the database and the bot's log in this folder"
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=SHIPPED_CATALOG,
        help="walk the journeys with your own catalog.toml (default: the shipped example)",
    )
    args = parser.parse_args()
    try:
        # The catalog's own words for its problems, before anything starts.
        catalog = load_catalog(args.catalog)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="orderbot-demo-"))
    return asyncio.run(run(workdir, args.catalog.resolve(), catalog, keep=args.workdir is not None))


if __name__ == "__main__":
    sys.exit(main())
