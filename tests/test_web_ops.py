"""The admin API and pages against a real worker, RabbitMQ, PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.history.events import RunEvent
from pipeline.sql.runs import write_events
from tests.support.web import (
    BEARER,
    TOKEN,
    craft_dead_letter,
    publish_raw,
    settings_with,
)
from tests.support.worker import running_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")

MODULES = ("tests.support.actors", "tests.support.web_actors")


def life(message_id: str) -> dict[str, Any] | None:
    import actors
    from pipeline.db import session_scope
    from pipeline.history.reads import get_run

    actors.stack.writer.flush()
    with session_scope() as session:
        found = get_run(session, message_id)
        return found.as_dict() if found else None


def status_is(message_id: str, *statuses: str) -> Any:
    def check() -> dict[str, Any] | None:
        current = life(message_id)
        return current if current and current["status"] in statuses else None

    return check


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import tests.support.actors
    import tests.support.web_actors  # noqa: F401

    log = tmp_path_factory.mktemp("worker") / "worker.log"
    started = datetime.now(UTC)
    with running_worker(*MODULES, threads=4, log=log):
        wait_for(lambda: any(w["state"] == "alive" and w["started_at"] >= started.isoformat()
                             for w in api_client().get("/v1/workers", headers=BEARER).json()),
                 timeout=30, what="the worker's first heartbeat")
        yield log


def api_client(**overrides: Any) -> TestClient:
    import actors
    from actors.dispatcher import BrokerDispatcher
    from pipeline.web.app import create_app

    settings = settings_with(dashboard_token=TOKEN, **overrides)
    dispatcher = BrokerDispatcher(actors.broker, settings.redis_url, settings.redis_namespace)
    return TestClient(create_app(settings, dispatcher), follow_redirects=False)


@pytest.fixture()
def http(broker: Any) -> TestClient:
    return api_client()


def test_a_dead_letter_shows_its_traceback_and_succeeds_once_requeued_after_the_fault_is_gone(
        http: TestClient, worker: Path) -> None:
    from tests.support.web_actors import set_fault

    label = f"sw{uuid.uuid4().hex[:6]}"
    set_fault(label, True)
    sent = http.post("/v1/actors/fragile_fetch/messages", json={"args": [label]}, headers=BEARER)
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["message_id"]
    wait_for(status_is(message_id, "dead_lettered"), timeout=30, what="dead-lettered")

    listed = http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"]
    [letter] = [d for d in listed if d["message_id"] == message_id]
    assert letter["actor"] == "fragile_fetch" and letter["args"] == [label]
    assert f"UpstreamDown: price source down while fetching {label}" in letter["error"]
    assert 'raise UpstreamDown(f"price source down' in letter["traceback"]
    page = http.get("/queues/default/dead-letters", headers=BEARER).text
    assert message_id in page and "raise UpstreamDown(f&#34;price source down" in page
    peeked = http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"]
    assert peeked == listed  # peeking keeps them

    set_fault(label, False)
    requeued = http.post(f"/v1/queues/default/dead-letters/{message_id}/requeue", headers=BEARER)
    assert requeued.status_code == 200 and requeued.json()["requeued"] == [message_id]
    done = wait_for(status_is(message_id, "succeeded"), timeout=30, what="succeeded after the requeue")
    events = [e["event"] for e in done["events"]]
    # The producer's "enqueued" is stamped after its publish returns: it may sort after "running".
    assert "enqueued" in events[:2] and [e for e in events if e != "enqueued"] == [
        "running", "dead_lettered", "dead_letter", "requeued", "running", "succeeded"]
    assert done["result"] == {"label": label, "fetched": True} and done["attempts"] == 2
    task = http.get(f"/v1/tasks/{message_id}", headers=BEARER).json()
    assert task["state"] == "SUCCESS" and task["ready"] and task["successful"]
    assert all(d["message_id"] != message_id
               for d in http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"])
    assert "requeued" in http.get(f"/runs/{message_id}", headers=BEARER).text


def test_a_requeue_that_rabbitmq_refuses_leaves_the_dead_letter_where_it_was(http: TestClient) -> None:
    from dramatiq import Message

    ghost = craft_dead_letter(queue="default")
    # A dead letter whose own queue no longer exists: RabbitMQ cannot route it back.
    lost = Message(queue_name="no_such_queue", actor_name="fragile_fetch", args=("y",), kwargs={}, options={})
    publish_raw("default.XQ", lost.encode())
    response = http.post(f"/v1/queues/default/dead-letters/{lost.message_id}/requeue", headers=BEARER)
    assert response.status_code == 502, response.text
    assert "no_such_queue" in response.json()["detail"] and "still in default.XQ" in response.json()["detail"]
    letters = http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"]
    remaining = {d["message_id"] for d in letters}
    assert remaining == {ghost, lost.message_id}
    assert [e["event"] for e in life(lost.message_id)["events"]] == ["requeued", "requeue_failed"]
    assert life(lost.message_id)["status"] == "dead_lettered"


def test_delete_one_and_purge_dead_letters(http: TestClient) -> None:
    keep, drop = craft_dead_letter(args=("keep",)), craft_dead_letter(args=("drop",))
    assert http.delete(f"/v1/queues/default/dead-letters/{drop}", headers=BEARER).status_code == 200
    letters = http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"]
    assert [d["message_id"] for d in letters] == [keep]
    assert http.delete(f"/v1/queues/default/dead-letters/{drop}", headers=BEARER).status_code == 404
    purged = http.delete("/v1/queues/default/dead-letters", headers=BEARER)
    assert purged.json() == {"queue": "default", "purged": 1}
    assert http.get("/v1/queues/nosuch/dead-letters", headers=BEARER).status_code == 404
    assert http.get("/v1/queues/bad name!/dead-letters", headers=BEARER).status_code == 422


def test_the_html_forms_ask_before_destroying_and_requeue_all(http: TestClient, worker: Path) -> None:
    ids = {craft_dead_letter(args=(str(i),)) for i in range(3)}
    ask = http.post("/queues/default/dead-letters/purge", headers=BEARER)
    assert ask.status_code == 200 and "Delete all 3 dead letters of default" in ask.text
    letters = http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"]
    assert {d["message_id"] for d in letters} == ids
    done = http.post("/queues/default/dead-letters/requeue", headers=BEARER)
    assert done.status_code == 303 and "Requeued%203%20messages" in done.headers["location"]
    assert http.get("/v1/queues/default/dead-letters", headers=BEARER).json()["dead_letters"] == []
    for message_id in ids:
        wait_for(status_is(message_id, "succeeded"), timeout=20, what="the requeued messages to run")


def test_cancel_skips_a_message_that_has_not_started_and_refuses_a_running_or_finished_one(
        http: TestClient, worker: Path) -> None:
    import actors
    from tests.support.web_actors import slow_step

    waiting = slow_step.send_with_options(args=("later",), kwargs={"seconds": 0.1}, delay=1500)
    actors.stack.writer.flush()
    cancelled = http.delete(f"/v1/tasks/{waiting.message_id}", headers=BEARER)
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
    skipped = wait_for(status_is(waiting.message_id, "cancelled"), timeout=20, what="cancelled")
    assert "running" not in [e["event"] for e in skipped["events"]]
    assert skipped["error"] == "cancelled before it started"

    running = slow_step.send("now", 3.0)
    wait_for(lambda: (life(running.message_id) or {}).get("started_at"), timeout=20, what="started")
    refused = http.delete(f"/v1/tasks/{running.message_id}", headers=BEARER)
    assert refused.status_code == 409 and "has started cannot be cancelled" in refused.json()["detail"]
    wait_for(status_is(running.message_id, "succeeded"), timeout=20, what="succeeded")
    finished = http.delete(f"/v1/tasks/{running.message_id}", headers=BEARER)
    assert finished.status_code == 409 and "already ended (succeeded)" in finished.json()["detail"]
    assert http.delete(f"/v1/tasks/{uuid.uuid4()}", headers=BEARER).status_code == 404
    assert http.get("/v1/tasks/not-a-uuid", headers=BEARER).status_code == 422


def test_retry_sends_the_original_arguments_as_a_new_linked_message(http: TestClient, worker: Path) -> None:
    from tests.support.actors import reject_bad_day

    failed = reject_bad_day.send("2026-02-30")
    wait_for(status_is(failed.message_id, "failed"), timeout=20, what="failed")
    retried = http.post(f"/v1/tasks/{failed.message_id}/retry", headers=BEARER)
    assert retried.status_code == 202, retried.text
    new_id = retried.json()["message_id"]
    again = wait_for(status_is(new_id, "failed"), timeout=20, what="the retry ran")
    assert again["args"] == ["2026-02-30"] and again["parent_id"] == failed.message_id
    old = life(failed.message_id)
    assert {"event": "retried_as", "message_id": new_id} in [
        {"event": e["event"], "message_id": (e["data"] or {}).get("message_id")} for e in old["events"]]
    assert new_id in http.get(f"/runs/{failed.message_id}", headers=BEARER).text
    assert http.post(f"/v1/tasks/{new_id}/retry", headers=BEARER).status_code == 202  # failed again: retryable


def test_health_check_through_the_api_waits_for_the_worker(http: TestClient, worker: Path) -> None:
    answer = http.post("/v1/health-check?wait_s=20", headers=BEARER).json()
    assert answer["status"] == "succeeded" and answer["result"]["ok"] is True


def test_workers_alive_from_heartbeats_and_gone_when_they_stop_beating(http: TestClient, worker: Path) -> None:
    from pipeline.db import session_scope
    from pipeline.models import Worker

    now = datetime.now(UTC)
    with session_scope() as session:
        session.add(Worker(worker_id="lost-host:4242", hostname="lost-host", pid=4242, queues=["default"],
                           started_at=now - timedelta(hours=1), last_seen_at=now - timedelta(seconds=60),
                           in_flight=[{"message_id": "m", "actor": "x", "started": 0}], processed=7, failed=1))
    workers = {w["worker_id"]: w for w in http.get("/v1/workers", headers=BEARER).json()}
    assert workers["lost-host:4242"]["state"] == "gone" and workers["lost-host:4242"]["in_flight"] == []
    alive = [w for w in workers.values() if w["state"] == "alive"]
    assert alive and set(alive[0]["queues"]) >= {"default", "processing", "scraping"}
    page = http.get("/workers", headers=BEARER).text
    assert "lost-host:4242" in page and 'class="status w-gone"' in page


def test_queues_from_the_management_api_and_what_amqp_tells_without_it(http: TestClient, worker: Path) -> None:
    for i in range(2):
        craft_dead_letter(args=(f"q{i}",))

    data = http.get("/v1/queues", headers=BEARER).json()  # counts read over AMQP: exact at once
    row = {q["name"]: q for q in data["queues"]}["default"]
    assert row["dead"] == 2 and row["consumers"] >= 1 and row["publish_rate"] is not None
    assert data["source"] == "management" and data["note"] is None
    assert {"default", "processing", "scraping"} <= {q["name"] for q in data["queues"]}
    offline = api_client(rabbitmq_management_url="http://127.0.0.1:1").get("/v1/queues", headers=BEARER).json()
    row = {q["name"]: q for q in offline["queues"]}["default"]
    assert offline["source"] == "amqp" and "management API did not answer" in offline["note"]
    assert row["dead"] == 2 and row["consumers"] >= 1 and row["unacked"] is None
    page = api_client(rabbitmq_management_url="http://127.0.0.1:1").get("/queues", headers=BEARER).text
    assert "management API did not answer" in page


def test_runs_search_by_actor_status_time_and_id_prefix_with_paging(http: TestClient) -> None:
    import psycopg

    import actors
    from pipeline.db import libpq_dsn
    from pipeline.settings import get_settings

    actors.stack.writer.flush()
    base = datetime(2031, 3, 1, tzinfo=UTC)
    prefix = uuid.uuid4().hex[:8]
    events = []
    for i in range(5):
        mid = f"{prefix}-{i}"
        enqueued_at = base + timedelta(hours=i)
        events.append(RunEvent(mid, "enqueued", "enqueued", at=enqueued_at, actor="search_me", queue="default"))
        if i % 2:
            ended = RunEvent(mid, "failed", "failed", error=f"boom {i}")
        else:
            ended = RunEvent(mid, "succeeded", "succeeded")
        ended.at = base + timedelta(hours=i, minutes=1)
        events.append(ended)
    with psycopg.connect(libpq_dsn(get_settings().database_url), autocommit=True) as conn:
        write_events(conn, events)

    def ids(**params: Any) -> list[str]:
        return [r["message_id"] for r in http.get("/v1/runs", params=params, headers=BEARER).json()["runs"]]

    assert ids(actor="search_me", message_id=prefix) == [f"{prefix}-{i}" for i in (4, 3, 2, 1, 0)]
    assert ids(message_id=prefix, status="failed") == [f"{prefix}-3", f"{prefix}-1"]
    assert ids(message_id=prefix, since="2031-03-01T01:30", until="2031-03-01T03:30") == [f"{prefix}-3", f"{prefix}-2"]
    first = http.get("/v1/runs", params={"message_id": prefix, "limit": 3}, headers=BEARER).json()
    assert first["next_offset"] == 3
    assert ids(message_id=prefix, limit=3, offset=3) == [f"{prefix}-1", f"{prefix}-0"]
    assert http.get("/v1/runs", params={"since": "yesterday"}, headers=BEARER).status_code == 422
    page = http.get("/runs", params={"message_id": prefix, "status": "failed"}, headers=BEARER).text
    assert "boom 3" in page and "boom 1" in page and page.count("<td>search_me</td>") == 2


def test_a_message_the_actor_would_refuse_is_not_sent(http: TestClient, broker: Any) -> None:
    refused = http.post("/v1/actors/update_all_prices/messages", json={"kwargs": {"batch_size": 0}}, headers=BEARER)
    assert refused.status_code == 422 and "batch_size 0 is out of range" in refused.json()["detail"]
    assert broker.channel.queue_declare("scraping", passive=True, durable=True).method.message_count == 0
