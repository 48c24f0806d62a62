"""Who may talk to the playground: this machine's browser, through the address it printed.

The playground serves 127.0.0.1 only, and three checks keep anything else out:

* the **token** in every page and API path (``/play/<token>/``), random per run and
  compared in constant time, so another local user or a page guessing ports finds nothing;
* the **Host** header, on every request to the emulator once the web front is on (the
  Discord API and the gateway too): a DNS-rebinding page reaches 127.0.0.1 under its own
  host name, and is refused before any route runs;
* the **Origin** header: a request a browser sends from any other page (a form posted
  cross-site, a fetch) carries that page's origin and is refused. The bot's own HTTP
  client sends none, and same-origin GETs may omit it; a browser always sends it on a
  state-changing request, so those must carry ours.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Guard:
    def __init__(self, token: str) -> None:
        self.token = token
        self.port = 0

    def bind(self, port: int) -> None:
        self.port = port

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if host not in self.hosts:
            return web.Response(
                status=421,
                text="This playground answers only at the address it printed (127.0.0.1).\n",
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            return web.Response(status=403, text="Requests from other sites are refused.\n")
        if request.path.startswith("/play/") and request.method in UNSAFE_METHODS and not origin:
            return web.Response(status=403, text="A browser request must say where it is from.\n")
        return await handler(request)
