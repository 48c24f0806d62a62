"""Errors whose message is written for the person who caused them.

The global `tree.on_error` shows `user_message` ephemerally and logs nothing alarming;
anything that is not a `UserFacingError` is logged with a reference id instead.
"""

from __future__ import annotations

from core.domain import Money


class UserFacingError(Exception):
    """Safe to show to the user as-is: no ids of other members, no secrets."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidInput(UserFacingError):
    pass


class ShopPaused(UserFacingError):
    def __init__(self, reason: str | None = None) -> None:
        because = f" Staff say: {reason}" if reason else ""
        super().__init__(
            "The shop is paused right now, so no new orders can be placed. Nothing was ordered"
            f" and nothing was charged; please try again later.{because}"
        )


def clip(text: str, limit: int = 40) -> str:
    """User input as it may be echoed back: one line, at most `limit` characters, no
    backticks (it is shown inside a code span). Every reply stays far from Discord's
    2,000-character limit, whatever was typed."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class OrderNotFoundError(UserFacingError):
    def __init__(self, order_id: str) -> None:
        # Deliberately the same text whether the order doesn't exist or isn't yours.
        super().__init__(f"No order `{clip(order_id)}` was found among your orders.")


class NotAllowed(UserFacingError):
    pass


class ProviderBusy(UserFacingError):
    """The provider asked us to hold off: nothing is sent until then."""

    def __init__(self, seconds: float) -> None:
        wait = f"{seconds:.0f} seconds" if seconds < 90 else f"{seconds / 60:.0f} minutes"
        super().__init__(
            "The provider is busy right now, so nothing was sent, ordered or charged. "
            f"Press **Confirm** again in about {wait}."
        )


class ProviderClosed(UserFacingError):
    """The provider refused the shop's API key: its products can't be ordered until the
    key works, so nothing is charged for an order that can't be placed."""

    def __init__(self, product_name: str) -> None:
        super().__init__(
            f"**{product_name}** can't be ordered right now: the shop's supplier isn't "
            "accepting its orders. Nothing was ordered or charged, and staff have been told. "
            "Please try again later."
        )


class NotEnoughCredit(UserFacingError):
    """A wallet-paid order the buyer's balance can't cover: nothing was written or sent."""

    def __init__(self, user_message: str, *, shortfall: Money) -> None:
        super().__init__(user_message)
        self.shortfall = shortfall
