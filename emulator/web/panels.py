"""What the playground page's provider panels show and do, as the web front sees it.

The emulator knows nothing about the sandbox providers (they are another package, run by
whoever starts the playground). Whoever does hands the web front one :class:`ProviderPanel`
per provider: a snapshot to draw, the actions each order offers (its next statuses, "pay"
for a payment link), and the faults a shop owner can inject.
"""

from __future__ import annotations

from typing import Any, Protocol

#: The faults the panel offers: a 429 with Retry-After, a 500, and a request that hangs.
PANEL_FAULTS = ("rate_limit", "server_error", "hang")


class ProviderPanel(Protocol):
    #: The provider's name in URLs (``boost``, ``razorpay``).
    name: str
    #: What the page calls it ("Boost reseller").
    title: str

    def snapshot(self) -> dict[str, Any]:
        """``{"orders": [{"id", "status", "summary", "actions": [{"id", "label"}]}],
        "faults": [str], "requests": [{"method", "path", "body", "at"}]}``, newest last."""
        ...

    def version(self) -> int:
        """Changes whenever the snapshot would (the page redraws the panel then)."""
        ...

    async def act(self, order_id: str, action: str) -> str:
        """Do one of an order's actions; returns a line saying what happened. Raises
        LookupError for an unknown order or action, ValueError for one it can't do now."""
        ...

    def inject(self, kind: str, retry_after: float | None = None) -> str:
        """Queue one fault of ``kind`` (one of :data:`PANEL_FAULTS`) for the next request."""
        ...

    def clear_faults(self) -> int: ...
