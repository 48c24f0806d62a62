"""The exception ladder of a create's send, rung by rung (bot/services/classify.py).

docs/architecture.md, "Exactly-once submission" §6-7: checkout (idempotent) keeps
re-sending what may have landed, boost never re-sends it, a refusal is "nothing was
ordered" only when no earlier send may have landed, and anything else is outcome unknown.
Pure: no database, no provider."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.providers.errors import (
    ProviderAuthError,
    ProviderCapabilityError,
    ProviderError,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmissionAmbiguous,
    SubmissionConflict,
)
from bot.services.classify import Action, BuyerNote, KeptAnswer, Verdict, classify

DELAYS = (5.0, 15.0, 45.0)
NOT_ORDERED = "nothing was ordered, please try again later"

Send = Callable[..., Verdict]


def checkout(error: Exception, resends: int = 0) -> Verdict:
    return classify(error, idempotent=True, resends=resends, resend_delays=DELAYS)


def boost(error: Exception, resends: int = 0) -> Verdict:
    return classify(error, idempotent=False, resends=resends, resend_delays=DELAYS)


def rejected(message: str = "HTTP 422: invalid id", user_message: str = "") -> ProviderRejected:
    return ProviderRejected("p", message, status_code=422, user_message=user_message)


def after_a_retry(error: ProviderError) -> ProviderError:
    """The adapter's own retry after a 5xx or a timeout: its first try may have landed."""
    error.earlier_send = True
    return error


# --- an answer we can't trust: always staff, never re-sent -----------------------------------


@pytest.mark.parametrize("send", [checkout, boost])
def test_an_ambiguous_answer_goes_to_staff(send: Send) -> None:
    verdict = send(SubmissionAmbiguous("p", "no answer after sending"))
    assert verdict.action is Action.REVIEW and verdict.note is BuyerNote.CHECKING
    assert verdict.detail == "no answer after sending" and verdict.keep is None
    assert not verdict.unexpected


def test_an_ambiguous_answer_that_names_an_id_keeps_it_first() -> None:
    verdict = boost(SubmissionAmbiguous("p", "about another invite", remote_id="R1"))
    assert verdict.action is Action.REVIEW
    assert verdict.keep == KeptAnswer("R1", "about another invite")


def test_an_ambiguous_answer_to_a_resend_counts_the_earlier_sends() -> None:
    error = SubmissionAmbiguous("p", "answered under another id", remote_id="R1")
    verdict = checkout(error, resends=2)
    assert verdict.action is Action.REVIEW
    assert verdict.detail == "answered under another id (after 2 earlier sends)"
    # The kept answer's words are the provider's, and the error itself is not changed.
    assert verdict.keep == KeptAnswer("R1", "answered under another id")
    assert error.message == "answered under another id"


def test_a_409_is_needs_review_on_a_first_send_and_a_resend() -> None:
    for resends in (0, 1):
        verdict = checkout(SubmissionConflict("p", "HTTP 409", remote_id="ORD-1"), resends)
        assert verdict.action is Action.REVIEW and verdict.keep == KeptAnswer("ORD-1", "HTTP 409")


def test_an_ambiguous_boost_answer_is_never_resent_even_with_delays_left() -> None:
    assert boost(SubmissionAmbiguous("p", "HTTP 502")).action is Action.REVIEW


# --- a refusal: "nothing was ordered" only when nothing earlier may have landed ---------------


@pytest.mark.parametrize("send", [checkout, boost])
def test_a_refusal_of_a_first_send_fails_with_the_providers_reason(send: Send) -> None:
    verdict = send(rejected(user_message="That invite has expired."))
    assert verdict.action is Action.FAIL
    assert verdict.reason == "That invite has expired." and verdict.detail == "HTTP 422: invalid id"


def test_a_refusal_without_a_reason_says_the_provider_refused() -> None:
    assert boost(rejected()).reason == "the provider refused the order"


def test_a_refused_resend_is_needs_review() -> None:
    verdict = checkout(rejected(), resends=1)
    assert verdict.action is Action.REVIEW and verdict.note is BuyerNote.CHECKING
    assert verdict.detail == (
        "HTTP 422: invalid id, refusing a re-send; an earlier send may have reached it"
    )


def test_a_refusal_after_the_adapters_own_retry_is_needs_review() -> None:
    verdict = checkout(after_a_retry(rejected()))
    assert verdict.action is Action.REVIEW
    assert verdict.detail.endswith("an earlier send may have reached it")


def test_a_boost_refusal_is_failed_whatever_came_before() -> None:
    # Boost never re-sends; its adapter never retries a create either.
    assert boost(after_a_retry(rejected()), resends=1).action is Action.FAIL


def test_a_401_on_a_first_send_is_failed_as_unavailable() -> None:
    for send in (checkout, boost):
        verdict = send(ProviderAuthError("p", "HTTP 401 (check the API key)"))
        assert verdict.action is Action.FAIL
        assert verdict.reason == f"the provider is unavailable right now; {NOT_ORDERED}"
        assert verdict.detail == "HTTP 401 (check the API key)"


def test_a_401_to_a_resend_or_after_a_retry_is_needs_review() -> None:
    auth = ProviderAuthError("p", "HTTP 401")
    assert checkout(auth, resends=1).action is Action.REVIEW
    assert checkout(after_a_retry(ProviderAuthError("p", "HTTP 401"))).action is Action.REVIEW


# --- unreachable, busy, unreadable: checkout re-sends, boost fails or goes to staff -----------


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("p", "HTTP 503"),
        ProviderProtocolError("p", "a reply that does not decode"),
        ProviderRateLimited("p", "rate limited", 1.0),
    ],
)
def test_checkout_keeps_submitting_and_resends_after_the_next_delay(error: ProviderError) -> None:
    verdict = checkout(error, resends=1)
    assert verdict.action is Action.RESEND
    assert verdict.retry_in == DELAYS[1] and verdict.detail == error.message


def test_a_longer_retry_after_than_the_delay_is_waited() -> None:
    verdict = checkout(ProviderRateLimited("p", "rate limited", 600.0, asked=1e308))
    assert verdict.action is Action.RESEND and verdict.retry_in == 600.0


def test_checkout_goes_to_staff_once_the_resends_are_used_up() -> None:
    verdict = checkout(ProviderUnavailable("p", "HTTP 503"), resends=len(DELAYS))
    assert verdict.action is Action.REVIEW and verdict.note is BuyerNote.WAITING
    assert verdict.detail == "still failing after 3 re-sends: HTTP 503"


def test_an_unreadable_boost_reply_goes_to_staff() -> None:
    verdict = boost(ProviderProtocolError("p", "HTTP 200 with a body that is not JSON"))
    assert verdict.action is Action.REVIEW and verdict.note is BuyerNote.UNREADABLE


def test_a_refused_connection_to_boost_is_failed() -> None:
    verdict = boost(ProviderUnavailable("p", "cannot connect (ConnectError)", sent=False))
    assert verdict.action is Action.FAIL
    assert verdict.reason == f"the provider is unavailable right now; {NOT_ORDERED}"


def test_a_429_to_boost_is_failed_as_busy() -> None:
    verdict = boost(ProviderRateLimited("p", "rate limited", 30.0))
    assert verdict.action is Action.FAIL
    assert verdict.reason == f"the provider is busy right now; {NOT_ORDERED}"


# --- anything else once the request may have left: outcome unknown ----------------------------


@pytest.mark.parametrize(
    "error", [KeyError("data"), ProviderCapabilityError("p", "this provider cannot create")]
)
def test_an_unexpected_error_is_resent_to_checkout(error: Exception) -> None:
    verdict = checkout(error)
    assert verdict.action is Action.RESEND and verdict.unexpected
    assert verdict.retry_in == DELAYS[0]
    assert verdict.detail == (
        f"unexpected {type(error).__name__} after sending; the provider may have it"
    )


def test_an_unexpected_error_goes_to_staff_for_boost() -> None:
    verdict = boost(ValueError("x"))
    assert verdict.action is Action.REVIEW and verdict.unexpected
    assert verdict.note is BuyerNote.WAITING


def test_an_unexpected_error_with_no_resends_left_goes_to_staff() -> None:
    verdict = checkout(RuntimeError("x"), resends=len(DELAYS))
    assert verdict.action is Action.REVIEW and verdict.unexpected
    assert verdict.detail.startswith("still failing after 3 re-sends: unexpected RuntimeError")
