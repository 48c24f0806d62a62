"""Errors whose message is written for the person who caused them.

The global `tree.on_error` shows `user_message` ephemerally and logs nothing alarming;
anything that is not a `UserFacingError` is logged with a reference id instead.
"""

from __future__ import annotations

from core.domain import Money
from core.i18n import _, _n


class UserFacingError(Exception):
    """Safe to show to the user as-is: no ids of other members, no secrets."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidInput(UserFacingError):
    pass


class ShopPaused(UserFacingError):
    def __init__(self, reason: str | None = None) -> None:
        if reason:
            message = _(
                "The shop is paused right now, so no new orders can be placed. Nothing was "
                "ordered and nothing was charged; please try again later. Staff say: {reason}",
                reason=reason,
            )
        else:
            message = _(
                "The shop is paused right now, so no new orders can be placed. Nothing was "
                "ordered and nothing was charged; please try again later."
            )
        super().__init__(message)


def clip(text: str, limit: int = 40) -> str:
    """User input as it may be echoed back: one line, at most `limit` characters, no
    backticks (it is shown inside a code span). Every reply stays far from Discord's
    2,000-character limit, whatever was typed."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class OrderNotFoundError(UserFacingError):
    def __init__(self, order_id: str) -> None:
        # Deliberately the same text whether the order doesn't exist or isn't yours.
        super().__init__(
            _("No order `{order_id}` was found among your orders.", order_id=clip(order_id))
        )


class NotAllowed(UserFacingError):
    pass


class ProviderBusy(UserFacingError):
    """The provider asked us to hold off: nothing is sent until then."""

    def __init__(self, seconds: float) -> None:
        # Rounded as f"{x:.0f}" rounds (half to even).
        if seconds < 90:
            message = _n(
                "The provider is busy right now, so nothing was sent, ordered or charged. "
                "Press **Confirm** again in about {count} second.",
                "The provider is busy right now, so nothing was sent, ordered or charged. "
                "Press **Confirm** again in about {count} seconds.",
                round(seconds),
            )
        else:
            message = _n(
                "The provider is busy right now, so nothing was sent, ordered or charged. "
                "Press **Confirm** again in about {count} minute.",
                "The provider is busy right now, so nothing was sent, ordered or charged. "
                "Press **Confirm** again in about {count} minutes.",
                round(seconds / 60),
            )
        super().__init__(message)


class ProviderClosed(UserFacingError):
    """The provider refused the shop's API key: its products can't be ordered until the
    key works, so nothing is charged for an order that can't be placed."""

    def __init__(self, product_name: str) -> None:
        super().__init__(
            _(
                "**{product}** can't be ordered right now: the shop's supplier isn't "
                "accepting its orders. Nothing was ordered or charged, and staff have been "
                "told. Please try again later.",
                product=product_name,
            )
        )


class NotEnoughCredit(UserFacingError):
    """A wallet-paid order the buyer's balance can't cover: nothing was written or sent."""

    def __init__(self, user_message: str, *, shortfall: Money) -> None:
        super().__init__(user_message)
        self.shortfall = shortfall
