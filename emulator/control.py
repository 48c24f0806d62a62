"""A small HTTP driver under ``/_emulator/...`` for scripts in another process (``make demo``).

No auth: the emulator binds 127.0.0.1. Every answer is JSON; errors are ``{"error": ...}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .interactions import DrivenInteraction
from .util import json_response

if TYPE_CHECKING:
    from .server import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def control_routes(emu: Emulator) -> list[tuple[str, str, Handler]]:
    async def body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def guarded(fn: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = await fn(request)
            except PermissionError as exc:
                return json_response({"error": str(exc)}, status=403)
            except (LookupError, KeyError) as exc:
                return json_response({"error": str(exc)}, status=404)
            except TimeoutError as exc:
                return json_response({"error": str(exc)}, status=504)
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, status=400)
            if isinstance(result, web.StreamResponse):
                return result
            return json_response(result)

        return handler

    async def summarize(driven: DrivenInteraction, data: dict[str, Any]) -> dict[str, Any]:
        wait = float(data.get("wait") or 0)
        if wait > 0:
            await driven.wait_for_response(wait)
        return driven.summary()

    def options(raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            return None
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, dict) and "base64" in value:
                value = {
                    "filename": value.get("filename", "file.bin"),
                    "data": base64.b64decode(value["base64"]),
                    "content_type": value.get("content_type", "application/octet-stream"),
                }
            out[key] = value
        return out

    async def world(request: web.Request) -> Any:
        w = emu.world
        return {
            "base_url": emu.base_url,
            "token": emu.token,
            **{k: str(v) for k, v in w.ids().items()},
            "users": {str(u.id): u.payload() for u in w.users.values()},
        }

    async def state(request: web.Request) -> Any:
        return {
            "bot_connected": bool(emu.gateway.connected_sessions()),
            "heartbeats": emu.gateway.heartbeats,
            "identifies": emu.gateway.identifies,
            "resumes": emu.gateway.resumes,
            "unhandled": emu.unhandled,
            "contract_violations": [str(v) for v in emu.contract_violations],
            "requests": len(emu.requests),
        }

    async def add_member(request: web.Request) -> Any:
        data = await body(request)
        roles = [int(r) for r in data.get("roles", [])]
        uid = emu.add_member(
            str(data["username"]), roles=roles, locale=str(data.get("locale") or "en-US")
        )
        return {"user_id": str(uid)}

    async def slash(request: web.Request) -> Any:
        data = await body(request)
        driven = await emu.send_slash_command(
            int(data["user_id"]),
            str(data["name"]),
            options(data.get("options")),
            data.get("subcommand_path"),
            int(data["channel_id"]) if data.get("channel_id") else None,
            dm=bool(data.get("dm")),
        )
        return await summarize(driven, data)

    async def autocomplete(request: web.Request) -> Any:
        data = await body(request)
        choices = await emu.send_autocomplete(
            int(data["user_id"]),
            str(data["name"]),
            options(data.get("options")),
            str(data["focused"]),
            data.get("subcommand_path"),
            int(data["channel_id"]) if data.get("channel_id") else None,
            dm=bool(data.get("dm")),
        )
        return {"choices": choices}

    async def button(request: web.Request) -> Any:
        data = await body(request)
        driven = await emu.press_button(
            int(data["user_id"]), int(data["message_id"]), str(data["custom_id"])
        )
        return await summarize(driven, data)

    async def select(request: web.Request) -> Any:
        data = await body(request)
        driven = await emu.select_menu(
            int(data["user_id"]),
            int(data["message_id"]),
            str(data["custom_id"]),
            [str(v) for v in data.get("values", [])],
        )
        return await summarize(driven, data)

    async def modal(request: web.Request) -> Any:
        data = await body(request)
        source = None
        if data.get("source_interaction_id"):
            source = emu.interaction(int(data["source_interaction_id"]))
        driven = await emu.submit_modal(
            int(data["user_id"]), str(data["custom_id"]), dict(data.get("values") or {}), source
        )
        return await summarize(driven, data)

    async def interaction(request: web.Request) -> Any:
        driven = emu.interaction(int(request.match_info["iid"]))
        wait = float(request.query.get("wait", "0"))
        if wait > 0:
            await driven.wait_for_response(wait)
        return driven.summary()

    async def wait_count(request: web.Request, source: Callable[[], list[Any]]) -> Any:
        """``?wait=S&min=N``: wait up to S seconds for at least N items."""
        wait = float(request.query.get("wait", "0"))
        want = int(request.query.get("min", "1"))
        if wait > 0:
            await emu._wait(lambda: source() if len(source()) >= want else None, wait, "messages")
        return source()

    async def dms(request: web.Request) -> Any:
        uid = int(request.match_info["uid"])
        return await wait_count(request, lambda: emu.dms(uid))

    async def dms_closed(request: web.Request) -> Any:
        data = await body(request)
        uid = int(request.match_info["uid"])
        emu.set_dms_closed(uid, bool(data.get("closed", True)))
        return {"user_id": str(uid), "closed": emu.world.users[uid].dms_closed}

    async def channel_messages(request: web.Request) -> Any:
        cid = int(request.match_info["cid"])
        return await wait_count(request, lambda: emu.channel_messages(cid))

    async def redeliver(request: web.Request) -> Any:
        driven = emu.interaction(int(request.match_info["iid"]))
        await emu.redeliver(driven)
        return driven.summary()

    async def disconnect(request: web.Request) -> Any:
        data = await body(request)
        return {"closed": await emu.disconnect_bot(int(data.get("code", 4000)))}

    async def commands(request: web.Request) -> Any:
        guild = request.query.get("guild_id")
        return emu.commands(int(guild) if guild else None)

    async def attachment(request: web.Request) -> web.StreamResponse:
        stored = emu.files.get(int(request.match_info["aid"]))
        if stored is None:
            return json_response({"error": "unknown attachment"}, status=404)
        return web.Response(body=stored.data, content_type=stored.content_type)

    async def invite(request: web.Request) -> Any:
        data = await body(request)
        return emu.add_invite(
            str(data["code"]),
            str(data["guild_name"]),
            member_count=int(data.get("member_count", 100)),
        )

    async def rate_limit(request: web.Request) -> Any:
        data = await body(request)
        fault = emu.inject_rate_limit(
            str(data.get("method", "*")),
            str(data["path_regex"]),
            float(data.get("retry_after", 1.0)),
            int(data.get("count", 1)),
            bool(data.get("global", False)),
        )
        return {"status": fault.status, "remaining": fault.remaining}

    async def error(request: web.Request) -> Any:
        data = await body(request)
        fault = emu.inject_error(
            str(data.get("method", "*")),
            str(data["path_regex"]),
            int(data["status"]),
            int(data.get("code", 0)),
            data.get("message"),
            int(data.get("count", 1)),
        )
        return {"status": fault.status, "remaining": fault.remaining}

    async def store_then_fail(request: web.Request) -> Any:
        data = await body(request)
        fault = emu.inject_store_then_fail(
            str(data.get("method", "*")),
            str(data["path_regex"]),
            int(data.get("status", 502)),
            count=int(data.get("count", 1)),
            drop=bool(data.get("drop", False)),
            delay=float(data.get("delay", 0.0)),
        )
        return {"status": fault.status, "remaining": fault.remaining, "drop": fault.drop}

    async def command_permissions(request: web.Request) -> Any:
        """``{"command": name | id | null, "permissions": [{"id", "type", "permission"}]}``."""
        data = await body(request)
        command = data.get("command")
        return await emu.set_command_permissions(
            None if command is None else str(command), list(data.get("permissions") or [])
        )

    async def clear_faults(request: web.Request) -> Any:
        emu.clear_faults()
        return {"faults": 0}

    base = "/_emulator"
    table: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
        ("GET", "/world", world),
        ("GET", "/state", state),
        ("POST", "/members", add_member),
        ("POST", "/slash", slash),
        ("POST", "/autocomplete", autocomplete),
        ("POST", "/button", button),
        ("POST", "/select", select),
        ("POST", "/modal", modal),
        ("GET", "/interactions/{iid}", interaction),
        ("POST", "/interactions/{iid}/redeliver", redeliver),
        ("POST", "/gateway/disconnect", disconnect),
        ("GET", "/dms/{uid}", dms),
        ("PUT", "/dms/{uid}/closed", dms_closed),
        ("GET", "/channels/{cid}/messages", channel_messages),
        ("GET", "/commands", commands),
        ("GET", "/attachments/{aid}/{filename}", attachment),
        ("POST", "/invites", invite),
        ("POST", "/faults/rate-limit", rate_limit),
        ("POST", "/faults/error", error),
        ("POST", "/faults/store-then-fail", store_then_fail),
        ("DELETE", "/faults", clear_faults),
        ("PUT", "/command-permissions", command_permissions),
    ]
    return [(method, base + path, guarded(fn)) for method, path, fn in table]
