"""The playground's web front: a page that looks and works enough like Discord for a shop
owner to try the bot, served by the emulator at ``/play/<token>/``.

The page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing from the
internet) acts as one member at a time. Everything it does goes through the same driver
the tests use (``send_slash_command``, ``press_button``, ``submit_modal``...), so the bot
sees exactly what a Discord client would send, and what the page shows is the world state
the bot's requests made: never the bot's database. ``api/events`` is a server-sent event
stream that says when something changed, so the page redraws without a reload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ..interactions import DrivenInteraction
from ..util import json_response
from ..world import DM
from . import views
from .guard import Guard, new_token
from .panels import PANEL_FAULTS, ProviderPanel
from .requests import (
    PageError,
    as_id,
    json_object,
    retry_after_seconds,
    typed_options,
    word_list,
)

if TYPE_CHECKING:
    from ..server import Emulator

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The client languages the page offers (Discord locales).
LANGUAGES = (("en-US", "English"), ("hi", "हिन्दी (Hindi)"))

#: How long the page waits for the bot's first answer before showing Discord's
#: "The application did not respond" (Discord gives a bot 3 seconds).
ANSWER_WAIT = 3.5

#: Images the page shows inline; every other attachment is offered as a download.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

SECURITY_HEADERS = {
    # No script but ours, no inline script or style, nothing fetched from elsewhere.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    # The token is in the address: a link the bot posts must not carry it away.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclasses.dataclass(frozen=True)
class Persona:
    """Someone the page can be: a member of the emulated guild."""

    user_id: int
    label: str
    note: str = ""


class PlaygroundWeb:
    def __init__(
        self,
        emu: Emulator,
        *,
        personas: Sequence[Persona],
        channels: Sequence[int],
        panels: Sequence[ProviderPanel] = (),
        token: str | None = None,
    ) -> None:
        self.emu = emu
        self.personas = list(personas)
        self.channels = list(channels)
        self.panels = {panel.name: panel for panel in panels}
        self.guard = Guard(token or new_token())
        # Set when the emulator stops: every open event stream ends at once.
        self.closing = asyncio.Event()

    def close(self) -> None:
        self.closing.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.emu.port}/play/{self.guard.token}/"

    # -- routes ---------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        table: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
            ("GET", "api/world", self.world),
            ("GET", "api/view", self.view),
            ("PUT", "api/personas/{uid}", self.set_persona),
            ("POST", "api/slash", self.slash),
            ("POST", "api/autocomplete", self.autocomplete),
            ("POST", "api/button", self.button),
            ("POST", "api/select", self.select),
            ("POST", "api/modal", self.modal),
            ("GET", "api/providers", self.providers),
            ("POST", "api/providers/{name}/orders/{oid}/{action}", self.provider_action),
            ("POST", "api/providers/{name}/faults", self.provider_fault),
            ("DELETE", "api/providers/{name}/faults", self.provider_clear),
        ]
        base = "/play/{token}/"
        out: list[tuple[str, str, Handler]] = [
            ("GET", "/play/{token}", self.redirect),
            ("GET", base, self.page),
            ("GET", base + "static/{file}", self.static),
            ("GET", base + "api/events", self.tokened(self.events)),
            ("GET", base + "api/attachments/{aid}/{filename}", self.tokened(self.attachment)),
        ]
        out += [
            (method, base + path, self.tokened(self.answering(fn))) for method, path, fn in table
        ]
        # Anything else under /play/ is a quiet 404: never recorded as an unhandled route,
        # where the token in its path would be kept. The browser's icon request, likewise.
        out += [("*", "/play/{tail:.*}", self.not_found), ("GET", "/favicon.ico", self.no_icon)]
        return out

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound(text="Not found: open the address the playground printed.")

    async def no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    def tokened(self, fn: Handler) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if not self.guard.token_ok(request.match_info.get("token", "")):
                raise web.HTTPNotFound(text="Not found: open the address the playground printed.")
            return await fn(request)

        return handler

    def answering(self, fn: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        """JSON in and out; what went wrong is one line the page shows the person."""

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = await fn(request)
            except PermissionError as exc:
                return json_response({"error": str(exc)}, status=403)
            except (PageError, ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, status=400)
            except (LookupError, KeyError) as exc:
                return json_response({"error": f"not found: {exc}"}, status=404)
            except TimeoutError as exc:
                return json_response({"error": str(exc)}, status=504)
            return json_response(result, headers=SECURITY_HEADERS)

        return handler

    async def body(self, request: web.Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.read() or b"{}")
        except ValueError:
            raise PageError("the request was not JSON") from None
        if not isinstance(data, dict):
            raise PageError("the request was not a JSON object")
        return data

    # -- the page -------------------------------------------------------------------------

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        if not self.guard.token_ok(request.match_info["token"]):
            raise web.HTTPNotFound(text="Not found: open the address the playground printed.")
        raise web.HTTPFound(f"/play/{request.match_info['token']}/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        if not self.guard.token_ok(request.match_info["token"]):
            raise web.HTTPNotFound(text="Not found: open the address the playground printed.")
        return self._static_file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        if not self.guard.token_ok(request.match_info["token"]):
            raise web.HTTPNotFound(text="Not found: open the address the playground printed.")
        return self._static_file(request.match_info["file"])

    def _static_file(self, name: str) -> web.Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        content_type = STATIC_TYPES.get(suffix)
        if content_type is None or "/" in name or name.startswith("."):
            raise web.HTTPNotFound()
        resource = files("emulator.web").joinpath("static", name)
        if not resource.is_file():
            raise web.HTTPNotFound()
        return web.Response(
            body=resource.read_bytes(),
            content_type=content_type,
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )

    # -- what the page shows --------------------------------------------------------------

    def persona(self, raw: Any) -> int:
        uid = as_id(raw, "the member")
        if uid not in {p.user_id for p in self.personas}:
            raise PageError("the page can only act as one of its members")
        return uid

    def channel(self, viewer: int, raw: Any) -> int:
        cid = as_id(raw, "the channel")
        if not views.can_see(self.emu, viewer, cid):
            raise PermissionError("you can't see that channel")
        return cid

    def dm_channel(self, user_id: int) -> int:
        return self.emu.world.dm_channel_for(user_id).id

    async def world(self, request: web.Request) -> Any:
        emu = self.emu
        world = emu.world
        return {
            "guild": world.guild_name,
            "bot": {
                "id": str(world.bot_user_id),
                "name": views.display_name(emu, world.bot_user_id),
            },
            "personas": [
                {
                    "id": str(p.user_id),
                    "label": p.label,
                    "note": p.note,
                    "name": views.display_name(emu, p.user_id),
                    "locale": world.users[p.user_id].locale,
                    "dms_closed": world.users[p.user_id].dms_closed,
                    "dm_channel": str(self.dm_channel(p.user_id)),
                    "channels": [
                        str(cid) for cid in self.channels if views.can_see(emu, p.user_id, cid)
                    ],
                }
                for p in self.personas
            ],
            "channels": [
                {
                    "id": str(cid),
                    "name": world.channels[cid].name,
                    "topic": world.channels[cid].topic,
                }
                for cid in self.channels
            ],
            "languages": [{"locale": code, "label": label} for code, label in LANGUAGES],
            "panels": [{"name": p.name, "title": p.title} for p in self.panels.values()],
            "directory": views.directory(emu),
        }

    async def view(self, request: web.Request) -> Any:
        viewer = self.persona(request.query.get("as"))
        cid = self.channel(viewer, request.query.get("channel"))
        seen = [c for c in self.channels if views.can_see(self.emu, viewer, c)]
        return {
            "channel": str(cid),
            "messages": views.visible_messages(self.emu, viewer, cid),
            "commands": views.visible_commands(self.emu, viewer, cid),
            "counts": views.message_counts(self.emu, viewer, [*seen, self.dm_channel(viewer)]),
            "directory": views.directory(self.emu),
        }

    async def set_persona(self, request: web.Request) -> Any:
        uid = self.persona(request.match_info["uid"])
        data = await self.body(request)
        locale = str(data.get("locale", ""))
        if locale not in {code for code, _ in LANGUAGES}:
            raise PageError(f"the page offers {', '.join(c for c, _ in LANGUAGES)}")
        self.emu.world.users[uid].locale = locale
        self.emu._notify()
        return {"id": str(uid), "locale": locale}

    # -- what the person does -------------------------------------------------------------

    def _where(self, viewer: int, data: Mapping[str, Any]) -> tuple[int, bool]:
        cid = self.channel(viewer, data.get("channel"))
        return cid, self.emu.world.channels[cid].type == DM

    async def answer(self, driven: DrivenInteraction) -> dict[str, Any]:
        """The bot's first answer as the page needs it: a modal to open, or nothing (the
        messages arrive through the event stream)."""
        try:
            await driven.wait_for_response(ANSWER_WAIT)
        except TimeoutError:
            return {"interaction": str(driven.id), "error": "The application did not respond"}
        return {
            "interaction": str(driven.id),
            "type": driven.response_type,
            "modal": driven.modal,
        }

    def _command(self, data: Mapping[str, Any]) -> tuple[int, int, bool, str, list[str]]:
        """Who runs which command where: (member, channel, in DMs, name, subcommand path)."""
        viewer = self.persona(data.get("as"))
        cid, dm = self._where(viewer, data)
        return viewer, cid, dm, str(data.get("name") or ""), word_list(data, "path")

    async def slash(self, request: web.Request) -> Any:
        data = await self.body(request)
        viewer, cid, dm, name, path = self._command(data)
        options = typed_options(self.emu, name, path, json_object(data, "options"))
        driven = await self.emu.send_slash_command(
            viewer, name, options, path or None, None if dm else cid, dm=dm
        )
        return await self.answer(driven)

    async def autocomplete(self, request: web.Request) -> Any:
        data = await self.body(request)
        viewer, cid, dm, name, path = self._command(data)
        focused = str(data.get("focused") or "")
        raw = dict(json_object(data, "options"))
        typed = raw.pop(focused, "")
        options = typed_options(self.emu, name, path, raw)
        # The focused option goes as typed, even half-typed (Discord sends it so).
        options[focused] = "" if typed is None else str(typed)
        choices = await self.emu.send_autocomplete(
            viewer, name, options, focused, path or None, None if dm else cid, dm=dm
        )
        return {"choices": choices}

    async def button(self, request: web.Request) -> Any:
        data = await self.body(request)
        viewer = self.persona(data.get("as"))
        driven = await self.emu.press_button(
            viewer, as_id(data.get("message"), "the message"), str(data.get("custom_id"))
        )
        return await self.answer(driven)

    async def select(self, request: web.Request) -> Any:
        data = await self.body(request)
        viewer = self.persona(data.get("as"))
        values = word_list(data, "values")
        driven = await self.emu.select_menu(
            viewer, as_id(data.get("message"), "the message"), str(data.get("custom_id")), values
        )
        return await self.answer(driven)

    async def modal(self, request: web.Request) -> Any:
        data = await self.body(request)
        viewer = self.persona(data.get("as"))
        source = self.emu.interaction(as_id(data.get("interaction"), "the interaction"))
        values = {str(k): str(v) for k, v in json_object(data, "values").items()}
        driven = await self.emu.submit_modal(viewer, str(data.get("custom_id")), values, source)
        answered = await self.answer(driven)
        answered["closed"] = driven.acknowledged
        return answered

    # -- attachments ----------------------------------------------------------------------

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        try:
            stored = self.emu.files.get(int(request.match_info["aid"]))
        except ValueError:
            stored = None
        if stored is None:
            raise web.HTTPNotFound(text="No such attachment.")
        headers = dict(SECURITY_HEADERS)
        content_type = stored.content_type.split(";")[0].strip().lower()
        if content_type not in INLINE_IMAGES:
            # Anything else is a download, never a page of this origin.
            content_type = "application/octet-stream"
            headers["Content-Disposition"] = (
                f"attachment; filename*=UTF-8''{quote(stored.filename)}"
            )
        return web.Response(body=stored.data, content_type=content_type, headers=headers)

    # -- provider panels ------------------------------------------------------------------

    def panel(self, name: str) -> ProviderPanel:
        panel = self.panels.get(name)
        if panel is None:
            raise LookupError(f"no provider {name!r}")
        return panel

    async def providers(self, request: web.Request) -> Any:
        return [
            {"name": p.name, "title": p.title, "fault_kinds": list(PANEL_FAULTS), **p.snapshot()}
            for p in self.panels.values()
        ]

    async def provider_action(self, request: web.Request) -> Any:
        panel = self.panel(request.match_info["name"])
        said = await panel.act(request.match_info["oid"], request.match_info["action"])
        self.emu._notify()
        return {"said": said}

    async def provider_fault(self, request: web.Request) -> Any:
        panel = self.panel(request.match_info["name"])
        data = await self.body(request)
        kind = str(data.get("kind", ""))
        if kind not in PANEL_FAULTS:
            raise PageError(f"the panel offers the faults {', '.join(PANEL_FAULTS)}")
        said = panel.inject(kind, retry_after_seconds(data.get("retry_after")))
        self.emu._notify()
        return {"said": said}

    async def provider_clear(self, request: web.Request) -> Any:
        cleared = self.panel(request.match_info["name"]).clear_faults()
        self.emu._notify()
        return {"cleared": cleared}

    # -- live updates ---------------------------------------------------------------------

    def version(self) -> str:
        return ".".join([str(self.emu.changes), *(str(p.version()) for p in self.panels.values())])

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``data: {"version": ...}`` whenever the world or a provider changed. The page
        fetches what it shows then; a dropped stream is reopened by the browser."""
        response = web.StreamResponse(
            headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream"}
        )
        await response.prepare(request)
        last = ""
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        try:
            while not self.closing.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    break  # the page was closed: stop at once, not at the next change
                current = self.version()
                if current != last:
                    await response.write(f"data: {json.dumps({'version': current})}\n\n".encode())
                    last = current
                    pinged = loop.time()
                elif loop.time() - pinged > 15:
                    await response.write(b": ping\n\n")
                    pinged = loop.time()
                changed = self.emu._changed
                # Providers don't notify the emulator: their panels are looked at every
                # quarter second as well.
                waits = [asyncio.ensure_future(self.closing.wait())]
                if changed is not None:
                    waits.append(asyncio.ensure_future(changed.wait()))
                try:
                    await asyncio.wait(waits, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waits:
                        waiter.cancel()
        except ConnectionResetError:
            pass
        return response
