"""Issue 30: the gateway frames what it sends as the client asked, as Discord does.

- ``compress=zlib-stream``: binary frames from one zlib context per connection, each
  ended with a sync flush; the client inflates them with one decompressor (discord.py
  asks for this, so every discord.py test runs on it).
- no ``compress``: plain JSON in text frames.
- what the client sends: JSON in text frames (discord.py) or binary frames (hikari).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulator import Emulator
from emulator.gateway import ZLIB_SUFFIX
from tests.emulator.minibot import TOKEN, MiniBot

IDENTIFY_DATA: dict[str, Any] = {"token": TOKEN, "intents": 513, "properties": {}}
IDENTIFY = {"op": 2, "d": IDENTIFY_DATA}


class Inflater:
    """A client's side of zlib-stream: one decompressor, a payload per sync flush."""

    def __init__(self) -> None:
        self.inflate = zlib.decompressobj()
        self.buffer = b""

    def feed(self, frame: bytes) -> dict[str, Any] | None:
        self.buffer += frame
        if not self.buffer.endswith(ZLIB_SUFFIX):
            return None
        data, self.buffer = self.inflate.decompress(self.buffer), b""
        payload: dict[str, Any] = json.loads(data)
        return payload


async def test_zlib_stream_sends_binary_frames_from_one_context(raw_emu: Emulator) -> None:
    inflater = Inflater()
    async with aiohttp.ClientSession() as session:
        url = raw_emu.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:
            frames: list[bytes] = []

            async def next_payload() -> dict[str, Any]:
                while True:
                    msg = await ws.receive(timeout=2)
                    assert msg.type is aiohttp.WSMsgType.BINARY, msg
                    frames.append(msg.data)
                    payload = inflater.feed(msg.data)
                    if payload is not None:
                        return payload

            assert (await next_payload())["op"] == 10
            await ws.send_str(json.dumps(IDENTIFY))
            ready, guild = await next_payload(), await next_payload()
            assert (ready["t"], guild["t"]) == ("READY", "GUILD_CREATE")
    # One context for the connection: a later frame can't be inflated on its own (it
    # refers back to what earlier frames carried), only by the connection's inflater.
    assert all(f.endswith(ZLIB_SUFFIX) for f in frames)
    fresh = zlib.decompressobj()
    try:
        alone = fresh.decompress(frames[-1])
    except zlib.error:
        alone = b""
    assert b"GUILD_CREATE" not in alone


async def test_binary_json_from_the_client_is_read(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive(timeout=2)
            assert hello.type is aiohttp.WSMsgType.TEXT  # no compression asked: plain text
            await ws.send_bytes(json.dumps(IDENTIFY).encode())
            ready = await ws.receive_json(timeout=2)
            assert ready["t"] == "READY"
            assert (await ws.receive_json(timeout=2))["t"] == "GUILD_CREATE"
            await ws.send_bytes(b"\xff not json")
            closed = await ws.receive(timeout=2)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4002


async def test_an_encoding_the_gateway_does_not_speak_is_refused(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url + "?v=10&encoding=etf") as ws:
            closed = await ws.receive(timeout=2)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4002


async def test_discord_py_reads_the_compressed_stream(emu: Emulator, bot: MiniBot) -> None:
    """discord.py asks for zlib-stream: its connection is compressed, and it is READY."""
    (connection,) = emu.gateway.connections
    assert connection.zlib_stream and connection.frames_sent >= 3  # HELLO, READY, GUILD_CREATE
    assert bot.is_ready()


async def test_rate_limit_headers_where_the_spec_documents_them(raw_emu: Emulator) -> None:
    """Discord's spec documents the X-RateLimit-* headers on an interaction's callback as on
    a channel message or a followup: each answer carries its bucket."""
    for path in ("/interactions/1/tok/callback", "/channels/1/messages", "/webhooks/1/tok"):
        response = web.Response()
        raw_emu.rest._ratelimit_headers(response, "POST", path)
        assert response.headers["X-RateLimit-Bucket"] and response.headers["X-RateLimit-Limit"]


@pytest.mark.parametrize(
    ("query", "identify", "code"),
    [
        ("?v=3&encoding=json", None, 4012),  # an API version Discord doesn't serve
        ("?v=10&encoding=json", {"shard": [3, 2]}, 4010),
        ("?v=10&encoding=json", {"intents": 1 << 40}, 4013),
        ("?v=10&encoding=json", {"intents": 1 << 8}, 4014),  # presences: not allowed here
    ],
)
async def test_close_codes_as_discord_documents_them(
    raw_emu: Emulator, query: str, identify: dict[str, Any] | None, code: int
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url + query) as ws:
            if identify is not None:
                assert (await ws.receive_json(timeout=2))["op"] == 10
                await ws.send_json({"op": 2, "d": {**IDENTIFY_DATA, **identify}})
            closed = await ws.receive(timeout=2)
            while closed.type is not aiohttp.WSMsgType.CLOSE:
                closed = await ws.receive(timeout=2)
            assert closed.data == code


async def test_a_resume_from_a_seq_never_sent_is_4007(raw_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(raw_emu.gateway_url + "?v=10&encoding=json") as ws:
            await ws.receive_json(timeout=2)
            await ws.send_json(IDENTIFY)
            ready = await ws.receive_json(timeout=2)
        session_id = ready["d"]["session_id"]
        async with session.ws_connect(raw_emu.gateway_url + "?v=10&encoding=json") as ws:
            await ws.receive_json(timeout=2)
            resume = {"token": TOKEN, "session_id": session_id, "seq": 999_999}
            await ws.send_json({"op": 6, "d": resume})
            closed = await ws.receive(timeout=2)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4007


async def test_an_answer_the_spec_refuses_is_recorded(
    raw_emu: Emulator, monkeypatch: pytest.MonkeyPatch, needs_spec: None
) -> None:
    """The response check can fail: a user object without a field the spec requires, and a
    status the operation doesn't list, are each recorded as a violation."""
    world = raw_emu.world
    real = world.user_payload

    def without_primary_guild(user_id: int) -> dict[str, Any]:
        payload = dict(real(user_id))
        payload.pop("primary_guild")
        return payload

    monkeypatch.setattr(world, "user_payload", without_primary_guild)
    auth = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        url = f"{raw_emu.api_base}/users/{world.buyer_id}"
        async with session.get(url, headers=auth) as user:
            assert user.status == 200
    (violation,) = raw_emu.contract_violations
    assert "primary_guild" in str(violation) and str(violation).startswith("GET /users/")
    odd = raw_emu.contract.check_response("GET", "/users/@me", 201, {})
    assert odd is not None and "not a status the spec lists" in str(odd)
