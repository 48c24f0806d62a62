"""The gateway: a websocket at ``/gateway`` speaking Discord's JSON protocol, framed the
way the client asked in its URL, as Discord does:

* ``compress=zlib-stream``: every payload the gateway sends goes through one zlib context
  kept for the whole connection, ended with a sync flush (the suffix ``00 00 ff ff``), in
  binary frames. The client keeps one decompressor and inflates each frame as it comes.
* no ``compress``: each payload is JSON in its own text frame.

What the client sends is JSON in a text frame or a binary one (hikari sends binary);
Discord never compresses that direction. ``encoding`` must be ``json`` (ETF isn't
spoken here: the connection is refused with 4002, as an unreadable payload would be).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import secrets
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .util import DiscordError
from .world import INTENT_GUILD_MEMBERS

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SEQ = 4007
CLOSE_INVALID_SHARD = 4010
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

API_VERSIONS = ("9", "10")
# Every intent Discord defines sits below bit 26; anything above is "invalid intents".
INTENTS_MAX = 1 << 26
# Privileged intents and the application flags (full or limited) that allow each.
PRIVILEGED = {
    1 << 1: (1 << 14) | (1 << 15),  # GUILD_MEMBERS
    1 << 8: (1 << 12) | (1 << 13),  # GUILD_PRESENCES
    1 << 15: (1 << 18) | (1 << 19),  # MESSAGE_CONTENT
}

REPLAY_BUFFER = 1000
ZLIB_SUFFIX = b"\x00\x00\xff\xff"


class Connection:
    """One gateway socket and how its frames are written (see the module's docstring).
    Frames leave in the order they were compressed: one lock for compress-and-send."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.zlib_stream = zlib_stream
        self._deflate = zlib.compressobj() if zlib_stream else None
        self._lock = asyncio.Lock()
        self.frames_sent = 0

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, frame: str) -> None:
        async with self._lock:
            if self.ws.closed:
                return
            if self._deflate is not None:
                data = self._deflate.compress(frame.encode()) + self._deflate.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(frame)
            self.frames_sent += 1

    async def close(self, *, code: int, message: bytes) -> None:
        await self.ws.close(code=code, message=message)


@dataclasses.dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard: list[int]
    seq: int = 0
    ws: Connection | None = None
    buffer: collections.deque[tuple[int, str]] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=REPLAY_BUFFER)
    )
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def dispatch(self, event: str, data: Any) -> None:
        async with self.lock:
            self.seq += 1
            frame = json.dumps({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})
            self.buffer.append((self.seq, frame))
            await self._send(frame)

    async def _send(self, frame: str) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        try:
            await ws.send(frame)
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("gateway send failed for session %s: %s", self.session_id, exc)


class Gateway:
    """Sessions, heartbeats, IDENTIFY/READY, RESUME/RESUMED and event dispatch."""

    def __init__(
        self, emu: Emulator, *, heartbeat_interval_ms: int, heartbeat_ack_delay: float = 0.05
    ) -> None:
        self._emu = emu
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # Discord's ACK comes a network round trip after the heartbeat. An instant one
        # races discord.py: its keep-alive thread stamps the send time only after the
        # loop reports the send done, so an ACK read first is measured against the
        # previous heartbeat, and every beat logs "Can't keep up … 41 s behind".
        self.heartbeat_ack_delay = heartbeat_ack_delay
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[Connection] = set()
        self.heartbeats = 0
        self.identifies = 0
        self.resumes = 0
        self.presence_updates: list[Any] = []

    # -- state ---------------------------------------------------------------------------

    def connected_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.connected]

    async def dispatch(self, event: str, data: Any, *, intent: int | None = None) -> int:
        """Send a DISPATCH to every identified session (buffered for RESUME if detached)."""
        delivered = 0
        for session in list(self.sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            await session.dispatch(event, data)
            delivered += int(session.connected)
        return delivered

    async def close_connections(self, code: int = 4000, message: str = "") -> int:
        """Close every gateway socket; sessions survive, so the client can RESUME."""
        sockets = list(self.connections)
        for ws in sockets:
            await ws.close(code=code, message=message.encode())
        return len(sockets)

    async def send_reconnect(self) -> None:
        for session in self.connected_sessions():
            await session._send(json.dumps({"op": OP_RECONNECT, "d": None, "s": None, "t": None}))

    # -- websocket -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = web.WebSocketResponse(autoping=True, max_msg_size=0)
        if not raw.can_prepare(request).ok:
            return DiscordError(400, 0, "400: Bad Request (websocket upgrade expected)").response()
        await raw.prepare(request)
        ws = Connection(raw, zlib_stream=request.query.get("compress") == "zlib-stream")
        self.connections.add(ws)
        log.info("gateway connection opened (%s)", request.query_string)
        session: GatewaySession | None = None
        if request.query.get("v", "10") not in API_VERSIONS:
            await ws.close(code=CLOSE_INVALID_API_VERSION, message=b"Invalid API version.")
            self.connections.discard(ws)
            return raw
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
            self.connections.discard(ws)
            return raw
        try:
            await self._send(
                ws,
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["emulator"]},
                    "s": None,
                    "t": None,
                },
            )
            async for msg in raw:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    # JSON either way: hikari sends binary frames, discord.py text ones.
                    try:
                        payload = json.loads(msg.data)
                        op = payload["op"]
                        data = payload.get("d")
                    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                        await ws.close(
                            code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload."
                        )
                        break
                    session = await self._on_op(ws, session, op, data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            log.info("gateway connection closed (code %s)", raw.close_code)
            self._emu._notify()
        return raw

    async def _ack_heartbeat(self, ws: Connection) -> None:
        await asyncio.sleep(self.heartbeat_ack_delay)
        await self._send(ws, {"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        self._emu._notify()

    async def _send(self, ws: Connection, payload: dict[str, Any]) -> None:
        await ws.send(json.dumps(payload))

    def _token_ok(self, token: Any) -> bool:
        if not isinstance(token, str):
            return False
        if token.startswith("Bot "):
            token = token[4:]
        return secrets.compare_digest(token, self._emu.token)

    async def _on_op(
        self,
        ws: Connection,
        session: GatewaySession | None,
        op: Any,
        data: Any,
    ) -> GatewaySession | None:
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            self._emu._spawn(self._ack_heartbeat(ws))
            return session
        if op == OP_IDENTIFY:
            if session is not None:
                await ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated.")
                return session
            return await self._identify(ws, data if isinstance(data, dict) else {})
        if op == OP_RESUME:
            if session is not None:
                await ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated.")
                return session
            return await self._resume(ws, data if isinstance(data, dict) else {})
        if session is None:
            await ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
            return None
        if op == OP_PRESENCE_UPDATE:
            self.presence_updates.append(data)
            return session
        if op == OP_VOICE_STATE_UPDATE:
            return session
        if op == OP_REQUEST_GUILD_MEMBERS:
            await self._members_chunk(session, data if isinstance(data, dict) else {})
            return session
        log.warning("gateway: unknown opcode %s", op)
        await ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode.")
        return session

    async def _identify(self, ws: Connection, data: dict[str, Any]) -> GatewaySession | None:
        if not self._token_ok(data.get("token")):
            log.warning("gateway: IDENTIFY with a bad token; closing 4004")
            await ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        world = self._emu.world
        shard = data.get("shard") or [0, 1]
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or not 0 <= intents < INTENTS_MAX:
            await ws.close(code=CLOSE_INVALID_INTENTS, message=b"Invalid intent(s).")
            return None
        if any(
            intents & bit and not self._emu.app_flags & flags for bit, flags in PRIVILEGED.items()
        ):
            await ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return None
        session = GatewaySession(session_id=secrets.token_hex(16), intents=intents, shard=shard)
        session.ws = ws
        self.sessions[session.session_id] = session
        self.identifies += 1
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": world.bot_user_payload(),
                "user_settings": {},
                "guilds": [{"id": str(world.guild_id), "unavailable": True}],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self._emu.gateway_url,
                "shard": shard,
                "application": {"id": str(world.application_id), "flags": self._emu.app_flags},
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "auth": {},
                "_trace": ["emulator"],
            },
        )
        await session.dispatch("GUILD_CREATE", world.guild_create_payload(session.intents))
        log.info("gateway: session %s identified (intents %s)", session.session_id, session.intents)
        self._emu._notify()
        return session

    async def _resume(self, ws: Connection, data: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not self._token_ok(data.get("token")):
            log.info("gateway: RESUME of unknown session; invalidating")
            await self._send(ws, {"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        last = data.get("seq")
        if last is not None and (not isinstance(last, int) or last > session.seq):
            await ws.close(code=CLOSE_INVALID_SEQ, message=b"Invalid seq.")
            return None
        oldest = session.buffer[0][0] if session.buffer else session.seq + 1
        if last is not None and last + 1 < oldest:
            # More was missed than the replay buffer holds: Discord invalidates the session
            # rather than resume it with a gap.
            log.info("gateway: RESUME from seq %s, buffer starts at %s; invalidating", last, oldest)
            await self._send(ws, {"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        old = session.ws
        if old is not None and old is not ws and not old.closed:
            await old.close(code=4000, message=b"Session resumed elsewhere.")
        self.resumes += 1
        async with session.lock:
            session.ws = ws
            for seq, frame in list(session.buffer):
                if last is None or seq > int(last):
                    await session._send(frame)
        await session.dispatch("RESUMED", {"_trace": ["emulator"]})
        log.info("gateway: session %s resumed from seq %s", session.session_id, last)
        self._emu._notify()
        return session

    async def _members_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        world = self._emu.world
        member_ids = list(world.members)
        if data.get("user_ids"):
            raw = data["user_ids"]
            wanted = {int(u) for u in (raw if isinstance(raw, list) else [raw])}
            not_found = [str(u) for u in wanted if u not in world.members]
            member_ids = [m for m in member_ids if m in wanted]
        else:
            not_found = []
            query = str(data.get("query") or "").lower()
            member_ids = [
                m for m in member_ids if world.users[m].username.lower().startswith(query)
            ]
            limit = int(data.get("limit") or 0)
            if limit:
                member_ids = member_ids[:limit]
        if not session.intents & INTENT_GUILD_MEMBERS and not data.get("user_ids"):
            member_ids = []
        payload: dict[str, Any] = {
            "guild_id": str(world.guild_id),
            "members": [world.member_payload(m) for m in member_ids],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
        }
        if data.get("nonce") is not None:
            payload["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", payload)
