"""API quotas shared by every worker process, the clients that respect them, quota errors as deferrals.

The limits live in Redis (counted as Dramatiq's bucket rate limiters count, keys
prefixed with `stack.namespace`) and are checked in the clients'
`before_request` hook, before every HTTP request, retries included:

- eBay Browse: `EBAY_DAILY_QUOTA` calls (5,000) per UTC day, all processes together.
  A spent quota defers the message to the next day; it is not a failure.
- Rebrickable: one request per second, all processes together. A caller waits
  for the next second, up to MAX_PACED_WAIT_S, then the message is deferred.

A service that asks to wait (`Retry-After` on a 429) pauses every thread and
process that calls it with the same credentials (`actors.pauses`); a pause longer
than LONG_RETRY_AFTER_S defers the message instead of sleeping through it.

eBay answers both "too many requests" and "the daily quota is spent" with 429,
error 2001. A 429 is a rate limit, retried with backoff, unless the day's usage
says the quota is spent: eBay's own count (Developer Analytics `getRateLimits`),
else the system's. Only then is the message deferred, to the quota's reset. A
quota the service itself reports as spent (`QuotaExceeded`: Brickset's), or a
long Retry-After, becomes `Deferred` too (see `deferring`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits.backends import RedisBackend

from actors.pauses import Pauses
from pipeline.clock import utcnow
from pipeline.errors import Deferred
from pipeline.settings import get_settings
from pipeline.sources.ebay import EbayClient
from pipeline.sources.errors import QuotaExceeded, RateLimited, SourceError, TransientSourceError
from pipeline.sources.factory import (
    CatalogClient,
    thread_catalog_client,
    thread_ebay_client,
)

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
SECOND_MS = 1_000
MAX_PACED_WAIT_S = 15.0
LONG_RETRY_AFTER_S = 30.0  # a wait the HTTP layer would not sleep through: defer instead
UNKNOWN_QUOTA_DELIVERIES = 2  # 429s through this many retries of a message, eBay's count unknown: taken as spent


P = ParamSpec("P")
R = TypeVar("R")


def seconds_to_next_utc_day(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds() + 60  # a minute of margin for clocks that disagree


class BucketQuota:
    """Up to `limit` calls per bucket of `bucket_ms`, counted in Redis for every process.

    The count of Dramatiq's BucketRateLimiter (key `{key}@{bucket start}`), taken in
    one round trip: the limiter first tries to create the key, then counts.
    """

    def __init__(self, backend: RedisBackend, key: str, *, limit: int, bucket_ms: int) -> None:
        self.backend, self.key, self.limit, self.bucket_ms = backend, key, limit, bucket_ms

    def bucket(self) -> str:
        now = int(time.time() * 1000)
        return f"{self.key}@{now - now % self.bucket_ms}"

    def take(self, calls: int = 1, bucket: str | None = None) -> bool:
        """`calls` calls from this bucket (or the one named); False, taking none, if fewer are left."""
        taken: bool = self.backend.incr(bucket or self.bucket(), calls, self.limit, self.bucket_ms)
        return taken

    def give_back(self, bucket: str, calls: int) -> None:
        """Return calls taken from `bucket` and not made (nothing, if the bucket is gone)."""
        self.backend.decr(bucket, calls, 0, self.bucket_ms)


class Prepaid:
    """Calls taken ahead from one bucket, drawn on by the threads of one message."""

    def __init__(self, bucket: str, calls: int) -> None:
        self.bucket, self._left, self._lock = bucket, calls, threading.Lock()

    def draw(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def close(self) -> int:
        """No more drawing; the calls left."""
        with self._lock:
            left, self._left = self._left, 0
            return left


class Quotas:
    """The cross-process limits, as a `before_request` hook for the clients."""

    def __init__(self, backend: RedisBackend, namespace: str, ebay_daily: int,
                 sleep: Callable[[float], None] = time.sleep, credentials: Mapping[str, str] | None = None) -> None:
        """`credentials`: per service, a tag of the API and credentials its pause is shared by."""
        self.ebay_daily = ebay_daily
        self._redis = backend.client
        self.pauses = Pauses(self._redis, namespace, credentials or {})
        self.throttled = self.pauses.throttled  # the clients' `on_throttled` hook
        self.ebay = BucketQuota(backend, f"{namespace}:quota:ebay-browse", limit=ebay_daily, bucket_ms=DAY_MS)
        self.rebrickable = BucketQuota(backend, f"{namespace}:rate:rebrickable", limit=1, bucket_ms=SECOND_MS)
        self._sleep = sleep
        self._prepaid = threading.local()  # the eBay calls taken ahead that this thread's requests draw on

    @contextlib.contextmanager
    def prepaid_ebay(self, calls: int) -> Iterator[Prepaid]:
        """Take `calls` eBay calls at once for a message's searches: one round trip to Redis, not one a
        request. The calls not made go back at the end. Requests draw on them in this thread, and in
        the threads that run the message's searches (`drawing_on`).

        When fewer are left, nothing is taken ahead and each request takes its own, as without.
        A process killed meanwhile does not give its calls back: the day's count is then high
        by at most `calls`.
        """
        bucket = self.ebay.bucket()
        prepaid = Prepaid(bucket, calls if calls > 0 and self.ebay.take(calls, bucket) else 0)
        try:
            with self.drawing_on(prepaid):
                yield prepaid
        finally:
            left = prepaid.close()
            if left:
                self.ebay.give_back(bucket, left)

    @contextlib.contextmanager
    def drawing_on(self, prepaid: Prepaid) -> Iterator[None]:
        """This thread's eBay requests draw on `prepaid` meanwhile."""
        self._prepaid.ebay = prepaid
        try:
            yield
        finally:
            self._prepaid.ebay = None

    def ebay_left(self) -> int:
        """Calls left of today's eBay quota by the system's own count."""
        used = self._redis.get(self.ebay.bucket())
        return max(self.ebay_daily - int(used or 0), 0)

    def before_request(self, service: str) -> None:
        wait = self.pauses.paused_for(service)
        if wait > LONG_RETRY_AFTER_S:
            raise Deferred(f"{service}: asked every caller to wait {wait:.0f} s (Retry-After)", wait)
        if wait > 0:
            self._sleep(wait + random.uniform(0.0, 0.05))
        if service == "ebay":
            self._daily()
        elif service == "rebrickable":
            self._paced()

    def _daily(self) -> None:
        prepaid = getattr(self._prepaid, "ebay", None)
        if prepaid is not None and prepaid.bucket == self.ebay.bucket() and prepaid.draw():  # not yesterday's
            return
        if not self.ebay.take():
            raise Deferred(f"eBay Browse: the daily quota of {self.ebay_daily} calls, shared by all "
                           "workers, is spent", seconds_to_next_utc_day(utcnow()))

    def _paced(self) -> None:
        deadline = time.monotonic() + MAX_PACED_WAIT_S
        while True:
            if self.rebrickable.take():
                return
            if time.monotonic() >= deadline:
                raise Deferred("Rebrickable: one request per second, shared by all workers, and others "
                               f"kept it busy for {MAX_PACED_WAIT_S:g} s", 5.0)
            self._sleep(1.0 - time.time() % 1.0 + random.uniform(0.0, 0.05))


def _tag(*parts: object) -> str:
    """A short, stable name for an API and its credentials (a digest: the secret itself is not in it)."""
    return hashlib.sha256(" ".join(str(p) for p in parts).encode()).hexdigest()[:12]


@functools.cache
def quotas() -> Quotas:
    import actors

    settings = get_settings()
    secret = settings.rebrickable_api_key
    credentials = {"ebay": _tag(settings.ebay_api_base, settings.ebay_client_id),
                   "rebrickable": _tag(settings.rebrickable_api_base, secret and secret.get_secret_value())}
    return Quotas(actors.stack.rate_limits, actors.stack.namespace, settings.ebay_daily_quota,
                  credentials=credentials)


def ebay_client() -> EbayClient:
    """This thread's eBay client, its requests counted against the shared daily quota."""
    return thread_ebay_client(get_settings(), quotas().before_request, quotas().throttled)


def catalog_client() -> CatalogClient:
    """This thread's catalog client, its requests paced as the source allows."""
    return thread_catalog_client(get_settings(), quotas().before_request, quotas().throttled)


def deferral_for(exc: TransientSourceError, now: datetime, quota: QuotaState | None = None,
                 retries: int = 0) -> Deferred | None:
    """The deferral a source error means, or None when an ordinary retry fits.

    `quota`: the eBay quota as the day's usage has it, for a 429 from eBay: spent, it defers the
    message to its reset; otherwise the 429 was a rate limit, and the message retries. When only the
    system's own count is known (other users of the keys, a reset at another hour escape it), 429s
    through UNKNOWN_QUOTA_DELIVERIES retries of the message are taken as a spent quota too.
    """
    if isinstance(exc, QuotaExceeded):
        return Deferred(str(exc), exc.retry_after or seconds_to_next_utc_day(now))
    if isinstance(exc, RateLimited) and exc.service == "ebay" and quota is not None:
        if quota.remaining <= 0:
            return Deferred(f"{exc}; the daily quota is spent ({quota.source}: {quota.limit} calls)",
                            quota.seconds_to_reset(now))
        if not quota.from_ebay and retries >= UNKNOWN_QUOTA_DELIVERIES:
            return Deferred(f"{exc}; still after {retries} retries, and eBay's count unknown: taken as the "
                            "daily quota spent", seconds_to_next_utc_day(now))
    if exc.retry_after is not None and exc.retry_after > LONG_RETRY_AFTER_S:
        return Deferred(str(exc), exc.retry_after)
    return None


@dataclass(frozen=True)
class QuotaState:
    """The day's eBay quota: by eBay's own count (`getRateLimits`), else by the system's."""

    limit: int
    remaining: int
    reset: datetime | None
    source: str  # "eBay's count" or "the system's count"

    @property
    def from_ebay(self) -> bool:
        return self.source == "eBay's count"

    def seconds_to_reset(self, now: datetime) -> float:
        if self.reset is None or self.reset <= now:
            return seconds_to_next_utc_day(now)
        return (self.reset - now).total_seconds() + 60


def ebay_quota(now: datetime) -> QuotaState:
    """The day's eBay quota: eBay's count when its Analytics API answers, else the system's own."""
    try:
        rate = ebay_client().rate_limit()
    except SourceError as exc:
        logger.info("eBay's rate limits unavailable (%s): the system's own count decides", exc)
        rate = None
    if rate is not None:
        return QuotaState(rate.limit, rate.remaining, rate.reset, "eBay's count")
    q = quotas()
    return QuotaState(q.ebay_daily, q.ebay_left(), None, "the system's count")


def deferring(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a spent quota (or a long Retry-After) into `Deferred`: run later, without spending a retry."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TransientSourceError as exc:
            now = utcnow()
            quota = ebay_quota(now) if isinstance(exc, RateLimited) and exc.service == "ebay" else None
            message = CurrentMessage.get_current_message()
            retries = int(message.options.get("retries", 0)) if message is not None else 0
            deferral = deferral_for(exc, now, quota, retries)
            if deferral is None:
                raise
            logger.info("%s: deferring by %.0f s: %s", fn.__name__, deferral.delay_s, exc)
            raise deferral from exc

    return wrapper

