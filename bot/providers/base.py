"""The one interface every provider adapter implements.

Adapters are thin: they build the provider's request, send it through `_request`
(bot/providers/http.py, which owns the error taxonomy and the retries), and turn the
reply into a `ProviderOrder` (bot/providers/models.py).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from bot.providers.errors import (
    InvalidRemoteId,
    ProviderAuthError,
    ProviderCapabilityError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
)
from bot.providers.http import ProviderHttp
from bot.providers.models import (
    Capabilities,
    CreateRequest,
    KeyCheck,
    KeyState,
    PreparedCreate,
    ProviderOrder,
)


class ProviderAdapter(ProviderHttp):
    """Base of every adapter. Subclasses set `name`, `capabilities` and implement the
    operations they support; the rest of the bot asks `capabilities`, never the name."""

    capabilities: Capabilities
    # The setting that holds its key, for messages that say what to fix.
    key_setting: ClassVar[str]
    # The only currencies its create accepts (None: it doesn't price orders itself).
    currencies: ClassVar[tuple[str, ...] | None] = None
    # Its create needs the buyer's contact details (the /buy contact form asks for them).
    needs_contact: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self._client.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    # --- the key check ---------------------------------------------------------------

    def key_check_path(self) -> str | None:
        """The documented read endpoint, for an order id that can't exist: the answer
        tells an accepted key (404) from a refused one (401/403), and changes nothing.
        None when the API has no such endpoint (nothing else is ever sent to check)."""
        return None

    async def check_key(self, *, within: float) -> KeyCheck:
        """Is our key accepted? One GET of key_check_path, no retries, within `within`
        seconds. Never raises for anything the provider does."""
        path = self.key_check_path()
        if path is None:
            return KeyCheck(
                None,
                "its API has no endpoint that reads without changing anything, so the key is "
                "checked by the first order (a refused key closes its products then)",
                uncheckable=True,
            )
        try:
            async with asyncio.timeout(within):
                await self._request("GET", path, idempotent=True, attempts=1)
        except ProviderAuthError as exc:
            return KeyCheck(KeyState.REFUSED, exc.message)
        except ProviderRejected as exc:
            status = exc.message.split(":")[0]
            if not exc.from_api:
                # An HTML 404 from whatever answers at a wrong base URL says nothing
                # about the key.
                return KeyCheck(
                    None,
                    f"answered {status} in a shape its API doesn't use (is the base URL "
                    "the API's?)",
                )
            # Past authentication: it looked for the order and has none (404), or read
            # the id and refused it (400). Either way it took our key.
            return KeyCheck(KeyState.ACCEPTED, f"key accepted ({status})")
        except ProviderRateLimited as exc:
            return KeyCheck(None, f"asked us to wait ({exc.message}); the key wasn't checked")
        except TimeoutError:
            return KeyCheck(None, f"no answer within {within:g}s")
        except ProviderError as exc:
            return KeyCheck(None, exc.message)
        return KeyCheck(KeyState.ACCEPTED, "key accepted")

    # --- operations --------------------------------------------------------------------

    def prepare_create(self, request: CreateRequest) -> PreparedCreate:
        """The create call for `request`, checked but not sent. Raises ProviderRejected
        for a request this provider would refuse (nothing has been sent then)."""
        raise ProviderCapabilityError(self.name, "this provider cannot create orders")

    async def send_create(self, prepared: PreparedCreate) -> ProviderOrder:
        """Send a prepared create (the first time or again) and read the answer."""
        raise ProviderCapabilityError(self.name, "this provider cannot create orders")

    async def create_order(self, request: CreateRequest) -> ProviderOrder:
        return await self.send_create(self.prepare_create(request))

    async def get_order(self, remote_id: str) -> ProviderOrder:
        raise ProviderCapabilityError(self.name, "this provider cannot be polled")

    def check_remote_id(self, remote_id: str) -> str | None:
        """A friendly problem with an order id a staff member typed, or None if it looks
        right. Checked before any request so a typo never reaches the provider."""
        return None if remote_id.strip() else "the order id is empty"

    # --- plumbing for subclasses -------------------------------------------------------

    def is_usable_id(self, remote_id: object) -> bool:
        """One of this provider's ids exactly as given (no surrounding whitespace)."""
        return (
            isinstance(remote_id, str)
            and remote_id == remote_id.strip()
            and self.check_remote_id(remote_id) is None
        )

    def _path_id(self, remote_id: str) -> str:
        """`remote_id`, if it is one of this provider's ids; it goes into a request path,
        so anything else (`../x`, `a?b`, a megabyte) is refused before any request."""
        if not self.is_usable_id(remote_id):
            raise InvalidRemoteId(
                self.name, f"stored order id {_shown_id(remote_id)} is not a {self.name} id"
            )
        return remote_id

    # Whether this provider's ids ignore case (UUIDs); otherwise ids compare exactly:
    # `ABCdef123456` and `abcDEF123456` are two digital-shop orders.
    ids_ignore_case = False

    def _check_reply_id(self, asked: str, answered: str) -> None:
        """A reply about another order than the one we asked for is never recorded: it
        could carry somebody else's credentials to our buyer."""
        same = answered.lower() == asked.lower() if self.ids_ignore_case else answered == asked
        if not same:
            raise ProviderProtocolError(
                self.name,
                f"asked about order {_shown_id(asked)} but the reply is about "
                f"{_shown_id(answered)}",
            )


def _shown_id(value: object) -> str:
    """An id as it may appear in a log line or a staff message: short and printable."""
    text = str(value)
    shown = "".join(c if c.isprintable() else "?" for c in text[:40])
    return repr(shown + ("…" if len(text) > 40 else ""))
