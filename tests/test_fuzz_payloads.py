"""Fuzzed API replies through the real clients over a socket: typed records or a SourceError naming the call.

Each reply is a near miss of the reference's composed example (fields dropped,
wrong types, prices as floats, garbage, negative, NaN or huge, nested junk) or
arbitrary JSON. Whatever comes back, a client either returns fully typed
records or raises the `SourceError` its module documents, naming the service
and endpoint: never a KeyError, TypeError, ValueError, InvalidOperation. What
parses must also store: a record PostgreSQL refuses would fail its message on
every retry.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, is_dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pipeline.sources.bricklink import BricklinkClient
from pipeline.sources.brickset import BricksetClient
from pipeline.sources.ebay import (
    SEARCH_ENDPOINT,
    TOKEN_ENDPOINT,
    BrowseQuery,
    EbayClient,
)
from pipeline.sources.errors import SourceError, TransientSourceError
from pipeline.sources.rebrickable import RebrickableClient
from tests.sources import reference_examples as ex
from tests.sources.clients_support import fast_retry
from tests.support.canned import Canned, CannedServer
from tests.support.fuzz import assert_well_typed, junk, payloads, storable_text

pytestmark = pytest.mark.usefixtures("services")

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server() -> Iterator[CannedServer]:
    with CannedServer() as canned:
        yield canned


TOKEN = ex.EBAY_TOKEN.replace("…", "x")  # the reference abbreviates it; a real token is header-safe ASCII


def _no_next(text: str) -> Any:
    return {**json.loads(text), "next": None}


class Budget:
    """A `before_request` hook that fails the test once a call makes more than `requests` requests."""

    def __init__(self, requests: int = 20) -> None:
        self.left = requests

    def __call__(self, service: str) -> None:
        self.left -= 1
        assert self.left >= 0, f"{service}: too many requests for one call; does the paging end?"


def _options() -> dict[str, Any]:
    return {"timeout_s": 2, "retry": fast_retry(), "before_request": Budget()}


def ebay(url: str) -> EbayClient:
    return EbayClient(url, "client-id", "client-secret", **_options())


def brickset(url: str) -> BricksetClient:
    return BricksetClient(url, "api-key", "user", "password", **_options())


def rebrickable(url: str) -> RebrickableClient:
    return RebrickableClient(url, "api-key", **_options())


def bricklink(url: str) -> BricklinkClient:
    return BricklinkClient(url, "ck", "cs", "tv", "ts", **_options())


@dataclass(frozen=True)
class Case:
    """One client call whose reply at `path` is fuzzed; `fixed` replies keep the other calls it makes valid."""

    service: str
    endpoint: str
    path: str
    reference: Any
    call: Callable[[str], Any]
    fixed: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service} {self.endpoint}"


CASES = [
    Case("ebay", SEARCH_ENDPOINT, SEARCH_ENDPOINT, _no_next(ex.EBAY_SEARCH),
         lambda url: ebay(url).search(BrowseQuery("sw0001a", limit=2), max_items=4), {TOKEN_ENDPOINT: TOKEN}),
    Case("ebay", TOKEN_ENDPOINT, TOKEN_ENDPOINT, json.loads(TOKEN), lambda url: ebay(url).token()),
    Case("brickset", "login", "/login", json.loads(ex.BRICKSET_LOGIN), lambda url: brickset(url).login()),
    Case("brickset", "getThemes", "/getThemes", json.loads(ex.BRICKSET_THEMES), lambda url: brickset(url).get_themes()),
    Case("brickset", "getSets", "/getSets", json.loads(ex.BRICKSET_SETS),
         lambda url: brickset(url).get_sets(theme="Star Wars")),
    Case("brickset", "getMinifigCollection", "/getMinifigCollection", json.loads(ex.BRICKSET_MINIFIGS),
         lambda url: brickset(url).get_minifig_collection(query="sw"), {"/login": ex.BRICKSET_LOGIN}),
    Case("rebrickable", "/lego/themes/", "/lego/themes/", json.loads(ex.REBRICKABLE_THEMES),
         lambda url: rebrickable(url).get_themes()),
    Case("rebrickable", "/lego/minifigs/", "/lego/minifigs/", _no_next(ex.REBRICKABLE_MINIFIGS),
         lambda url: rebrickable(url).get_minifigs(theme_id=158)),
    Case("rebrickable", "/lego/sets/7101-1/minifigs/", "/lego/sets/", json.loads(ex.REBRICKABLE_SET_MINIFIGS),
         lambda url: rebrickable(url).get_set_minifigs("7101-1")),
    Case("bricklink", "/items/MINIFIG/sw0001a/price", "/items/MINIFIG/", json.loads(ex.BRICKLINK_SOLD),
         lambda url: bricklink(url).price_guide("sw0001a", "sold", "U")),
    Case("bricklink", "/items/MINIFIG/sw0001a/price", "/items/MINIFIG/", json.loads(ex.BRICKLINK_STOCK),
         lambda url: bricklink(url).price_guide("sw0001a", "stock", "N")),
]


CASE = {str(case): case for case in CASES}  # by "service endpoint"
SEARCH, GET_SETS = CASE[f"ebay {SEARCH_ENDPOINT}"], CASE["brickset getSets"]
MINIFIGS, COLLECTION = CASE["rebrickable /lego/minifigs/"], CASE["brickset getMinifigCollection"]


def serve(server: CannedServer, case: Case, body: bytes, status: int = 200, **headers: str) -> None:
    server.by_path = {path: Canned(text.encode()) for path, text in case.fixed.items()}
    server.set(case.path, Canned(body, status, {**JSON, **headers}))


def outcome(server: CannedServer, case: Case) -> Any:
    """What the call returns, or the SourceError it raises; checks that such an error names the call."""
    try:
        return case.call(server.url)
    except SourceError as exc:
        assert (exc.service, exc.endpoint) == (case.service, case.endpoint), repr(exc)
        assert str(exc).startswith(f"{case.service} {case.endpoint}: ") and exc.reason.strip()
        if isinstance(exc, TransientSourceError) and exc.retry_after is not None:
            assert math.isfinite(exc.retry_after) and exc.retry_after >= 0, exc.retry_after
        return exc


def assert_typed(result: Any) -> None:
    for item in result if isinstance(result, list) else [result]:
        if is_dataclass(item):
            assert_well_typed(item)
        else:
            assert isinstance(item, str) and item and storable_text(item), repr(item)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_fuzzed_reply_gives_typed_records_or_an_error_naming_the_call(server: CannedServer, case: Case) -> None:
    serve(server, case, json.dumps(case.reference).encode())
    assert not isinstance(outcome(server, case), SourceError), "the reference example itself must parse"

    @FUZZ
    @given(payload=payloads(case.reference))
    def fuzz(payload: Any) -> None:
        serve(server, case, json.dumps(payload).encode())
        result = outcome(server, case)
        if not isinstance(result, SourceError):
            assert_typed(result)

    fuzz()


bodies = st.binary(max_size=40) | st.sampled_from([b"[" * 100_000, b"1" * 5000, b'{"a": ' * 3000, b"\xff\xfe{}"])
retry_after = st.none() | st.sampled_from(["inf", "1e400", "-5", "nan", "9" * 400, "Mon, 01 Jan 99999 00:00:00 GMT",
                                           "Wed, 21 Oct 2015 07:28:00", "0x10"]) | st.text(max_size=30)
throttle_details = st.sampled_from([
    {"detail": "Request was throttled. Expected available in " + "9" * 400 + " seconds."},
    {"detail": "Request was throttled. Expected available in 1e400 seconds."}, {"detail": None}, {"detail": 5},
])


@FUZZ
@example(case=SEARCH, status=429, body=b"", wait="inf")  # once an endless deferral
@example(case=SEARCH, status=200, body=b"[" * 100_000, wait=None)  # once a RecursionError
@given(case=st.sampled_from(CASES), status=st.sampled_from([200, 400, 401, 404, 429, 500, 503]),
       body=bodies | throttle_details.map(lambda d: json.dumps(d).encode()), wait=retry_after)
def test_any_status_body_and_retry_after_is_a_source_error_with_a_usable_delay(
        server: CannedServer, case: Case, status: int, body: bytes, wait: str | None) -> None:
    sendable = wait is not None and wait.isascii() and wait.isprintable()  # what an HTTP header can hold
    headers = {"Retry-After": wait.strip() or "x"} if sendable else {}
    serve(server, case, body, status, **headers)
    result = outcome(server, case)
    if not isinstance(result, SourceError):
        assert_typed(result)


links = st.text(max_size=30) | st.text(max_size=20).map(lambda tail: "{api}/lego/minifigs/" + tail) | st.sampled_from(
    ["http://[::1", "http://[::1]:1/x", "//elsewhere/x", "ftp://x/y", "http://127.0.0.1:1/x", "{api}", "{api}/x"])


@FUZZ
@example(case=GET_SETS, count=2**31, link="")  # once getSets paged on for 2**31 / 2 pages
@example(case=MINIFIGS, count=2, link="http://[::1")  # once a ValueError from urlsplit
@given(case=st.sampled_from([GET_SETS, MINIFIGS]), count=junk | st.integers(-3, 2**40), link=links)
def test_a_wrong_count_or_next_link_never_pages_on_and_on(
        server: CannedServer, case: Case, count: Any, link: str) -> None:
    count_field = "matches" if case.service == "brickset" else "count"
    serve(server, case, json.dumps({**case.reference, count_field: count, "next": link.replace("{api}", server.url)})
          .encode())
    result = outcome(server, case)  # Budget fails the test if the call pages on and on
    if not isinstance(result, SourceError):
        assert_typed(result)


# --- what parses, stores ------------------------------------------------------------------------------------


@contextmanager
def rolled_back() -> Iterator[Session]:
    from pipeline.db import get_engine

    with Session(get_engine()) as session:
        try:
            yield session
            session.flush()
        finally:
            session.rollback()


@pytest.fixture(scope="module")
def figure() -> Any:
    from pipeline.db import session_scope
    from pipeline.models import Minifigure
    from pipeline.services.prices import Figure

    found = Figure(uuid.uuid4(), f"fz{uuid.uuid4().hex[:6]}a", None, "Battle Droid Fuzz", "Star Wars")
    with session_scope() as session:
        session.add(Minifigure(id=found.id, bricklink_id=found.bricklink_id, name=found.name, theme=found.theme,
                               source="test"))
    return found


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads(SEARCH.reference))
def test_listings_that_parse_are_stored_whole(server: CannedServer, figure: Any, payload: Any) -> None:
    from pipeline.services import prices

    serve(server, SEARCH, json.dumps(payload).encode())
    query = prices.browse_query(figure, None, "19001")
    items = outcome(server, SEARCH)
    if isinstance(items, SourceError):
        return
    with rolled_back() as session:
        summary = prices.store_listings(session, figure, query, items, "EBAY_US", datetime.now(UTC))
    assert summary["listings"] == len({item.item_id for item in items})


CATALOG = {"rebrickable": (MINIFIGS, rebrickable), "brickset": (COLLECTION, brickset)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), source=st.sampled_from(sorted(CATALOG)))
def test_catalog_records_that_parse_are_stored_whole(server: CannedServer, data: st.DataObject, source: str) -> None:
    from pipeline.services import catalog

    case, client = CATALOG[source]
    serve(server, case, json.dumps(data.draw(payloads(case.reference))).encode())
    try:
        found = catalog.collect(client(server.url), None, None, 50)
    except SourceError as exc:
        assert exc.service == source, repr(exc)
        return
    with rolled_back() as session:
        summary, created = catalog.store(session, found, datetime.now(UTC))
    assert summary["taken"] == len(found.entries) and len(created) == summary["created"]
