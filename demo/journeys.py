"""The demo's journeys: a scripted buyer and staff member walk the shop through the
Discord emulator, and each step and answer goes into the transcript.

Each journey is an `async def journey(shop: Shop)`, where `Shop` is the running stack,
the transcript and what the catalog sells (a journey needing something it doesn't sell
says so and is skipped). `walk` runs them all, in order, on a `LocalStack` started with
`stack_env` and `set_the_scene`. A journey raises `JourneyFailed` with the reason when
the bot does not do what it should."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.catalog import Catalog, Product
from bot.presenters import notice_marker_line, notification_marker
from core import i18n
from core.domain import ORDER_ID_RE, Money, OrderKind, PaymentMode
from demo.payments import PaymentSandboxes
from demo.shop import (
    JourneyFailed,
    Shop,
    credit_text,
    custom_id,
    first_answer,
    mentions,
    modal_input,
    paid_from_wallet,
    quantity_for,
)
from demo.stack import LocalStack
from demo.transcript import Transcript, text_of
from sandbox.common import Fault

TOP_UP_INSTRUCTIONS = "Pay by UPI to shop@upi, then open a ticket with the receipt."


def demo_payments() -> PaymentSandboxes:
    """Online top-ups through the Razorpay sandbox, its webhooks to the bot."""
    return PaymentSandboxes()


def stack_env(catalog_path: Path) -> dict[str, str]:
    """The bot's settings for the journeys: buyers pay from store credit (the default),
    staff say how to top it up, and the shop sells what `catalog_path` lists."""
    return {
        "PAYMENT_MODE": "wallet",
        "TOP_UP_INSTRUCTIONS": TOP_UP_INSTRUCTIONS,
        "CATALOG_PATH": str(catalog_path),
    }


def set_the_scene(stack: LocalStack) -> None:
    """Once the sandbox providers run: the boost reseller moves each order through its
    statuses over a few seconds, as Journey 1 narrates."""
    stack.sandbox.state("boost").set_default_timeline(
        [
            {"after": 0, "status": "PENDING"},
            {"after": 2, "status": "PROCESSING"},
            {"after": 4, "status": "COMPLETED"},
        ]
    )


# --- the journeys --------------------------------------------------------------------


async def top_up(shop: Shop) -> None:
    shop.out.heading("Journey 0: a buyer pays the shop, staff add store credit")
    buyer = shop.emu.world.buyer_id
    wallet_paid: list[Product] = [p for p in shop.products if paid_from_wallet(p)]
    if not wallet_paid:
        return shop.skip("products paid from store credit (they are approval or free)")
    # A currency the shop takes online gets a draft with [Top up] instead of a refusal
    # (Journey 0b); the refusal is shown with one it doesn't.
    online = {"INR"} if shop.stack.payments is not None else set()
    offline = [p for p in wallet_paid if p.currency not in online]
    if not offline:
        shop.out.note(
            "every product here is priced in a currency paid online: an empty wallet gets "
            "[Top up] at the confirmation (Journey 0b); staff can still credit by hand"
        )
    else:
        product = offline[0]
        if product.kind is OrderKind.BOOST:
            options: dict[str, Any] = {"invite": "shopdemo", "amount": quantity_for(product)}
            if shop.several_boosts:
                options["product"] = product.key
            driven = await shop.slash(buyer, "boost", options)
        else:
            driven = await shop.slash(buyer, "buy", {"product": product.key, "quantity": 1})
        refused = await first_answer(driven)
        shop.out.bot("buyer, only they see it", refused)
        # This product's currency isn't paid online: the shop's own instructions.
        if TOP_UP_INSTRUCTIONS not in text_of(refused):
            raise JourneyFailed("an empty wallet did not tell the buyer how to top up")
    shop.out.note("the buyer pays by UPI and sends staff the receipt")
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
        await shop.staff("wallet credit", {"member": buyer, "amount": amount, "note": note})
        await shop.staff_line(note)
        await shop.emu.wait_for_dm(buyer, timeout=15, predicate=mentions(note))
    shop.out.bot(f"{shop.names[buyer]}'s DMs", shop.emu.dms(buyer)[-1])


async def top_up_online(shop: Shop) -> None:
    """A second buyer, with no store credit, orders something priced in a currency the
    shop takes online: the confirmation offers a top-up of exactly the difference, they
    pay on the payment page (the Razorpay sandbox's payer), the bot credits it and DMs
    the new balance, and Confirm places the order."""
    shop.out.heading("Journey 0b: a buyer tops up online, then orders")
    payments = shop.stack.payments
    if payments is None or payments.razorpay_url is None:
        return shop.skip("online payments (no payment provider in this stack)")
    product = next(
        (
            p
            for p in shop.products
            if paid_from_wallet(p) and p.currency == "INR" and p.kind is OrderKind.DIGITAL
        ),
        None,
    )
    if product is None:
        return shop.skip("digital products in INR paid from store credit")
    emu = shop.emu
    buyer = emu.world.buyer2_id
    driven = await shop.slash(buyer, "buy", {"product": product.key, "quantity": 1})
    if driven.modal is None:
        raise JourneyFailed(f"/buy {product.key} did not open the contact form")
    shop.out.user("buyer2", "fills in phone +91 91234 56789 and submits")
    submitted = await emu.submit_modal(
        buyer,
        str(driven.modal["custom_id"]),
        {"contact:phone": "+91 91234 56789", "contact:name": "", "contact:email": ""},
        source_interaction=driven,
    )
    await submitted.wait_for_response()
    confirmation = await submitted.wait_for_followup(timeout=15)
    shop.out.bot("buyer2, only they see it", confirmation)
    shop.out.user("buyer2", "presses [Top up]")
    pressed = await emu.press_button(buyer, confirmation, custom_id(confirmation, "order:topup:"))
    await pressed.wait_for_response()
    offer = await pressed.wait_for_followup(timeout=15)
    shop.out.bot("buyer2, only they see it", offer)
    footer = offer["embeds"][0]["footer"]["text"]
    topup_id = footer.split()[1]
    link = next(v for v in payments.razorpay.links.values() if v["reference_id"] == topup_id)
    shop.out.note(
        f"the [Pay] button opens {link['short_url']}; the buyer pays there (the sandbox's "
        "payer), and Razorpay sends the bot a signed webhook"
    )
    async with httpx.AsyncClient() as http:
        paid = await http.post(
            f"{payments.razorpay_url}/_sandbox/payment_links/{link['id']}/pay", json={}
        )
    shop.out.note(f"the bot answered the webhook with {paid.json()['deliveries']}")
    dm = await emu.wait_for_dm(
        buyer,
        timeout=30,
        predicate=lambda m: notification_marker(topup_id, "credited") in text_of(m),
    )
    shop.out.bot("buyer2's DMs", dm)
    result = await shop.confirm(buyer, confirmation)
    order_id = await shop.placed(product, result)
    await shop.staff_line(order_id)
    answer = await shop.staff("payments", {"state": "paid"})
    if topup_id not in text_of(answer):
        raise JourneyFailed("/admin payments did not list the paid top-up")


async def boost(shop: Shop) -> None:
    shop.out.heading("Journey 1: a buyer orders boosts, paid from store credit")
    if shop.boost_product is None:
        return shop.skip("boosts")
    buyer = shop.emu.world.buyer_id
    driven = await shop.slash(
        buyer, "boost", shop.boost_options("https://discord.gg/shopdemo", extra=1)
    )
    confirmation = await driven.wait_for_followup(timeout=15)
    shop.out.bot("buyer, only they see it", confirmation)
    if "Demo Server" not in text_of(confirmation):
        raise JourneyFailed("the confirmation did not name the invite's server")
    result = await shop.confirm(buyer, confirmation)
    order_id = await shop.placed(shop.boost_product, result)
    await shop.staff_line(order_id)
    shop.out.note("the provider moves it PENDING → PROCESSING → COMPLETED; the bot polls…")
    await shop.dm(buyer, order_id)
    await other_currencies(shop)


async def other_currencies(shop: Shop) -> None:
    """A shop that sells boosts in more than one currency: each is priced in its own, with
    its own decimals (BHD three, JPY none). The buyer looks, then cancels."""
    first = shop.boost_product
    assert first is not None
    buyer = shop.emu.world.buyer_id
    shown: set[str] = {first.currency}
    for product in shop.boosts[1:]:
        if product.currency in shown:
            continue
        shown.add(product.currency)
        quantity = quantity_for(product)
        options = {"invite": "shopdemo", "amount": quantity, "product": product.key}
        driven = await shop.slash(buyer, "boost", options)
        confirmation = await driven.wait_for_followup(timeout=15)
        shop.out.bot("buyer, only they see it", confirmation)
        price = shop.price(product.price_for(quantity))
        if price not in text_of(confirmation):
            raise JourneyFailed(f"{product.name} was not priced as {price}")
        shop.out.user("buyer", "presses [Cancel]")
        pressed = await shop.emu.press_button(
            buyer, confirmation, custom_id(confirmation, "order:cancel:")
        )
        await pressed.wait_for_original(lambda m: not (m.get("components") or []), timeout=15)


async def buy(shop: Shop) -> None:
    shop.out.heading("Journey 2: a buyer orders a digital product")
    product = shop.digital_product
    if product is None:
        return shop.skip("digital products")
    emu = shop.emu
    buyer = emu.world.buyer_id
    typed = product.name[:3]
    choices = await emu.send_autocomplete(buyer, "buy", {"product": typed}, "product")
    shop.out.user("buyer", f"types /buy product:{typed}…")
    shop.out.note("autocomplete offers: " + ", ".join(c["name"] for c in choices))
    driven = await shop.slash(
        buyer, "buy", {"product": product.key, "quantity": quantity_for(product)}
    )
    if driven.modal is None:
        answer = driven.followups[-1] if driven.followups else {}
        raise JourneyFailed(
            f"/buy {product.key} did not ask for the contact details the checkout API "
            f"needs; it answered: {text_of(answer)[:300]}"
        )
    shop.out.bot("buyer", {"content": f"(a form) {driven.modal.get('title')}: phone, name, email"})
    shop.out.user("buyer", "fills in phone +91 98765 43210, name Asha, and submits")
    submitted = await emu.submit_modal(
        buyer,
        str(driven.modal["custom_id"]),  # unique to this /buy: two buyers' forms can't cross
        {"contact:phone": "+91 98765 43210", "contact:name": "Asha", "contact:email": ""},
        source_interaction=driven,
    )
    await submitted.wait_for_response()
    confirmation = await submitted.wait_for_followup(timeout=15)
    shop.out.bot("buyer, only they see it", confirmation)
    result = await shop.confirm(buyer, confirmation)
    order_id = await shop.placed(product, result)
    await shop.staff_line(order_id)
    sent = [r for r in shop.stack.sandbox.state("checkout").requests if r.method == "POST"][-1]
    shop.out.note(
        f"the checkout API received id={sent.json['id']}, total_amount={sent.json['total_amount']} "
        f"{sent.json['currency']} (minor units); staff deliver it by hand"
    )
    shop.out.user("staff", f"/admin order deliver order_id:{order_id} (in #staff)")
    opener, _ = await shop.stack.admin("order deliver", {"order_id": order_id})
    modal = opener.modal
    if modal is None:
        raise JourneyFailed("/admin order deliver did not open the delivery form")
    shop.out.bot("staff", {"content": f"(a form) {modal.get('title')}"})
    shop.out.user("staff", "types the account details and submits")
    delivered = await emu.submit_modal(
        emu.world.staff_id,
        modal["custom_id"],
        {modal_input(modal): "user: asha@example.com\npass: Str3am-Demo"},
    )
    await delivered.wait_for_response()
    shop.out.bot("staff, only they see it", await delivered.wait_for_followup(timeout=15))
    await shop.staff_line(f"delivered order `{order_id}`")
    dm = await shop.dm(buyer, order_id)
    if "Str3am-Demo" not in text_of(dm):
        raise JourneyFailed("the delivery DM did not carry what staff typed")


async def tracking(shop: Shop) -> None:
    shop.out.heading("Journey 3: staff link an existing digital-shop order to a member")
    buyer = shop.emu.world.buyer_id
    remote = shop.stack.sandbox.state("digital_shop").create_order(
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
    order_id = await shop.link(remote, buyer)
    shop.out.note(f"tracked as {order_id}; the bot polls it until it completes…")
    dm = await shop.dm(buyer, order_id)
    if "demo-Pa55" not in text_of(dm):
        raise JourneyFailed("the delivery DM did not carry the credentials")


async def closed_dms(shop: Shop) -> None:
    shop.out.heading("Journey 3b: a buyer with closed DMs still learns the order finished")
    emu = shop.emu
    buyer2 = emu.world.buyer2_id
    emu.set_dms_closed(buyer2, True)
    remote = shop.stack.sandbox.state("digital_shop").create_order(
        productName="Game key",
        timeline=[
            {
                "after": 0,
                "status": "COMPLETED",
                "items": [{"uid": "key-1", "content": "AAAA-BBBB-CCCC"}],
            }
        ],
    )
    shop.out.note("buyer2's DMs are closed")
    order_id = await shop.link(remote, buyer2)
    notice = await emu.wait_for_channel_message(
        emu.world.notice_channel_id,
        timeout=30,
        predicate=lambda m: notice_marker_line(order_id, "final") in m["content"],
    )
    shop.out.bot("#notices (public: names no order, product or delivery)", notice)
    if "AAAA-BBBB" in notice["content"]:
        raise JourneyFailed("the public notice leaked the delivery")
    driven = await shop.slash(buyer2, "order", {"id": order_id})
    reply = await driven.wait_for_followup(timeout=15)
    shop.out.bot("buyer2, only they see it", reply)
    if "AAAA-BBBB-CCCC" not in text_of(reply):
        raise JourneyFailed("/order did not show the owner their delivery")


async def orders(shop: Shop) -> None:
    shop.out.heading("Journey 4: a buyer checks their orders and their store credit")
    buyer = shop.emu.world.buyer_id
    driven = await shop.slash(buyer, "orders", {})
    shop.out.bot("buyer, only they see it", await driven.wait_for_followup(timeout=15))
    driven = await shop.slash(buyer, "wallet", {})
    statement = await driven.wait_for_followup(timeout=15)
    shop.out.bot("buyer, only they see it", statement)
    topped_up = any(paid_from_wallet(p) for p in shop.products)
    paid_orders = any(paid_from_wallet(p) for p in (shop.boost_product, shop.digital_product))
    if topped_up and shop.said("Top-up") not in text_of(statement):
        raise JourneyFailed("/wallet did not show the top-ups")
    if paid_orders and re.search(ORDER_ID_RE, text_of(statement)) is None:
        raise JourneyFailed("/wallet did not show the orders paid from it")


async def review(shop: Shop) -> None:
    shop.out.heading("Journey 5: staff resolve an order whose outcome is unknown")
    if shop.boost_product is None:
        return shop.skip("boosts (this journey uses the boost reseller)")
    if shop.boost_product.payment is PaymentMode.APPROVAL:
        return shop.skip("boosts paid at Confirm (this one waits for approval)")
    emu = shop.emu
    buyer = emu.world.buyer_id
    reseller = shop.stack.sandbox.state("boost")
    reseller.add_fault(Fault("server_error", method="POST"))
    posts_before = len([r for r in reseller.requests if r.method == "POST"])
    shop.out.note("the boost reseller answers the next order with a 500 (did it take it?)")
    driven = await shop.slash(buyer, "boost", shop.boost_options("shopdemo"))
    confirmation = await driven.wait_for_followup(timeout=15)
    result = await shop.confirm(buyer, confirmation)
    found = re.search(ORDER_ID_RE, text_of(confirmation))
    if found is None:
        raise JourneyFailed("the confirmation names no order")
    order_id = found.group(0)
    if shop.said("Order needs review") not in text_of(result):
        raise JourneyFailed(f"the ambiguous boost was not handed to staff: {text_of(result)}")
    await shop.staff_line(f"Order `{order_id}` by")
    remote = reseller.create_order(
        timeline=[{"after": 0, "status": "PROCESSING"}, {"after": 2, "status": "COMPLETED"}]
    )
    shop.out.note(f"staff check the reseller's panel: it does have the order, as {remote}")
    shop.out.user("staff", f"/admin order retry order_id:{order_id} (in #staff)")
    retry, offer = await shop.stack.admin("order retry", {"order_id": order_id})
    shop.out.bot("staff, only they see it", offer)
    shop.out.user("staff", "presses [Mark placed…] and gives the reseller's id")
    pressed = await emu.press_button(emu.world.staff_id, offer, f"admin-review:{retry.id}:placed")
    await pressed.wait_for_response()
    submitted = await emu.submit_modal(
        emu.world.staff_id,
        f"admin-placed:{pressed.id}",
        {"placed:remote_id": remote},
        source_interaction=pressed,
    )
    await submitted.wait_for_response()
    shop.out.bot("staff, only they see it", await submitted.wait_for_followup(timeout=15))
    await shop.staff_line(f"marked order `{order_id}` as placed")
    await shop.dm(buyer, order_id)
    shop.reviewed = order_id
    posts = len([r for r in reseller.requests if r.method == "POST"]) - posts_before
    if posts != 1:
        raise JourneyFailed(f"the reseller received {posts} POSTs for one order")
    shop.out.note("the reseller received exactly one POST for this order: it was never re-sent")


async def run_the_shop(shop: Shop) -> None:
    shop.out.heading("Journey 6: staff run the shop: pause, providers, stats")
    buyer2 = shop.emu.world.buyer2_id
    await shop.staff("shop pause", {"reason": "stocktaking, back at 6pm"})
    await shop.staff_line("paused the shop")
    if shop.boost_product is not None:
        driven = await shop.slash(buyer2, "boost", shop.boost_options("shopdemo"))
        refused = await driven.wait_for_followup(timeout=15)
    else:
        assert shop.digital_product is not None
        driven = await shop.slash(
            buyer2, "buy", {"product": shop.digital_product.key, "quantity": 1}
        )
        refused = await driven.wait_for_response()
        refused = refused.get("data") or refused
    shop.out.bot("buyer2, only they see it", refused)
    if "back at 6pm" not in text_of(refused):
        raise JourneyFailed("a paused shop did not tell the buyer why")
    await shop.staff("shop resume", {})
    await shop.staff_line("resumed the shop")
    if shop.reviewed is not None:
        # What follows counts Journey 5's order as completed: the reseller finishes it a
        # couple of seconds after staff mark it placed. Its last DM (not shown) says the bot
        # has it, however quickly the journeys got here.
        final = notification_marker(shop.reviewed, "final")
        await shop.emu.wait_for_dm(
            shop.emu.world.buyer_id, timeout=30, predicate=lambda m: final in text_of(m)
        )
    await shop.staff("providers", {})
    answer = await shop.staff("stats", {"days": 7})
    files = [a["filename"] for a in answer.get("attachments") or []]
    if not files or not files[0].endswith(".png"):
        raise JourneyFailed("/admin stats attached no chart")
    png = shop.emu.attachment_bytes(answer["attachments"][0])
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise JourneyFailed("/admin stats attached a chart that is no PNG")
    saved = shop.stack.workdir / files[0]
    saved.write_bytes(png)
    shop.out.note(
        f"the chart is saved at {saved} ({len(png):,} bytes of PNG): open it; it stays "
        "after the demo"
    )


Journey = Callable[[Shop], Awaitable[None]]

# In order: each builds on what the ones before left (store credit, orders, a paused shop).
JOURNEYS: tuple[Journey, ...] = (
    top_up,
    top_up_online,
    boost,
    buy,
    tracking,
    closed_dms,
    orders,
    review,
    run_the_shop,
)


async def speak(shop: Shop) -> None:
    """The buyers' language (python -m demo --language): Hindi comes from their Discord
    client's language; Bengali, which Discord doesn't have, they choose with /language."""
    if shop.language == "en":
        return
    shop.out.heading(f"The buyers read the shop in {i18n.language_name(shop.language, 'en')}")
    world = shop.emu.world
    for buyer in (world.buyer_id, world.buyer2_id):
        if i18n.language_from_discord(shop.language):
            world.users[buyer].locale = shop.language
            shop.out.note(f"{shop.names[buyer]}'s Discord is set to {shop.language}")
            continue
        driven = await shop.slash(buyer, "language", {"language": shop.language})
        shop.out.bot(f"{shop.names[buyer]}, only they see it", await first_answer(driven))


async def walk(stack: LocalStack, out: Transcript, catalog: Catalog, language: str = "en") -> None:
    """Every journey, in order, on a started stack whose staff can see /admin, with the
    buyers reading `language`; then no REST body the bot sent broke Discord's contract."""
    shop = Shop(stack, out, catalog, language)
    await speak(shop)
    for journey in JOURNEYS:
        await journey(shop)
    stack.emulator.assert_no_contract_violations()
