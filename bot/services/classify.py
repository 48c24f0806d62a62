"""What a create that raised means: the exception ladder of a send, as one pure function.

The rules (docs/architecture.md, "Exactly-once submission" §6-7). Once the request may
have left, every exception means "outcome unknown", whatever it is:

- an idempotent provider (checkout: it gets our order id) keeps the order `submitting`
  after a timeout, a 5xx, a 429 or an unreadable reply, and the same request is re-sent
  later (`resend_delays`, then staff);
- a non-idempotent one (boost) sends any of those to staff (`needs_review`), never
  re-sent: except a refused connection (the request never left) and a 429 (the provider
  did nothing), which are plainly `failed`;
- an answer that contradicts our request (a 409, an id that isn't ours) goes to staff;
- a refusal (4xx, 401) is `failed` ("nothing was ordered") only when no earlier send
  may have landed: after a re-send, or the adapter's own retry after a 5xx or timeout
  (`ProviderError.earlier_send`), it is `needs_review`;
- an exception outside the provider-error taxonomy is outcome unknown too.

Whether the bytes left is in the error itself: the adapter raises `ProviderUnavailable`
for a refused connection of a non-idempotent create and `SubmissionAmbiguous` once it may
have been received (bot/providers/http.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.providers.errors import (
    ProviderAuthError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmissionAmbiguous,
)
from core.i18n import N_, _, _n, in_staff_language

# The buyer's reason of a FAIL ("Order X could not be placed: <reason>."), stored as the
# order's status message: English here, translated where it is shown.
REFUSED = N_("the provider refused the order")
UNAVAILABLE = N_(
    "the provider is unavailable right now; nothing was ordered, please try again later"
)
BUSY = N_("the provider is busy right now; nothing was ordered, please try again later")


class Action(StrEnum):
    RESEND = "resend"  # stays `submitting`; the same request again in `retry_in` seconds
    REVIEW = "review"  # needs_review: staff look, it is never re-sent on its own
    FAIL = "fail"  # failed: the provider did nothing, "nothing was ordered"


class BuyerNote(StrEnum):
    """What a buyer whose order went to staff is told (bot/services/outcomes.py words it)."""

    CHECKING = "checking"  # we couldn't confirm it with the provider; staff are checking
    UNREADABLE = "unreadable"  # we couldn't read the provider's answer; staff are checking
    WAITING = "waiting"  # it is waiting for staff


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """A provider id an ambiguous answer named: stored first, before the review."""

    remote_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    detail: str  # the timeline's and staff's words
    reason: str = ""  # FAIL: the buyer's "could not be placed: <reason>" (translate with _)
    note: BuyerNote = BuyerNote.WAITING  # REVIEW: what the buyer is told
    retry_in: float = 0.0  # RESEND: seconds until the same request goes again
    keep: KeptAnswer | None = None  # REVIEW: the provider's id, kept before anything else
    unexpected: bool = False  # outside the taxonomy: worth a traceback in the log


def classify(
    error: Exception, *, idempotent: bool, resends: int, resend_delays: Sequence[float]
) -> Verdict:
    """What to do about a send of a create that raised `error`.

    `idempotent`: the provider's create carries our id, so re-sending it can't make a
    second order. `resends`: sends of this submission before this one (0 for the first).
    `resend_delays`: the waits between re-sends; once they are used up, staff get it."""
    if isinstance(error, SubmissionAmbiguous):
        # No usable answer, or one that contradicts our request (a 409, another id).
        detail = error.message
        if idempotent and resends:
            detail = _after_earlier_sends(detail, resends)
        keep = None if error.remote_id is None else KeptAnswer(error.remote_id, error.message)
        return Verdict(Action.REVIEW, detail, note=BuyerNote.CHECKING, keep=keep)
    if isinstance(error, ProviderRejected | ProviderAuthError):
        if idempotent and (resends or error.earlier_send):
            # A refusal of a re-send says nothing about the earlier send, which may
            # have landed: never "nothing was ordered" then.
            return Verdict(Action.REVIEW, _refused_resend(error.message), note=BuyerNote.CHECKING)
        if isinstance(error, ProviderRejected):
            reason = error.user_message or REFUSED
            return Verdict(Action.FAIL, error.message, reason=reason)
        return Verdict(Action.FAIL, error.message, reason=UNAVAILABLE)
    if isinstance(error, ProviderUnavailable | ProviderRateLimited | ProviderProtocolError):
        if idempotent:
            wait = error.retry_after if isinstance(error, ProviderRateLimited) else 0.0
            return _resend(error.message, resends, resend_delays, wait)
        if isinstance(error, ProviderProtocolError):
            # A 2xx we can't read: the provider may well have the order.
            return Verdict(Action.REVIEW, error.message, note=BuyerNote.UNREADABLE)
        # Unavailable here means the request never left (a refused connection), and a
        # 429 means the provider didn't act on it: nothing was ordered.
        busy = isinstance(error, ProviderRateLimited)
        return Verdict(Action.FAIL, error.message, reason=BUSY if busy else UNAVAILABLE)
    # Any other error once the request may have left: the outcome is unknown. The
    # idempotent provider gets the same request again; the other goes to staff.
    detail = _unexpected(type(error).__name__)
    if idempotent:
        return replace(_resend(detail, resends, resend_delays, 0.0), unexpected=True)
    return Verdict(Action.REVIEW, detail, note=BuyerNote.WAITING, unexpected=True)


def _resend(problem: str, resends: int, delays: Sequence[float], wait: float) -> Verdict:
    """The same request again after the next delay (or the provider's Retry-After, if
    longer); once the delays are used up, staff get it."""
    if resends >= len(delays):
        return Verdict(Action.REVIEW, _still_failing(problem, resends), note=BuyerNote.WAITING)
    return Verdict(Action.RESEND, problem, retry_in=max(delays[resends], wait))


# The details: staff's words (their alerts and the timeline), so in the staff language
# whoever's Confirm this is.


@in_staff_language
def _after_earlier_sends(problem: str, resends: int) -> str:
    return _n(
        "{problem} (after {count} earlier send)",
        "{problem} (after {count} earlier sends)",
        resends,
        problem=problem,
    )


@in_staff_language
def _refused_resend(problem: str) -> str:
    return _("{problem}, refusing a re-send; an earlier send may have reached it", problem=problem)


@in_staff_language
def _unexpected(error_name: str) -> str:
    return _("unexpected {error} after sending; the provider may have it", error=error_name)


@in_staff_language
def _still_failing(problem: str, resends: int) -> str:
    return _n(
        "still failing after {count} re-send: {problem}",
        "still failing after {count} re-sends: {problem}",
        resends,
        problem=problem,
    )
