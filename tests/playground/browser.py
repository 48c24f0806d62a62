"""The playground as its tests run it (issue 31): `orderbot playground` in a shop owner's
folder, with their own catalog and a real-looking `.env` beside it, and what a person does
on its page in headless Chromium (Debian's, driven by Playwright; never downloaded).

A helper module, not collected: the fixtures are in conftest.py, the tests in test_*.py.
"""

from __future__ import annotations

import dataclasses
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.support import REPO_ROOT

#: Screenshots for a person to look at (not committed): .artifacts/playground/.
ARTIFACTS = REPO_ROOT / ".artifacts" / "playground"

XSS_NAME = "<img src=x onerror=\"document.title='pwned'\">"

OWNER_CATALOG = f"""
[[products]]
key = "nitro-boost"
name = "Nitro Boost Pack"
description = "Boosts for your server, from our own reseller."
provider = "boost"
kind = "boost"
unit_price = 250
currency = "USD"
min_quantity = 2
max_quantity = 14

[[products]]
key = "gift-card"
name = "Gift card 500"
provider = "checkout"
kind = "digital"
unit_price = 50000
currency = "INR"
min_quantity = 1
max_quantity = 3
options = {{ type = "digital_goods" }}

[[products]]
key = "vip-key"
name = "VIP key (approved by staff)"
provider = "checkout"
kind = "digital"
payment = "approval"
unit_price = 90000
currency = "INR"
min_quantity = 1
max_quantity = 1
options = {{ type = "digital_goods" }}

[[products]]
key = "odd-name"
name = '''{XSS_NAME}'''
provider = "checkout"
kind = "digital"
unit_price = 10000
currency = "INR"
min_quantity = 1
max_quantity = 1
options = {{ type = "digital_goods" }}
"""

# A shop owner's real settings, as `orderbot init` leaves them filled in: the playground
# must use none of them (the addresses point at a trap that counts what reaches it).
OWNER_TOKEN = "MTE5ODc2NTQzMjEwOTg3NjU0Mw.GhJkLm.owner-real-token-do-not-leak-0123456789"


def owner_env(trap_url: str, folder: Path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": OWNER_TOKEN,
        "DISCORD_API_BASE_URL": trap_url,
        "GUILD_ID": "123456789012345678",
        "STAFF_ROLE_ID": "223456789012345678",
        "STAFF_CHANNEL_ID": "323456789012345678",
        "DATABASE_PATH": str(folder / "owner-shop.sqlite3"),
        "DELIVERY_ENCRYPTION_KEY": "owner-key-owner-key-owner-key-owner-key-000=",
        "BOOST_API_BASE_URL": trap_url,
        "BOOST_API_KEY": "owner-boost-key-live-0123456789",
        "CHECKOUT_API_BASE_URL": trap_url,
        "CHECKOUT_API_KEY": "owner-checkout-key-live-0123456789",
        "RAZORPAY_KEY_ID": "rzp_live_OwnerKeyId01",
        "RAZORPAY_KEY_SECRET": "owner-razorpay-secret-live",
        "RAZORPAY_API_BASE_URL": trap_url,
        "PAYMENT_WEBHOOK_LISTEN": "127.0.0.1:1",
        # Settings the playground has no value of its own for: they must not reach it.
        "LOG_FILE": str(folder / "owner-bot.log"),
        "STAFF_LANGUAGE": "bn",
        # Settings are read whatever their case; a proxy would carry every request off.
        "stripe_secret_key": "sk_live_owner0123456789",
        "stripe_api_base_url": trap_url,
        "HTTPS_PROXY": trap_url,
        "http_proxy": trap_url,
    }


class Trap:
    """An HTTP server that records every request: nothing should ever reach it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        trap = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                trap.requests.append(f"{self.command} {self.path}")
                self.send_response(599)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclasses.dataclass
class RunningPlayground:
    url: str
    process: subprocess.Popen[str]
    workdir: Path
    folder: Path
    output: list[str]
    #: Reads the rest of the playground's output; it ends when the playground does.
    reader: threading.Thread

    def api(self, path: str) -> Any:
        origin = self.url.split("/play/")[0]
        response = httpx.get(self.url + path, headers={"Origin": origin}, timeout=10)
        response.raise_for_status()
        return response.json()


def start_playground(folder: Path, trap: Trap) -> Generator[RunningPlayground, None, None]:
    """`orderbot playground --catalog my-catalog.toml --workdir .` in the owner's folder,
    their settings both in `.env` there and exported in the shell, as a shop owner would
    run it: the bot's database and log land in that folder, beside the `.env`."""
    settings = owner_env(trap.url, folder)
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    (folder / "my-catalog.toml").write_text(OWNER_CATALOG)
    workdir = folder
    env = {**os.environ, **settings, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "playground",
            "--catalog",
            "my-catalog.toml",
            "--workdir",
            ".",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    url: str | None = None
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while url is None:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("the playground stopped before it was ready:\n" + "".join(output))
        output.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/play/[\w-]+/", line)
        if found:
            url = found.group(0)
        if time.monotonic() > deadline:
            raise AssertionError("the playground did not get ready:\n" + "".join(output))
    # The rest of its output is kept (a test reads it), without blocking the pipe.
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        yield RunningPlayground(url, process, workdir, folder, output, reader)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def chromium_path() -> str | None:
    return os.environ.get("ORDERBOT_CHROMIUM") or shutil.which("chromium")


# -- what a person does on the page -------------------------------------------------------


def be(page: Page, persona: str, language: str = "en-US") -> None:
    """Pick who you are ("Buyer", "Staff"...) and your Discord's language."""
    options = page.locator("#persona option")
    expect(options.first).to_be_attached()
    for index in range(options.count()):
        option = options.nth(index)
        if (option.text_content() or "").endswith(f"({persona})"):
            page.select_option("#persona", option.get_attribute("value"))
            break
    else:
        raise AssertionError(f"no persona {persona!r}")
    if page.input_value("#language") != language:
        page.select_option("#language", language)


def open_channel(page: Page, name: str) -> None:
    """`shop`, `staff`, `notices`, or `dm` (your DMs with the bot)."""
    target = "#dms li" if name == "dm" else f'#channels li[data-channel="{name}"]'
    page.click(target)
    expect(page.locator(target)).to_have_class(re.compile("active"))


def run_command(page: Page, label: str, **options: str) -> None:
    """Type `/label`, pick it from the list, fill the options, send."""
    page.fill("#command-input", "/" + label.split()[0])
    page.click(f'#suggestions li[data-label="{label}"]')
    for name, value in options.items():
        field = page.locator(f"#option-{name}")
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click("#send")
    expect(page.locator("#composer-error")).to_be_hidden()


def autocomplete(page: Page, option: str, typed: str, pick: str) -> None:
    field = page.locator(f"#option-{option}")
    field.fill(typed)
    choice = page.locator(f"#option-{option} ~ .choices li", has_text=pick)
    choice.first.click()


def last_message(page: Page, **filters: Any) -> Locator:
    return page.locator("#messages .message", **filters).last


def new_message(page: Page, action: Callable[[], None], has_text: str | re.Pattern[str]) -> Locator:
    """The message with `has_text` that `action` brings (a new one, or one edited into
    saying it): the channel may already hold older ones that say the same."""
    matching = page.locator("#messages .message", has_text=has_text)
    before = matching.count()
    action()
    expect(matching).to_have_count(before + 1)
    return matching.last


def fill_modal(page: Page, values: dict[str, str]) -> None:
    expect(page.locator("#modal-backdrop")).to_be_visible()
    for custom_id, value in values.items():
        page.fill(f'#modal-fields [data-input="{custom_id}"]', value)
    page.click("#modal-submit")


def advance(page: Page, provider: str, status: str, order_text: str = "") -> None:
    """In the provider's panel, move its newest order (or the one showing `order_text`)."""
    page.click(f'#provider-tabs button[data-provider="{provider}"]')
    orders = page.locator(f'.panel[data-provider="{provider}"] .order', has_text=order_text)
    orders.first.locator(f'button[data-action="{status}"]').click()
    expect(orders.first.locator(".status")).to_have_text(status)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
