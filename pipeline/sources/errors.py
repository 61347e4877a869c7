"""What can go wrong when talking to an external API, sorted by what to do next.

The I/O edge decides: a `TransientSourceError` is worth retrying later, a
`PermanentSourceError` is not (retrying sends the same request to the same
answer). `QuotaExceeded` is transient but must be deferred, not retried at
once: the service has said no for a while.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import NotFound


class SourceError(Exception):
    """A call to `service`'s `endpoint` failed for `reason`."""

    def __init__(self, service: str, endpoint: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(service, endpoint, reason)
        self.service = service
        self.endpoint = endpoint
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.service} {self.endpoint}: {self.reason}{status}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only attributes survive pickling (result backends, subprocesses).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[SourceError], args: tuple[Any, ...], state: dict[str, Any]) -> SourceError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class TransientSourceError(SourceError):
    """Timeouts, connection errors, HTTP 429 and 5xx, a body cut short: retry later.

    `retry_after` is the delay in seconds the service asked for, when it said.
    """

    def __init__(
        self,
        service: str,
        endpoint: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(service, endpoint, reason, status=status)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}; retry after {self.retry_after:g} s" if self.retry_after is not None else text


class RateLimited(TransientSourceError):
    """HTTP 429: too many requests for now (eBay's error 2001, Rebrickable's throttling).

    Wait (the service's Retry-After, else a growing backoff) and ask again. eBay answers a spent
    daily quota with the same 429: only the day's usage tells them apart (`actors.quotas`).
    """


class QuotaExceeded(TransientSourceError):
    """The service's call quota is spent (Brickset "API limit exceeded", eBay 2001).

    Defer the work until the quota resets; do not count it as a failure.
    """


class PermanentSourceError(SourceError):
    """Bad credentials, a 4xx other than 429, a body not of the documented shape."""


class AuthError(PermanentSourceError):
    """The credentials were refused, or a required one is not configured."""


class RecordNotFound(PermanentSourceError, NotFound):
    """The requested record does not exist (HTTP 404, BrickLink RESOURCE_NOT_FOUND)."""
