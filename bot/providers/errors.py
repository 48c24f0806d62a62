"""One error taxonomy for every provider, so callers act on the kind, never the name.

Messages are composed by the adapters from safe parts only (status codes, error codes,
a provider's short message with our key scrubbed). They never include an API key,
a request header or a response body that might carry delivery data.
"""

from __future__ import annotations

from core.i18n import _, in_staff_language


class ProviderError(Exception):
    """Base class. `provider` is the adapter name; `message` is safe to log."""

    kind = "error"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        #: An earlier try of the same call (the adapter retries idempotent calls) may
        #: have reached the provider: a refusal now doesn't prove nothing was done.
        self.earlier_send = False


class ProviderUnavailable(ProviderError):
    """Connect error, timeout or 5xx. Nothing is known to have happened; retry later.
    `sent`: the request may have reached the provider (everything but a refused
    connection)."""

    kind = "unavailable"

    def __init__(self, provider: str, message: str, *, sent: bool = True) -> None:
        super().__init__(provider, message)
        self.sent = sent


class ProviderRateLimited(ProviderError):
    """429. Do not call this provider again for `retry_after` seconds."""

    kind = "rate_limited"

    def __init__(
        self, provider: str, message: str, retry_after: float, *, asked: float | None = None
    ) -> None:
        super().__init__(provider, _rate_limited(message, retry_after, asked))
        self.retry_after = retry_after
        #: What the provider asked for when that was more than we wait (else None).
        self.asked = asked


@in_staff_language
def _rate_limited(message: str, retry_after: float, asked: float | None) -> str:
    """A 429's message as staff read it (alerts, /admin providers, the timeline)."""
    if asked is None:
        return _("{message} (retry after {seconds}s)", message=message, seconds=f"{retry_after:g}")
    return _(
        "{message} (retry after {seconds}s, clamped from {asked}s)",
        message=message,
        seconds=f"{retry_after:g}",
        asked=f"{asked:g}",
    )


class ProviderRejected(ProviderError):
    """A 4xx the user can act on (bad invite, bad parameters, unknown order)."""

    kind = "rejected"

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status_code: int | None,
        user_message: str,
        from_api: bool = True,
    ) -> None:
        super().__init__(provider, message)
        self.status_code = status_code
        self.user_message = user_message
        #: The body is the provider's own error shape, not a web server's page: the
        #: refusal came from its API (what the key check needs to know).
        self.from_api = from_api


class ProviderAuthError(ProviderError):
    """401/403: our key is wrong or revoked. Staff must fix the configuration."""

    kind = "auth"


class ProviderProtocolError(ProviderError):
    """The reply is not what the contract promises: malformed JSON or the wrong shape."""

    kind = "protocol"


class SubmissionAmbiguous(ProviderError):
    """A create was sent and its outcome can't be trusted: no answer arrived to a
    non-idempotent create, or the answer contradicts what we sent. The provider may or
    may not have the order; it must go to staff (needs_review), never be re-sent blindly.

    `remote_id` is the provider's id for the order when its answer named a usable one."""

    kind = "ambiguous"

    def __init__(self, provider: str, message: str, *, remote_id: str | None = None) -> None:
        super().__init__(provider, message)
        self.remote_id = remote_id


class SubmissionConflict(SubmissionAmbiguous):
    """An idempotent create answered 409: the provider already holds an order under our
    id, with other contents. Re-sending can't fix that; staff must compare the two."""

    kind = "conflict"


class InvalidRemoteId(ProviderError):
    """A stored order id that is not one of this provider's ids. It is never put in a
    request path; the order (not the provider) is at fault, so it doesn't count against
    the provider's health."""

    kind = "invalid_id"


class ProviderCapabilityError(ProviderError):
    """The caller asked for something this provider cannot do (e.g. poll checkout)."""

    kind = "capability"
