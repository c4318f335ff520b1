"""The two ways a provider call fails, as the send activity needs to tell them apart."""

from datetime import timedelta


class ProviderRejectedError(Exception):
    """The provider refused this message for good; retrying cannot help.

    `suppress_address` is true when the address itself is the problem (invalid, opted out,
    not a mobile), so nothing should be sent to it again.
    """

    def __init__(self, reason: str, *, suppress_address: bool, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.suppress_address = suppress_address
        # Which part of a batch request was refused, e.g. "personalizations.3.to.0.email".
        self.field = field


class ProviderUnavailableError(Exception):
    """Rate limited, a server error or a network failure: Temporal retries with backoff.

    `maybe_accepted` is true when no answer came back (timeout, dropped connection): the
    provider may have taken the message, so a retry first waits for delivery evidence.
    An error answer (429, 5xx) means it did not.
    """

    def __init__(
        self, reason: str, *, retry_after: timedelta | None = None, maybe_accepted: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.maybe_accepted = maybe_accepted
