"""The shared verdicts on replies: statuses, bodies that are not JSON, Retry-After, backoff, error texts."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipeline.sources import bricklink, brickset, ebay, rebrickable
from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from pipeline.sources.http import (
    Check,
    Reply,
    RetryPolicy,
    backoff_s,
    error_for_status,
    parse_retry_after,
)
from tests.sources.clients_support import reply, verdict


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, None), (204, None), (301, None), (400, PermanentSourceError), (401, AuthError), (403, AuthError),
     (404, RecordNotFound), (409, PermanentSourceError), (422, PermanentSourceError), (429, RateLimited),
     (500, TransientSourceError), (502, TransientSourceError), (503, TransientSourceError)],
)
def test_status_verdicts(status: int, kind: type[SourceError] | None) -> None:
    error = error_for_status(reply("{}", status))
    assert (type(error) if error else None) is kind


@pytest.mark.parametrize(
    ("body", "status", "kind", "words"),
    [
        (b'{"results": [1, 2', 200, TransientSourceError, "cut short"),
        (b"<html><body>Service Unavailable</body></html>", 200, TransientSourceError, "not JSON"),
        (b"<html><body>503 Service Temporarily Unavailable</body></html>", 503, TransientSourceError, "HTTP 503"),
        (b"", 200, TransientSourceError, "not JSON"),
        (b"\xff\xfe\x00garbage", 200, TransientSourceError, "not JSON"),
        (b"Bad Request", 400, PermanentSourceError, "HTTP 400"),
    ],
)
def test_bodies_that_are_not_json(body: bytes, status: int, kind: type[SourceError], words: str) -> None:
    with pytest.raises(kind, match=words) as caught:
        verdict(None, body, status, **{"Content-Type": "text/html"})
    assert type(caught.value) is kind


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.25", 0.25), (" 120 ", 120.0), ("-4", 0.0), ("", None), (None, None), ("soon", None),
     ("nan", None)],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date() -> None:
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0


@pytest.mark.parametrize(("attempt", "low"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)])
def test_backoff_doubles_up_to_its_cap_with_bounded_jitter(attempt: int, low: float) -> None:
    assert backoff_s(RetryPolicy(jitter_s=0.0), attempt) == low
    waits = [backoff_s(RetryPolicy(), attempt) for _ in range(50)]
    assert all(low <= wait <= min(low + 0.5, 8.0) for wait in waits)


def test_errors_name_service_endpoint_and_reason_and_survive_pickling() -> None:
    error = QuotaExceeded("ebay", "/buy/browse/v1/item_summary/search", "error 2001: Too many requests.",
                          status=429, retry_after=60.0)
    assert str(error) == ("ebay /buy/browse/v1/item_summary/search: error 2001: Too many requests. (HTTP 429);"
                          " retry after 60 s")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.retry_after, copy.status) == (QuotaExceeded, str(error), 60.0, 429)


CHECKS: list[Callable[[Reply], SourceError | None]] = [brickset.check_reply, rebrickable.check_reply,
                                                        ebay.check_reply, bricklink.check_reply]


@pytest.mark.parametrize("check", CHECKS)
def test_every_service_treats_html_503_as_transient(check: Check) -> None:
    with pytest.raises(TransientSourceError):
        verdict(check, "<html>Service Unavailable</html>", 503, **{"Content-Type": "text/html"})
