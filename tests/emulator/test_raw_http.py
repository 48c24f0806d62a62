"""The emulator's HTTP and gateway surface, hit directly (no discord.py client)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest

from emulator import DEFAULT_TOKEN, Emulator
from emulator.contract import PACKAGED_SPEC, ContractChecker
from tests.support import REPO_ROOT

from .minibot import TOKEN, MiniBot

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bot {TOKEN}"}


async def _post_json(
    session: aiohttp.ClientSession, url: str, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    async with session.post(url, json=payload, headers=headers or {}) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers["Content-Type"]


async def test_json_content_type_is_exact(raw_emu: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{raw_emu.api_base}/users/@me", headers=AUTH) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["id"] == str(raw_emu.world.bot_user_id)


async def test_bad_token_is_401(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({"Authorization": "Bot nope"}, {}):
            async with session.get(f"{raw_emu.api_base}/users/@me", headers=headers) as resp:
                assert resp.status == 401
                assert await resp.json() == {"code": 0, "message": "401: Unauthorized"}


async def test_invalid_bodies_are_rejected_and_recorded(
    raw_emu: Emulator, needs_spec: None
) -> None:
    url = f"{raw_emu.api_base}/channels/{raw_emu.world.general_channel_id}/messages"
    async with aiohttp.ClientSession() as session:
        status, body, _ = await _post_json(session, url, {"content": 5}, AUTH)
        assert status == 400
        assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
        assert "content" in body["errors"]
        status, body, _ = await _post_json(session, url, {"embeds": {"title": "x"}}, AUTH)
        assert status == 400 and body["code"] == 50035
    assert [v.template for v in raw_emu.contract_violations] == [
        "/channels/{channel_id}/messages",
        "/channels/{channel_id}/messages",
    ]
    assert "content" in raw_emu.contract_violations[0].message
    assert raw_emu.channel_messages(raw_emu.world.general_channel_id) == []
    with pytest.raises(AssertionError, match="Discord would reject"):
        raw_emu.assert_no_contract_violations()


async def test_semantic_rejections(raw_emu: Emulator) -> None:
    url = f"{raw_emu.api_base}/channels/{raw_emu.world.general_channel_id}/messages"
    async with aiohttp.ClientSession() as session:
        status, body, _ = await _post_json(session, url, {"content": ""}, AUTH)
        assert (status, body["code"]) == (400, 50006)
        status, body, _ = await _post_json(session, url, {"content": "x" * 2001}, AUTH)
        assert (status, body["code"]) == (400, 50035)
        async with session.post(
            url, data=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50109
        status, body, _ = await _post_json(
            session, f"{raw_emu.api_base}/channels/1/messages", {"content": "x"}, AUTH
        )
        assert (status, body["code"]) == (404, 10003)
    assert len(raw_emu.contract_violations) == 3


async def test_multipart_message_keeps_attachment_bytes(raw_emu: Emulator) -> None:
    url = f"{raw_emu.api_base}/channels/{raw_emu.world.staff_channel_id}/messages"
    payload = {"content": "delivery", "attachments": [{"id": 0, "filename": "codes.txt"}]}
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    form.add_field("files[0]", b"CODE-1\nCODE-2\n", filename="codes.txt", content_type="text/plain")
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=form, headers=AUTH) as resp,
    ):
        assert resp.status == 200
        message = await resp.json()
    [attachment] = message["attachments"]
    assert attachment["filename"] == "codes.txt" and attachment["size"] == 14
    assert raw_emu.attachment_bytes(attachment) == b"CODE-1\nCODE-2\n"
    assert raw_emu.contract_violations == []
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
        assert await resp.read() == b"CODE-1\nCODE-2\n"


async def test_unknown_interaction_is_10062(raw_emu: Emulator) -> None:
    url = f"{raw_emu.api_base}/interactions/123456789/nope/callback?with_response=1"
    async with aiohttp.ClientSession() as session:
        status, body, _ = await _post_json(session, url, {"type": 4, "data": {"content": "x"}})
    assert (status, body) == (404, {"code": 10062, "message": "Unknown interaction"})


async def test_second_acknowledgement_is_40060(emu: Emulator) -> None:
    payload = emu._interaction_payload(
        2, emu.world.buyer_id, emu.world.general_channel_id, {"id": "1", "name": "x", "type": 1}
    )
    driven = emu.interactions.setdefault(int(payload["id"]), _driven(emu, payload))
    url = f"{emu.api_base}/interactions/{driven.id}/{driven.token}/callback?with_response=1"
    async with aiohttp.ClientSession() as session:
        status, body, ctype = await _post_json(session, url, {"type": 4, "data": {"content": "a"}})
        assert status == 200 and ctype == "application/json"
        assert body["interaction"]["response_message_id"] == body["resource"]["message"]["id"]
        assert body["interaction"]["response_message_ephemeral"] is False
        status, body, _ = await _post_json(session, url, {"type": 4, "data": {"content": "b"}})
    assert status == 400 and body["code"] == 40060
    assert len(driven.callbacks) == 1 and driven.rejected[0]["code"] == 40060


async def test_late_acknowledgement_is_unknown_interaction(emu: Emulator) -> None:
    emu.ack_deadline = 0.05
    payload = emu._interaction_payload(
        2, emu.world.buyer_id, emu.world.general_channel_id, {"id": "1", "name": "x", "type": 1}
    )
    driven = emu.interactions.setdefault(int(payload["id"]), _driven(emu, payload))
    await asyncio.sleep(0.1)
    url = f"{emu.api_base}/interactions/{driven.id}/{driven.token}/callback?with_response=1"
    async with aiohttp.ClientSession() as session:
        status, body, _ = await _post_json(session, url, {"type": 5})
    assert (status, body["code"]) == (404, 10062)


def _driven(emu: Emulator, payload: dict[str, Any]) -> Any:
    from emulator import DrivenInteraction

    driven = DrivenInteraction(emu, payload)
    emu._by_token[driven.token] = driven
    return driven


async def test_unhandled_route_is_discords_404(raw_emu: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{raw_emu.api_base}/guilds/1/audit-logs", headers=AUTH) as resp,
    ):
        assert resp.status == 404
        assert await resp.json() == {"code": 0, "message": "404: Not Found"}
    assert raw_emu.unhandled == ["GET /api/v10/guilds/1/audit-logs"]


async def test_gateway_heartbeat_ack_and_bad_identify(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json(timeout=2)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            sent = time.monotonic()
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json(timeout=2))["op"] == 11
            # A network round trip later, as from Discord: an instant ACK can be read by
            # discord.py's loop before its keep-alive thread stamps the send, and is then
            # measured against the previous beat ("Can't keep up … 41 s behind").
            assert time.monotonic() - sent >= raw_emu.gateway.heartbeat_ack_delay
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
            closed = await ws.receive(timeout=2)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004
        async with session.ws_connect(raw_emu.gateway_url) as ws:
            await ws.receive_json(timeout=2)
            await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 513, "properties": {}}})
            ready = await ws.receive_json(timeout=2)
            assert (ready["t"], ready["s"]) == ("READY", 1)
            assert ready["d"]["resume_gateway_url"] == raw_emu.gateway_url
            guild = await ws.receive_json(timeout=2)
            assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
            # Without the members intent only the bot's own member is sent.
            assert len(guild["d"]["members"]) == 1
            assert guild["d"]["member_count"] == len(raw_emu.world.members)
    assert raw_emu.gateway.heartbeats == 1


async def test_gateway_resume_replays_missed_events(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url) as ws:
            await ws.receive_json(timeout=2)
            await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1, "properties": {}}})
            ready = (await ws.receive_json(timeout=2))["d"]
            await ws.receive_json(timeout=2)
        raw_emu.add_member("late")  # dispatched while disconnected (needs the members intent)
        await raw_emu.gateway.dispatch("TEST_EVENT", {"n": 1})
        async with session.ws_connect(ready["resume_gateway_url"]) as ws:
            await ws.receive_json(timeout=2)
            resume = {"token": TOKEN, "session_id": ready["session_id"], "seq": 2}
            await ws.send_json({"op": 6, "d": resume})
            missed = await ws.receive_json(timeout=2)
            assert (missed["t"], missed["s"]) == ("TEST_EVENT", 3)
            resumed = await ws.receive_json(timeout=2)
            assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)
        async with session.ws_connect(raw_emu.gateway_url) as ws:
            await ws.receive_json(timeout=2)
            await ws.send_json({"op": 6, "d": {**resume, "session_id": "gone"}})
            invalid = await ws.receive_json(timeout=2)
            assert invalid == {"op": 9, "d": False, "s": None, "t": None}


async def test_http_driver(emu: Emulator, bot: MiniBot) -> None:
    base = f"{emu.base_url}/_emulator"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/world") as resp:
            world = await resp.json()
        assert world["buyer_id"] == str(emu.world.buyer_id)
        status, summary, _ = await _post_json(
            session,
            f"{base}/slash",
            {"user_id": world["buyer_id"], "name": "shop", "wait": 5},
        )
        assert status == 200 and summary["callbacks"][0]["type"] == 4
        message_id = summary["original_message"]["id"]
        status, pressed, _ = await _post_json(
            session,
            f"{base}/button",
            {"user_id": world["buyer_id"], "message_id": message_id, "custom_id": "cancel"},
        )
        assert status == 200
        async with session.get(f"{base}/interactions/{pressed['id']}?wait=5") as resp:
            assert (await resp.json())["callbacks"][0]["data"]["content"] == "cancelled"
        await _post_json(
            session, f"{base}/slash", {"user_id": world["buyer_id"], "name": "form", "wait": 5}
        )
        status, submitted, _ = await _post_json(
            session,
            f"{base}/modal",
            {
                "user_id": world["buyer_id"],
                "custom_id": "phone_modal",
                "values": {"phone": "5551234"},
                "wait": 5,
            },
        )
        assert submitted["callbacks"][0]["data"]["content"] == "phone=5551234"
        async with session.put(
            f"{base}/dms/{world['buyer2_id']}/closed", json={"closed": True}
        ) as resp:
            assert (await resp.json())["closed"] is True
        status, err, _ = await _post_json(
            session, f"{base}/slash", {"user_id": world["buyer_id"], "name": "echo"}
        )
        assert status == 400 and "needs option" in err["error"]
        async with session.get(f"{base}/dms/{world['buyer_id']}") as resp:
            assert await resp.json() == []
        await _post_json(
            session,
            f"{base}/slash",
            {
                "user_id": world["buyer_id"],
                "name": "notify",
                "options": {"user": world["buyer_id"]},
            },
        )
        async with session.get(f"{base}/dms/{world['buyer_id']}?wait=5&min=1") as resp:
            assert [m["content"] for m in await resp.json()] == ["hello from the shop"]
        async with session.get(f"{base}/state") as resp:
            state = await resp.json()
        assert state["bot_connected"] and state["contract_violations"] == []


def test_contract_checker_coerces_int_snowflakes(needs_spec: None) -> None:
    checker = ContractChecker()
    checker.load()
    assert checker.enabled
    violation, _ = checker.check("POST", "/users/@me/channels", {"recipient_id": 1234})
    assert violation is None
    violation, _ = checker.check("POST", "/users/@me/channels", {"recipient_id": "abc"})
    assert violation is not None
    assert checker.match("/webhooks/1/t/messages/@original") == (
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    )
    assert checker.match("/users/@me") == "/users/@me"


async def test_missing_spec_skips_validation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, discord_urls: Any
) -> None:
    async with Emulator(token=TOKEN, openapi_spec=tmp_path / "absent.json") as emu:
        assert not emu.contract.enabled
        url = f"{emu.api_base}/channels/{emu.world.general_channel_id}/messages"
        async with aiohttp.ClientSession() as session:
            status, _, _ = await _post_json(session, url, {"content": "ok"}, AUTH)
        assert status == 200
    warnings = [r for r in caplog.records if "NOT contract-checked" in r.getMessage()]
    assert len(warnings) == 1


async def test_spec_is_loaded_when_present(discord_urls: Any, needs_spec: None) -> None:
    async with Emulator() as emu:
        assert emu.contract.enabled


async def test_login_with_custom_token(discord_urls: Any) -> None:
    async with Emulator(token="other-token") as emu:
        from emulator import redirect_discord_py

        redirect_discord_py(emu.base_url)
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login("other-token")
            assert client.user is not None and client.user.id == emu.world.bot_user_id
        finally:
            await client.close()


@pytest.mark.subprocess
def test_cli_prints_one_json_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            assert info["base_url"].startswith("http://127.0.0.1:")
            assert info["token"] == DEFAULT_TOKEN and info["token"].count(".") == 2
            assert {"guild_id", "staff_channel_id", "buyer_id", "application_id"} <= set(info)
            url = info["base_url"] + "/_emulator/world"
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local URL
                assert json.loads(resp.read())["guild_id"] == info["guild_id"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0


def test_world_ids_are_deterministic() -> None:
    first, second = Emulator().world, Emulator().world
    assert first.ids() == second.ids()
    # bot_user_id == application_id and everyone_role_id == guild_id, as on Discord.
    assert len(set(first.ids().values())) == len(first.ids()) - 2
    assert first.add_member("x") == second.add_member("x")


def test_redirect_sets_both_urls(discord_urls: Any) -> None:
    from emulator import redirect_discord_py

    for base in (
        "http://127.0.0.1:5000",
        "http://127.0.0.1:5000/",
        "http://127.0.0.1:5000/api/v10",
    ):
        redirect_discord_py(base)
        assert discord.http.Route.BASE == "http://127.0.0.1:5000/api/v10"
        gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        assert str(gateway) == "ws://127.0.0.1:5000/gateway"
        assert str(gateway.with_query(v=10)) == "ws://127.0.0.1:5000/gateway?v=10"


def test_the_packaged_openapi_spec_is_the_projects_reference_copy() -> None:
    """An installed emulator checks its answers against the copy it carries: it must be
    the reference spec beside the project, byte for byte, with its license."""
    reference = REPO_ROOT.parent / "shared" / "discord"
    assert (reference / "openapi.json").is_file(), "../shared/discord is the reference"
    assert PACKAGED_SPEC.read_bytes() == (reference / "openapi.json").read_bytes()
    assert (PACKAGED_SPEC.parent / "LICENSE").read_bytes() == (reference / "LICENSE").read_bytes()
