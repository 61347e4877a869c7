"""The one way the sources talk HTTP: a timeout, a verdict on every answer, bounded retries.

Every answer gets one of three verdicts:

* a **transient** error (retried here a few times, then raised): a timeout,
  a connection error, HTTP 429, HTTP 5xx whatever the body, and a body that
  did not arrive as JSON: cut short in transfer, or a page that is not JSON at
  all (a proxy's or load balancer's HTML page). The request itself was fine,
  so asking again later can succeed.
* a **permanent** error (raised at once): HTTP 401/403 (`AuthError`), 404
  (`RecordNotFound`), any other 4xx, and JSON that is not of the documented shape
  (the clients check shapes and raise `PermanentSourceError`): the same request
  would get the same answer.
* the decoded JSON.

Each service adds its own rules through a `check` (Brickset's error envelope
on HTTP 200, BrickLink's `meta.code`, eBay's `errors[]`) before the generic
rules above.

Retries follow `RetryPolicy`: exponential backoff with jitter, a few attempts,
a small total. A delay the service asks for (`Retry-After`, Rebrickable's
"Expected available in N seconds") replaces the backoff when it is short; a
long one, or a spent quota without a delay, is raised at once with its
`retry_after` so that the caller can defer the work instead of sleeping.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)

log = logging.getLogger(__name__)

USER_AGENT = "minifig-stonks/0.1 (python-requests)"

BeforeRequest = Callable[[str], None]
"""Called with the service name before every HTTP request, retries included.

The worker layer plugs cross-process quotas in here (for example a Dramatiq
rate limiter on Redis); whatever it raises propagates unchanged.
"""

# Errors in the request itself, not in the network: retrying cannot help.
_MALFORMED_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient errors inside one call.

    Waits grow as `initial_s * 2**n` up to `max_wait_s`, plus up to `jitter_s`
    of random jitter. No retry starts once `max_total_s` would be passed. A
    service-requested delay above `max_retry_after_s` is not waited for here.
    Tests pass a `sleep` that returns at once.
    """

    attempts: int = 4
    initial_s: float = 0.5
    max_wait_s: float = 8.0
    jitter_s: float = 0.5
    max_total_s: float = 30.0
    max_retry_after_s: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


NO_RETRY = RetryPolicy(attempts=1)


def backoff_s(policy: RetryPolicy, attempt: int) -> float:
    """The wait after failed attempt number `attempt` (from 1) when the service named none."""
    exponential: float = policy.initial_s * 2.0 ** (attempt - 1)
    return min(exponential + random.uniform(0, policy.jitter_s), policy.max_wait_s)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; `payload` is the decoded JSON when `decoded` is true."""

    service: str
    endpoint: str
    status: int
    headers: Mapping[str, str]
    payload: Any
    decoded: bool
    snippet: str

    def fail(self, kind: type[SourceError], reason: str, retry_after: float | None = None) -> SourceError:
        """An error of `kind` about this reply."""
        if issubclass(kind, TransientSourceError):
            if retry_after is None:
                retry_after = self.retry_after()
            return kind(self.service, self.endpoint, reason, status=self.status, retry_after=retry_after)
        return kind(self.service, self.endpoint, reason, status=self.status)

    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


Throttled = Callable[[str, float], None]
"""Called with the service name and the delay when a service asks to wait (`Retry-After`): the
worker layer makes every thread and process that calls the same API wait with the one that was told."""

Check = Callable[[Reply], SourceError | None]
"""A service's own reading of a reply: the error it means, or None to apply the generic rules."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return usable_delay(seconds)


def usable_delay(seconds: float) -> float | None:
    """A delay a worker can wait: finite and not negative; None for NaN and infinity ("1e400")."""
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def error_for_status(reply: Reply, reason: str | None = None) -> SourceError | None:
    """The generic verdict on an HTTP status; None for 2xx and 3xx."""
    status = reply.status
    reason = reason or (f"HTTP {status}: {reply.snippet}" if reply.snippet else f"HTTP {status}")
    if status == 429:
        return reply.fail(RateLimited, reason)
    if status >= 500:
        return reply.fail(TransientSourceError, reason)
    if status in (401, 403):
        return reply.fail(AuthError, reason)
    if status == 404:
        return reply.fail(RecordNotFound, reason)
    if status >= 400:
        return reply.fail(PermanentSourceError, reason)
    return None


def make_reply(service: str, endpoint: str, status: int, headers: Mapping[str, str], body: bytes) -> Reply:
    """A reply with its body decoded as JSON, noting why when it is not JSON."""
    text = body[:300].decode("utf-8", "replace")
    snippet = " ".join(text.split())[:200]
    payload: Any = None
    try:
        payload, decoded = json.loads(body), True
    except RecursionError:  # nested deeper than the decoder goes: no documented body is
        decoded, snippet = False, f"body nests too deeply to decode ({len(body)} bytes): {snippet}"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        decoded = False
        if isinstance(exc, json.JSONDecodeError) and body.strip() and exc.pos >= len(exc.doc.rstrip()):
            snippet = f"body cut short after {len(body)} bytes: {snippet}"
        else:
            kind = headers.get("Content-Type", "no content type")
            snippet = f"body is not JSON ({kind}, {len(body)} bytes): {snippet}"
    return Reply(service, endpoint, status, headers, payload, decoded, snippet)


def judge(reply: Reply, check: Check | None = None) -> Any:
    """The decoded JSON of a good reply; otherwise raise the error it means.

    The service's `check` speaks first, then the HTTP status; a body that is
    not JSON under a good status is transient (see the module docstring).
    """
    error = (check(reply) if check is not None else None) or error_for_status(reply)
    if error is not None:
        raise error
    if not reply.decoded:
        raise reply.fail(TransientSourceError, reply.snippet)
    return reply.payload


@functools.lru_cache(maxsize=64)
def environment_proxies(scheme: str, netloc: str) -> dict[str, str]:
    """The proxies the environment sets for an origin (`HTTPS_PROXY`, `NO_PROXY`...), read once."""
    return requests.utils.get_environ_proxies(f"{scheme}://{netloc}/")


class HttpSource:
    """A `requests.Session` for one service, with its timeout, retry policy and quota hook."""

    def __init__(
        self,
        service: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        before_request: BeforeRequest | None = None,
        on_throttled: Throttled | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.on_throttled = on_throttled
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.before_request = before_request
        self.session = session or requests.Session()
        # requests reads the proxy and CA settings from the environment on every request,
        # scanning all of it: read them once per origin instead (see `environment_proxies`).
        self.session.trust_env = False
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        check: Check | None = None,
        **request: Any,
    ) -> Any:
        """The decoded JSON of `method url`, retrying transient errors per the policy.

        `endpoint` names the call in errors and logs; `request` goes to
        `requests.Session.request` (params, data, headers, auth).
        """
        policy = self.retry
        retrying = Retrying(
            retry=retry_if_exception(self._is_retryable),
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.max_total_s),
            wait=self._wait,
            sleep=policy.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self.call_once, method, url, endpoint, check=check, **request)

    def call_once(self, method: str, url: str, endpoint: str, *, check: Check | None = None, **request: Any) -> Any:
        """One request and its verdict, without retries."""
        if self.before_request is not None:
            self.before_request(self.service)
        try:
            response = self.session.request(method, url, timeout=self.timeout_s,
                                            proxies=environment_proxies(*urlsplit(url)[:2]), **request)
        except requests.Timeout as exc:
            raise TransientSourceError(self.service, endpoint, f"no answer within {self.timeout_s:g} s") from exc
        except _MALFORMED_REQUEST as exc:
            raise PermanentSourceError(self.service, endpoint, f"malformed request: {exc}") from exc
        except requests.RequestException as exc:
            raise TransientSourceError(self.service, endpoint, f"connection failed: {exc}") from exc
        reply = make_reply(self.service, endpoint, response.status_code, response.headers, response.content)
        try:
            return judge(reply, check)
        except TransientSourceError as exc:
            if exc.retry_after is not None and self.on_throttled is not None:
                self.on_throttled(self.service, exc.retry_after)
            raise

    def _is_retryable(self, exc: BaseException) -> bool:
        if not isinstance(exc, TransientSourceError):
            return False
        if exc.retry_after is None:
            return not isinstance(exc, QuotaExceeded)
        return exc.retry_after <= self.retry.max_retry_after_s

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientSourceError) and exc.retry_after is not None:
            return exc.retry_after
        return backoff_s(self.retry, state.attempt_number)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s; attempt %d failed, retrying in %.2f s", exc, state.attempt_number, wait)
