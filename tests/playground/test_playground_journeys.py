"""The playground in headless Chromium (issue 31): a person uses the shop on the page,
as each kind of member, and sees what the bot did, as Discord would show it.

One `orderbot playground` runs for the module, started in a shop owner's folder with their
own catalog and a real-looking `.env` (conftest.py, tests/playground/browser.py).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.playground.browser import (
    XSS_NAME,
    RunningPlayground,
    advance,
    autocomplete,
    be,
    fill_modal,
    last_message,
    new_message,
    open_channel,
    run_command,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.one_python, pytest.mark.subprocess]

ORDER_ID = re.compile(r"ORD-[0-9A-Z]{10}")


def order_id_in(text: str) -> str:
    found = ORDER_ID.search(text)
    assert found is not None, f"no order id in {text!r}"
    return found.group(0)


def test_a_buyer_boosts_and_gets_the_completion_dm(page: Page) -> None:
    be(page, "Buyer")
    open_channel(page, "shop")
    run_command(page, "boost", invite="shopdemo", amount="3")
    confirm = last_message(page).locator("button[data-custom-id^='order:confirm:']")
    submitted = new_message(page, confirm.click, "Order submitted")
    expect(submitted).to_contain_text("Only you can see this")
    expect(submitted.locator(".used")).to_contain_text("Buyer One used /boost")
    order_id = order_id_in(submitted.inner_text())

    # The boost reseller's panel holds the order the bot placed; the shop owner moves it on.
    advance(page, "boost", "PROCESSING", "3 boosts for discord.gg/shopdemo")
    advance(page, "boost", "COMPLETED", "3 boosts for discord.gg/shopdemo")
    dm_badge = page.locator("#dms li .unread")
    expect(dm_badge).to_be_visible()
    open_channel(page, "dm")
    done = last_message(page, has_text=order_id)
    expect(done).to_contain_text("completed", ignore_case=True)
    screenshot(page, "2-boost-completed-dm")


def buy_through_the_form(
    page: Page, product_typed: str, product_shown: str, phone: str, name: str = ""
) -> None:
    """`/buy`, the product picked from the live autocomplete, then the contact form."""
    page.fill("#command-input", "/buy")
    page.click('#suggestions li[data-label="buy"]')
    autocomplete(page, "product", product_typed, product_shown)
    # The box shows the choice's name, as Discord does; its value is what is sent.
    expect(page.locator("#option-product")).to_have_value(re.compile(re.escape(product_shown)))
    page.fill("#option-quantity", "1")
    page.click("#send")
    expect(page.locator("#modal-title")).to_have_text("Contact details")
    fill_modal(page, {"contact:phone": phone, "contact:name": name})


def confirm_last(page: Page, expected: str) -> str:
    """Press Confirm on the newest confirmation; the order id once it says `expected`."""
    button = page.locator("#messages button[data-custom-id^='order:confirm:']").last
    placed = new_message(page, button.click, expected)
    return order_id_in(placed.inner_text())


def test_a_buyer_buys_through_the_contact_form_and_staff_deliver_it(page: Page) -> None:
    be(page, "Buyer")
    open_channel(page, "shop")
    buy_through_the_form(page, "gift", "Gift card 500", "+91 98765 43210", "Asha")
    order_id = confirm_last(page, "Order submitted")
    expect(page.locator("#modal-backdrop")).to_be_hidden()

    # Staff deliver it by hand, in #staff, through the form /admin order deliver opens.
    be(page, "Staff")
    open_channel(page, "staff")
    run_command(page, "admin order deliver", order_id=order_id)
    expect(page.locator("#modal-backdrop")).to_be_visible()
    fill_modal(page, {"deliver:text": "GIFT-CODE-7731-ABCD"})
    expect(last_message(page, has_text=order_id)).to_contain_text("delivered", ignore_case=True)

    be(page, "Buyer")
    open_channel(page, "dm")
    delivered = last_message(page, has_text=order_id)
    expect(delivered).to_contain_text("GIFT-CODE-7731-ABCD")
    screenshot(page, "4-staff-delivery-dm")


def test_staff_approve_an_order_from_its_button_in_the_staff_channel(page: Page) -> None:
    be(page, "Second buyer")
    open_channel(page, "shop")
    buy_through_the_form(page, "VIP", "VIP key (approved by staff)", "+91 91234 56789")
    order_id = confirm_last(page, "awaiting approval")

    be(page, "Staff")
    open_channel(page, "staff")
    waiting = last_message(page, has_text=order_id)
    waiting.locator("button[data-custom-id^='approval:approve:']").click()
    approved = page.locator("#messages .message", has_text=order_id).filter(has_text="pproved")
    expect(approved.first).to_be_visible()

    be(page, "Second buyer")
    open_channel(page, "dm")
    expect(last_message(page, has_text=order_id)).to_be_visible()


def test_a_member_without_the_staff_role_is_refused_admin(
    page: Page, playground: RunningPlayground
) -> None:
    be(page, "Member without the staff role")
    expect(page.locator('#channels li[data-channel="staff"]')).to_have_count(0)
    page.fill("#command-input", "/admin")
    expect(page.locator("#suggestions")).to_contain_text("No command matches /admin")
    page.press("#command-input", "Enter")
    expect(page.locator("#composer-error")).to_have_text(
        "No command /admin is available to you here."
    )
    # What the page offers is what the emulator lets this member run: staff get /admin.
    world = playground.api("api/world")
    member = next(p for p in world["personas"] if p["label"] == "Member without the staff role")
    staff = next(p for p in world["personas"] if p["label"] == "Staff")
    shop = member["channels"][0]
    offered = playground.api(f"api/view?as={member['id']}&channel={shop}")["commands"]
    assert "admin" not in {c["name"] for c in offered}
    assert "buy" in {c["name"] for c in offered}
    offered = playground.api(f"api/view?as={staff['id']}&channel={shop}")["commands"]
    assert "admin" in {c["name"] for c in offered}


def test_a_buyer_with_closed_dms_is_told_in_notices_without_the_delivery(page: Page) -> None:
    be(page, "Buyer with closed DMs")
    open_channel(page, "dm")
    expect(page.locator("#notice-line")).to_contain_text("can't DM you")
    open_channel(page, "shop")
    buy_through_the_form(page, "gift", "Gift card 500", "+91 99887 76655")
    order_id = confirm_last(page, "Order submitted")

    be(page, "Staff")
    open_channel(page, "staff")
    run_command(page, "admin order deliver", order_id=order_id)
    fill_modal(page, {"deliver:text": "SECRET-QUIET-CODE-9911"})
    expect(last_message(page, has_text=order_id)).to_be_visible()

    be(page, "Buyer with closed DMs")
    open_channel(page, "notices")
    notice = last_message(page, has_text="Quiet Buyer")
    expect(notice).to_be_visible()
    expect(page.locator("#messages")).not_to_contain_text("SECRET-QUIET-CODE-9911")
    open_channel(page, "dm")
    expect(page.locator("#messages")).not_to_contain_text("SECRET-QUIET-CODE-9911")


def test_admin_stats_shows_its_chart_as_an_image(page: Page) -> None:
    be(page, "Staff")
    open_channel(page, "staff")
    run_command(page, "admin stats", days="14")
    chart = last_message(page).locator("img.embed-image, img.attachment-image").first
    expect(chart).to_be_visible()
    width = chart.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 200, f"the chart did not load as an image (width {width})"
    expect(chart).to_be_in_viewport()
    screenshot(page, "7-admin-stats-chart")


def test_a_refused_form_offers_fix_it_which_reopens_it_filled_in(page: Page) -> None:
    be(page, "Second buyer")
    open_channel(page, "shop")
    # Long enough for the form (5 characters), not a phone number: the bot refuses it.
    refused = new_message(
        page,
        lambda: buy_through_the_form(page, "gift", "Gift card 500", "12345", "Ravi Kumar"),
        "phone",
    )
    fix = refused.locator("button[data-custom-id^='order:fixcontact:']")
    expect(fix).to_be_visible()
    # A form closed with Cancel leaves its button pressable again, as in Discord.
    fix.click()
    expect(page.locator("#modal-backdrop")).to_be_visible()
    page.click("#modal-cancel")
    expect(fix).to_be_enabled()
    fix.click()
    expect(page.locator("#modal-backdrop")).to_be_visible()
    expect(page.locator('[data-input="contact:phone"]')).to_have_value("12345")
    expect(page.locator('[data-input="contact:name"]')).to_have_value("Ravi Kumar")
    page.fill('[data-input="contact:phone"]', "+91 98123 45678")
    page.click("#modal-submit")
    expect(page.locator("#modal-backdrop")).to_be_hidden()
    expect(last_message(page).locator("button[data-custom-id^='order:confirm:']")).to_be_visible()


def test_wallet_balance_and_a_top_up_paid_in_the_payment_panel(page: Page) -> None:
    be(page, "Buyer")
    open_channel(page, "shop")
    new_message(page, lambda: run_command(page, "wallet"), "₹")
    link = new_message(
        page, lambda: run_command(page, "top-up", amount="500", currency="INR"), "500"
    )
    expect(link.locator("button.style-5")).to_be_visible()

    page.click('#provider-tabs button[data-provider="razorpay"]')
    payment = page.locator('.panel[data-provider="razorpay"] .order', has_text="500").first
    payment.locator('button[data-action="pay"]').click()
    expect(payment.locator(".status")).to_have_text("paid")

    open_channel(page, "dm")
    credited = last_message(page, has_text="from your online payment")
    expect(credited).to_contain_text("₹500.00 INR")
    found = re.search(r"Your balance: (\S+ INR)", credited.inner_text())
    assert found is not None, credited.inner_text()
    now = found.group(1)
    open_channel(page, "shop")
    new_message(page, lambda: run_command(page, "wallet"), now)


def test_text_from_the_catalog_and_from_a_form_is_shown_as_text(page: Page) -> None:
    be(page, "Second buyer")
    open_channel(page, "shop")
    page.fill("#command-input", "/buy")
    page.click('#suggestions li[data-label="buy"]')
    page.fill("#option-product", "<img")
    choice = page.locator("#option-product ~ .choices li", has_text="onerror")
    expect(choice).to_contain_text(XSS_NAME)
    choice.click()
    page.fill("#option-quantity", "1")
    page.click("#send")
    confirmation = new_message(
        page,
        lambda: fill_modal(page, {"contact:phone": "+91 98765 40000", "contact:name": XSS_NAME}),
        "onerror",
    )
    expect(confirmation).to_contain_text(XSS_NAME)
    assert page.locator('img[src="x"]').count() == 0
    assert page.title() != "pwned"


def test_the_page_speaks_the_buyers_language(page: Page) -> None:
    be(page, "Second buyer", "hi")
    try:
        page.fill("#command-input", "/")
        expect(page.locator("#suggestions")).to_contain_text("बूस्ट")
        page.click('#suggestions li[data-command="wallet"]')
        new_message(page, lambda: page.click("#send"), "स्टोर क्रेडिट")
    finally:
        page.select_option("#language", "en-US")


def test_a_long_delivery_arrives_as_a_text_file_to_download(
    page: Page, playground: RunningPlayground
) -> None:
    """A delivery too long for a message is DMed as a .txt: the page offers it as a
    download (never rendered, even when it holds HTML), and a PNG is shown as an image."""
    be(page, "Second buyer")
    open_channel(page, "shop")
    buy_through_the_form(page, "gift", "Gift card 500", "+91 97654 32100")
    order_id = confirm_last(page, "Order submitted")
    delivery = "<script>document.title='pwned'</script>\n```\n" + "CODE-" * 400
    be(page, "Staff")
    open_channel(page, "staff")
    run_command(page, "admin order deliver", order_id=order_id)
    fill_modal(page, {"deliver:text": delivery})
    expect(last_message(page, has_text=order_id)).to_contain_text("delivered", ignore_case=True)

    be(page, "Second buyer")
    open_channel(page, "dm")
    dm = last_message(page, has_text=order_id)
    link = dm.locator(".file a")
    expect(link).to_have_text(f"{order_id}-delivery.txt")
    assert dm.locator("img").count() == 0
    answer = httpx.get(
        playground.url + str(link.get_attribute("href")),
        headers={"Origin": playground.url.split("/play/")[0]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.text == delivery
    assert page.title() != "pwned"


def test_the_panel_keeps_what_was_typed_across_redraws(page: Page) -> None:
    """The panels are redrawn whenever a provider's state changes (every poll of the bot):
    a Retry-After being typed survives it."""
    page.click('#provider-tabs button[data-provider="boost"]')
    retry = page.locator('.panel[data-provider="boost"] .faults input')
    retry.fill("30")
    # Something changes in another provider: every panel is drawn again.
    page.click('#provider-tabs button[data-provider="digital_shop"]')
    page.click('.panel[data-provider="digital_shop"] button[data-fault="server_error"]')
    expect(page.locator("#provider-said")).to_contain_text("500")
    page.locator('.panel[data-provider="digital_shop"] .faults button', has_text="Clear").click()
    expect(page.locator("#provider-said")).to_contain_text("Cleared 1")
    page.click('#provider-tabs button[data-provider="boost"]')
    expect(retry).to_have_value("30")
    page.click('.panel[data-provider="boost"] button[data-fault="rate_limit"]')
    expect(page.locator("#provider-said")).to_contain_text("Retry-After: 30")
    page.locator('.panel[data-provider="boost"] .faults button', has_text="Clear").click()
    expect(page.locator("#provider-said")).to_contain_text("Cleared 1")


MARKDOWN_CASES = [
    ("***bold italic*** x", "<strong><em>bold italic</em></strong> x"),
    ("*a **b** c*", "<em>a <strong>b</strong> c</em>"),
    ("2 * 3 * 4", "2 * 3 * 4"),
    ("\\*not italic\\*", "*not italic*"),
    (
        "see https://en.wikipedia.org/wiki/Foo_(bar).",
        'see <a href="https://en.wikipedia.org/wiki/Foo_(bar)" target="_blank" '
        'rel="noopener noreferrer">https://en.wikipedia.org/wiki/Foo_(bar)</a>.',
    ),
    ("```\ncode\n```\nafter", "<pre><code>code</code></pre>after"),
    (">>> a\nb", "<blockquote>a\nb</blockquote>"),
    (">x", "&gt;x"),
    ("<t:99999999999999999999999999999999999999:R>", '<time class="timestamp"'),
    ("<b>bold?</b> [x](javascript:alert(1))", "&lt;b&gt;bold?&lt;/b&gt; [x](javascript:alert(1))"),
]


def test_discord_markdown_is_drawn_as_discord_draws_it(page: Page) -> None:
    """The page's own renderer, in the browser: what the bot's texts use, and text that
    only looks like markup stays text."""
    drawn = page.evaluate(
        """async (cases) => {
            const { markdown } = await import("./static/markdown.js");
            return cases.map((text) => {
                const box = document.createElement("div");
                box.append(...markdown(text));
                return box.innerHTML;
            });
        }""",
        [text for text, _ in MARKDOWN_CASES],
    )
    for (text, expected), html in zip(MARKDOWN_CASES, drawn, strict=True):
        assert html.startswith(expected), (text, html)
