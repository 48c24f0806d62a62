"""The playground is a tool for trying the bot on this computer, never a way to expose it
(issue 31): a random token in its address, Host and Origin checked on every request to
the emulator (its Discord API too), and nothing of the shop owner's own settings used."""

from __future__ import annotations

import re

import httpx
import pytest

from emulator.server import DEFAULT_TOKEN
from tests.playground.browser import OWNER_TOKEN, RunningPlayground, Trap

pytestmark = [pytest.mark.browser, pytest.mark.one_python, pytest.mark.subprocess]


def parts(playground: RunningPlayground) -> tuple[str, str, str]:
    """(origin, port, token) of the printed address."""
    found = re.fullmatch(r"(http://127\.0\.0\.1:(\d+))/play/([\w-]+)/", playground.url)
    assert found is not None, playground.url
    return found.group(1), found.group(2), found.group(3)


def test_it_answers_on_loopback_only_and_only_with_its_token(
    playground: RunningPlayground,
) -> None:
    origin, _port, token = parts(playground)
    assert len(token) >= 20
    page = httpx.get(playground.url, timeout=10)
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for wrong in ("/play/not-the-token/", "/play/not-the-token/api/world", "/play/"):
        answer = httpx.get(origin + wrong, timeout=10)
        assert answer.status_code == 404, (wrong, answer.status_code)
        assert token not in answer.text
    assert httpx.get(playground.url + "api/world", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "path", ["/play/{token}/", "/play/{token}/api/world", "/api/v10/gateway", "/_emulator/world"]
)
def test_a_dns_rebinding_host_is_refused_everywhere(
    playground: RunningPlayground, path: str
) -> None:
    """A page on evil.example that re-points its name at 127.0.0.1 reaches the port with
    its own Host: the page, its API, the Discord API and the emulator's driver all refuse."""
    origin, port, token = parts(playground)
    url = origin + path.format(token=token)
    answer = httpx.get(url, headers={"Host": f"evil.example:{port}"}, timeout=10)
    assert answer.status_code == 421
    assert token not in answer.text
    assert httpx.get(url, headers={"Host": f"localhost:{port}"}, timeout=10).status_code != 421


def test_a_request_from_another_site_is_refused(playground: RunningPlayground) -> None:
    origin, _port, _token = parts(playground)
    world = playground.api("api/world")
    buyer = world["personas"][0]
    shop = buyer["channels"][0]
    slash = {"as": buyer["id"], "channel": shop, "name": "wallet", "path": [], "options": {}}
    before = len(playground.api(f"api/view?as={buyer['id']}&channel={shop}")["messages"])
    evil = {"Origin": "http://evil.example"}
    # A cross-site form post or fetch carries the other site's origin; one with none is
    # not a browser's (a browser always says where a POST comes from).
    for headers in (evil, {}):
        answer = httpx.post(playground.url + "api/slash", json=slash, headers=headers, timeout=10)
        assert answer.status_code == 403, answer.text
    assert httpx.get(playground.url + "api/world", headers=evil, timeout=10).status_code == 403
    driver = {"user_id": buyer["id"], "name": "wallet", "channel_id": shop}
    answer = httpx.post(origin + "/_emulator/slash", json=driver, headers=evil, timeout=10)
    assert answer.status_code == 403
    after = len(playground.api(f"api/view?as={buyer['id']}&channel={shop}")["messages"])
    assert after == before, "a refused request still reached the bot"
    # The same request from the page itself goes through.
    answer = httpx.post(
        playground.url + "api/slash", json=slash, headers={"Origin": origin}, timeout=10
    )
    assert answer.status_code == 200, answer.text


def test_bad_requests_get_one_line_answers(playground: RunningPlayground) -> None:
    origin, _port, _token = parts(playground)
    headers = {"Origin": origin, "Content-Type": "application/json"}
    world = playground.api("api/world")
    buyer = world["personas"][0]["id"]
    staff_channel = world["channels"][1]["id"]
    cases = [
        ("api/slash", b"{not json", 400, "not JSON"),
        ("api/slash", b"[1, 2]", 400, "JSON object"),
        ("api/slash", b'{"as": "1", "channel": "1", "name": "wallet"}', 400, "its members"),
        (
            "api/slash",
            f'{{"as": "{buyer}", "channel": "{staff_channel}", "name": "wallet"}}'.encode(),
            403,
            "can't see",
        ),
        (
            "api/slash",
            f'{{"as": "{buyer}", "channel": "{world["channels"][0]["id"]}", "name": "boost", '
            f'"options": {{"invite": "x", "amount": "lots"}}}}'.encode(),
            400,
            "whole number",
        ),
        (
            "api/slash",
            f'{{"as": "{buyer}", "channel": "{world["channels"][0]["id"]}", "name": "wallet", '
            f'"options": [1]}}'.encode(),
            400,
            "options must be an object",
        ),
        (
            "api/slash",
            f'{{"as": "{buyer}", "channel": "{world["channels"][0]["id"]}", "name": "wallet", '
            f'"path": 5}}'.encode(),
            400,
            "path must be a list",
        ),
        (
            "api/select",
            f'{{"as": "{buyer}", "message": "1", "values": "abc"}}'.encode(),
            400,
            "values must be a list",
        ),
        ("api/providers/boost/orders/nope/COMPLETED", b"", 404, "nope"),
        ("api/providers/nobody/faults", b'{"kind": "hang"}', 404, "nobody"),
        ("api/providers/boost/faults", b'{"kind": "malformed"}', 400, "offers"),
        (
            "api/providers/boost/faults",
            b'{"kind": "rate_limit", "retry_after": "inf"}',
            400,
            "Retry-After",
        ),
    ]
    for path, body, status, said in cases:
        answer = httpx.post(playground.url + path, content=body, headers=headers, timeout=10)
        assert answer.status_code == status, (path, body, answer.text)
        error = answer.json()["error"]
        assert said in error and "\n" not in error and "Traceback" not in error, error


def test_the_owners_settings_are_never_used_or_shown(
    playground: RunningPlayground, trap: Trap
) -> None:
    """The owner's folder holds a filled-in .env, and their shell exports the same: the
    bot ran on the emulator and the sandboxes, never on those (the trap saw nothing), and
    neither the playground's output nor the bot's log shows them."""
    playground.api("api/world")
    assert trap.requests == []
    assert not (playground.folder / "owner-shop.sqlite3").exists()
    assert not (playground.folder / "owner-bot.log").exists()
    log = (playground.workdir / "bot.log").read_text()
    assert "Logged in" in log or "connected" in log.lower(), log[-2000:]
    for text in ("".join(playground.output), log):
        assert OWNER_TOKEN not in text
        assert "owner-boost-key-live" not in text
        assert trap.url not in text


def test_nothing_on_the_port_works_without_the_token_or_the_bots_secret(
    playground: RunningPlayground,
) -> None:
    """Another program on this computer finds no driver to act as a member, and the
    Discord API wants the token only the bot was given (random, unlike the emulator's
    default)."""
    origin, _port, _token = parts(playground)
    for path in ("/_emulator/world", "/_emulator/state", "/_emulator/dms/1"):
        assert httpx.get(origin + path, timeout=10).status_code == 404, path
    answer = httpx.post(origin + "/_emulator/slash", json={}, timeout=10)
    assert answer.status_code == 404
    api = origin + "/api/v10/users/@me"
    assert (
        httpx.get(api, headers={"Authorization": f"Bot {DEFAULT_TOKEN}"}, timeout=10).status_code
        == 401
    )
    assert httpx.get(origin + "/favicon.ico", timeout=10).status_code == 204
    assert httpx.get(playground.url + "api/nothing-here", timeout=10).status_code == 404
