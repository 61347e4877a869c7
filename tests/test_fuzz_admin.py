"""Fuzzed admin API requests against the real app, broker and database: never a 5xx, refusals leave no trace.

A 4xx answer carries a message and leaves every queue and the run history as
they were. A 202 sends arguments the actor itself accepts: a message the API
takes must not fail later on `InvalidInput`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.errors import InvalidInput
from tests.support.fuzz import (
    Started,
    actors_that_stop_when_started,
    footprint,
    json_values,
    junk,
)
from tests.support.web import BEARER, TOKEN, settings_with

pytestmark = pytest.mark.usefixtures("services")

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TODAY = datetime.now(UTC).date()


class Admin:
    """The admin API on the real broker, what it sent, and the actors that stop when started."""

    def __init__(self, client: TestClient, sent: list[tuple[str, dict[str, Any]]], actors: dict[str, Any]) -> None:
        self.client, self.sent, self.actors = client, sent, actors

    def __repr__(self) -> str:
        return "Admin(...)"


@pytest.fixture(scope="module")
def app() -> Iterator[Admin]:
    import actors
    from actors.dispatcher import BrokerDispatcher
    from pipeline.web.app import create_app

    sent: list[tuple[str, dict[str, Any]]] = []

    class Recording(BrokerDispatcher):
        def send(self, actor: str, kwargs: dict[str, Any], *, args: Sequence[Any] = (),
                 parent_id: str | None = None) -> str:
            message_id = super().send(actor, kwargs, args=args, parent_id=parent_id)
            sent.append((actor, kwargs))
            return message_id

    settings = settings_with(dashboard_token=TOKEN)
    client = TestClient(create_app(settings, Recording(actors.broker, settings.redis_url, settings.redis_namespace)))
    with actors_that_stop_when_started() as stopping:
        yield Admin(client, sent, stopping)


@pytest.fixture(scope="module")
def figure_id() -> str:
    from tests.support.web import insert_figure

    return str(insert_figure("Fuzzed Figure", days=1))


def path_segment(known: Sequence[str]) -> st.SearchStrategy[str]:
    # Not "." or "..": a client resolves those before sending.
    texts = st.text(max_size=40).filter(lambda s: s not in (".", "..")) | st.sampled_from(
        ["%00", "%2F", "\x00", "é", "0" * 300])
    ids = st.sampled_from(known) | st.uuids().map(str) if known else st.uuids().map(str)
    return (ids | texts).map(lambda s: quote(s, safe=""))


def body_of(plausible: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A JSON body: mostly the documented fields with plausible values, sometimes junk."""
    fields = {key: values | values | junk for key, values in {**plausible, "bogus": junk}.items()}
    return st.none() | junk | st.fixed_dictionaries({}, optional=fields) | st.fixed_dictionaries({}, optional=fields)


def call(client: TestClient, method: str, url: str, body: Any, raw: bytes | None) -> Any:
    headers = {**BEARER, "Content-Type": "application/json"}
    content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    return client.request(method, url, content=content, headers=headers)


def check(app: Admin, method: str, url: str, body: Any = None, raw: bytes | None = None) -> Any:
    """Send the request; assert no 5xx, a message on each 4xx, no trace of a refusal, and acceptable kwargs."""
    before, already = footprint(), len(app.sent)
    response = call(app.client, method, url, body, raw)
    shown = f"{method} {url} {body!r} {raw!r:.60}"
    assert response.status_code < 500, f"{shown}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers.get("content-type") == "application/json", f"{shown}: {response.status_code}"
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), f"{shown}: {response.text}"
        assert footprint() == before, f"{shown} was refused ({detail}) but left a trace"
    for actor, kwargs in app.sent[already:]:
        try:
            app.actors[actor].fn(**kwargs)
        except InvalidInput as exc:
            pytest.fail(f"{shown} sent {actor}({kwargs}), which the actor refuses: {exc}")
        except Started:
            pass
    return response


dates = st.dates().map(lambda d: d.isoformat()) | st.sampled_from(
    [TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat(), "2024-02-30", "20240101", "2024-01-01T00:00:00"])
raw_bodies = st.none() | st.sampled_from([b"{", b"[" * 50_000, b"1" * 5000, b"\xff\xfe", b'{"year": 1e999}', b"null"])


@FUZZ
@example(body={"theme": "  "}, raw=None)  # once sent, then refused by the actor
@example(body={"year": TODAY.year + 2}, raw=None)
@given(body=body_of({"theme": st.sampled_from(["Star Wars", "", "   ", " Castle ", "x" * 201]),
                     "year": st.integers(1940, 2110), "limit": st.integers(-1, 10_001)}), raw=raw_bodies)
def test_sync_catalog(broker: Any, app: Admin, body: Any, raw: bytes | None) -> None:
    check(app, "POST", "/v1/admin/sync-catalog", body, raw)


@FUZZ
@given(data=st.data(), body=body_of({"condition": st.sampled_from(["NEW", "used", " Sealed ", "MINT", ""])}),
       raw=raw_bodies)
def test_fetch_prices(broker: Any, app: Admin, figure_id: str, data: st.DataObject, body: Any,
                      raw: bytes | None) -> None:
    segment = data.draw(path_segment([figure_id, figure_id.upper(), figure_id.replace("-", "")]), label="path")
    check(app, "POST", f"/v1/admin/fetch-prices/{segment}", body, raw)


@FUZZ
@example(body={"target_date": (TODAY + timedelta(days=1)).isoformat()}, raw=None)  # once sent, then refused
@given(body=body_of({"target_date": dates}), raw=raw_bodies)
def test_aggregate_snapshots(broker: Any, app: Admin, body: Any, raw: bytes | None) -> None:
    check(app, "POST", "/v1/admin/aggregate-snapshots", body, raw)


@FUZZ
@given(segment=path_segment([]), action=st.sampled_from([("GET", ""), ("DELETE", ""), ("POST", "/retry")]))
def test_tasks(broker: Any, app: Admin, segment: str, action: tuple[str, str]) -> None:
    method, tail = action
    check(app, method, f"/v1/tasks/{segment}{tail}")


query_values = st.text(max_size=20) | st.sampled_from(
    ["0", "-1", "501", "1e3", "\x00", "%", "_", "2024-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
     "99999999999999999999", "NaN"])


@FUZZ
@example(params={"actor": "\x00"})  # once a 500 from PostgreSQL
@example(params={"offset": str(2**63)})
@given(params=st.dictionaries(st.sampled_from(["actor", "status", "since", "until", "message_id", "limit", "offset"]),
                              query_values, max_size=4))
def test_runs(broker: Any, app: Admin, params: dict[str, str]) -> None:
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
    check(app, "GET", f"/v1/runs?{query}")


@settings(FUZZ, max_examples=40)  # each request opens its own AMQP connections
@example(queue="nowhere", message_id=str(uuid.uuid4()), limit="", body=None, action="requeue_one")  # once a 503
@given(queue=path_segment(["default", "processing", "scraping", "default.XQ", "nowhere"]),
       message_id=path_segment([]), limit=query_values,
       body=st.none() | junk | st.fixed_dictionaries({"message_ids": st.lists(st.uuids().map(str) | json_values)}),
       action=st.sampled_from(["list", "requeue", "requeue_one", "delete_one"]))
def test_dead_letters(broker: Any, app: Admin, queue: str, message_id: str, limit: str, body: Any, action: str) -> None:
    base = f"/v1/queues/{queue}/dead-letters"
    method, url = {"list": ("GET", f"{base}?limit={quote(limit, safe='')}"), "requeue": ("POST", f"{base}/requeue"),
                   "requeue_one": ("POST", f"{base}/{message_id}/requeue"),
                   "delete_one": ("DELETE", f"{base}/{message_id}")}[action]
    check(app, method, url, body if action == "requeue" else None)
