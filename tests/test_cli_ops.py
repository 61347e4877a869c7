"""The operations CLI: queues, purge, dlq, workers, inspect, cancel, runs; JSON output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from pipeline.db import libpq_dsn
from pipeline.history.events import RunEvent
from pipeline.settings import get_settings
from pipeline.sql.runs import write_events
from tests.support.web import craft_dead_letter, forget_runs, publish_raw
from tests.support.worker import ROOT

pytestmark = pytest.mark.usefixtures("services")


def stonks(*args: str, input: str | None = None) -> Any:
    from actors.cli import cli

    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def history(*events: RunEvent) -> None:
    with psycopg.connect(libpq_dsn(get_settings().database_url), autocommit=True) as conn:
        write_events(conn, list(events))


def test_queues_without_the_management_api_say_what_amqp_tells(broker: Any) -> None:
    craft_dead_letter()
    env = {**os.environ, "RABBITMQ_MANAGEMENT_URL": "http://127.0.0.1:1"}
    proc = subprocess.run([sys.executable, "-m", "actors.cli", "queues"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "management API did not answer" in proc.stdout
    header, *rows = proc.stdout.split("\n\n")[0].splitlines()
    assert header.split() == ["queue", "ready", "delayed", "dead", "unacked", "consumers", "publish/s", "deliver/s"]
    assert {r.split()[0]: r.split()[3] for r in rows}["default"] == "1"
    data = as_json(stonks("queues", "--json"))
    assert data["source"] in ("management", "amqp") and "default" in {q["name"] for q in data["queues"]}


def test_purge_asks_first_unless_told_yes(broker: Any) -> None:
    from dramatiq import Message

    broker.get_queue_message_counts("processing")
    for i in range(2):
        publish_raw("processing", Message("processing", "echo", (str(i),), {}, {}).encode())
    refused = stonks("purge", "processing", input="n\n")
    assert refused.exit_code == 1 and "Drop 2 ready messages of processing?" in refused.output
    assert broker.get_queue_message_counts("processing")[0] == 2
    assert as_json(stonks("purge", "processing", "--yes", "--json")) == {"queue": "processing", "purged": 2}
    missing = stonks("purge", "no_such_queue", "--yes")
    assert missing.exit_code == 1 and "no queue named 'no_such_queue'" in missing.output


def test_dlq_list_show_requeue_and_purge(broker: Any) -> None:
    from pipeline.ops.rabbit import peek

    message_id = craft_dead_letter(actor="fragile_fetch", args=("sw0042",), error="UpstreamDown: source down")
    history(RunEvent(message_id, "enqueued", "enqueued", actor="fragile_fetch", queue="default", args=["sw0042"]),
            RunEvent(message_id, "dead_lettered", "dead_lettered", error="UpstreamDown: source down",
                     traceback="Traceback (most recent call last):\n  raise UpstreamDown\nUpstreamDown: source down\n"))
    listed = as_json(stonks("dlq", "list", "--json"))
    assert [(d["message_id"], d["actor"], d["error"]) for d in listed] == [
        (message_id, "fragile_fetch", "UpstreamDown: source down")]
    shown = stonks("dlq", "show", message_id)
    assert shown.exit_code == 0 and "raise UpstreamDown" in shown.output and "sw0042" in shown.output
    assert stonks("dlq", "requeue").exit_code == 2  # neither ids nor --all

    assert as_json(stonks("dlq", "requeue", message_id, "--json")) == {"requeued": [message_id]}
    [back] = peek(get_settings(), "default")
    assert back.message_id == message_id and back.args == ["sw0042"]
    assert back.options["requeues"] == 1 and "retries" not in back.options and "traceback" not in back.options
    assert stonks("dlq", "show", message_id).exit_code == 1  # no longer a dead letter
    status = as_json(stonks("status", message_id, "--json"))
    assert status["status"] == "enqueued" and status["events"][-1]["event"] == "requeued"

    craft_dead_letter()
    assert stonks("dlq", "purge", "default", input="n\n").exit_code == 1
    assert as_json(stonks("dlq", "purge", "default", "--yes", "--json"))["purged"] == 1
    assert stonks("dlq", "list").output.strip() == "no dead letters"
    forget_runs(message_id)  # requeued with no worker to run it, then flushed


def test_workers_and_inspect_from_heartbeats_and_the_broker(broker: Any) -> None:
    from pipeline.db import session_scope
    from pipeline.models import Worker

    now = datetime.now(UTC)
    wid = f"cli-host:{uuid.uuid4().hex[:6]}"
    busy = str(uuid.uuid4())
    with session_scope() as session:
        session.add(Worker(worker_id=wid, hostname="cli-host", pid=99, queues=["default"], started_at=now,
                           last_seen_at=now, processed=12, failed=2, rss_mb=80,
                           in_flight=[{"message_id": busy, "actor": "fetch_prices_for_minifigure",
                                       "started": (now - timedelta(seconds=4)).timestamp()}]))
    workers = stonks("workers", "--json")
    assert workers.exit_code == 0 and wid in {w["worker_id"] for w in json.loads(workers.output)}
    active = as_json(stonks("inspect", "active", "--json"))
    assert {"worker": wid, "message_id": busy, "actor": "fetch_prices_for_minifigure"}.items() <= next(
        a for a in active if a["worker"] == wid).items()
    stats = as_json(stonks("inspect", "stats", "--json"))
    assert next(w for w in stats["workers"] if w["worker"] == wid)["processed"] == 12
    assert stats["totals"]["alive"] >= 1
    registered = {a["name"]: a for a in as_json(stonks("inspect", "registered", "--json"))}
    assert registered["health_check"]["queue"] == "default"
    assert registered["always_flaky"]["signature"] == "(label: str) -> None"
    text = stonks("inspect", "registered").output
    assert text.splitlines()[0].split() == ["actor", "queue", "signature"]


def test_inspect_scheduled_shows_delayed_messages_and_next_ticks(broker: Any) -> None:
    from tests.support.actors import echo

    later = echo.send_with_options(args=("later",), delay=600_000)
    data = as_json(stonks("inspect", "scheduled", "--json"))
    [waiting] = [m for m in data["delay_queue_messages"] if m["message_id"] == later.message_id]
    assert waiting["queue"] == "default" and waiting["actor"] == "echo"
    eta = datetime.fromisoformat(waiting["eta"])
    assert timedelta(minutes=9) < eta - datetime.now(UTC) <= timedelta(minutes=10)
    if data["schedule_note"] is None:  # the schedule table and its ticks are installed
        assert {"aggregate-snapshots-daily", "sync-catalog-daily"} <= {t["name"] for t in data["schedule"]}
        assert all(t["next_tick"] for t in data["schedule"])
    assert "next schedule ticks:" in stonks("inspect", "scheduled").output
    forget_runs(later.message_id)


def test_cancel_from_the_cli(broker: Any) -> None:
    import redis

    import actors
    from actors.middleware.cancel import cancel_key
    from tests.support.actors import echo

    message = echo.send_with_options(args=("never",), delay=600_000)
    actors.stack.writer.flush()
    done = stonks("cancel", message.message_id)
    assert done.exit_code == 0 and "cancellation requested" in done.output
    settings = get_settings()
    assert redis.Redis.from_url(settings.redis_url).exists(cancel_key(settings.redis_namespace, message.message_id))
    assert stonks("cancel", str(uuid.uuid4())).exit_code == 1
    finished = str(uuid.uuid4())
    history(RunEvent(finished, "enqueued", "enqueued", actor="echo", queue="default"),
            RunEvent(finished, "succeeded", "succeeded"))
    refused = stonks("cancel", finished)
    assert refused.exit_code == 4 and "already ended (succeeded)" in refused.output
    forget_runs(message.message_id)


@pytest.mark.parametrize(("args", "expected"), [
    (["--since", "2032-05-01T00:30", "--until", "2032-05-01T02:30"], ["b", "a"]),
    (["--since", "2032-05-01T01:30"], ["c", "b"]),
    (["--status", "failed"], ["c"]),
])
def test_runs_filter_by_time_range_and_id_prefix(args: list[str], expected: list[str]) -> None:
    prefix = uuid.uuid4().hex[:10]
    base = datetime(2032, 5, 1, 0, 0, tzinfo=UTC)
    history(*(event for h, name in ((1, "a"), (2, "b"), (3, "c")) for event in (
        RunEvent(f"{prefix}-{name}", "enqueued", "enqueued", at=base + timedelta(hours=h), actor="echo"),
        RunEvent(f"{prefix}-{name}", *(("failed",) * 2 if name == "c" else ("succeeded",) * 2),
                 at=base + timedelta(hours=h, minutes=1)))))
    rows = as_json(stonks("runs", "--message-id", prefix, "--json", *args))
    assert [r["message_id"].rsplit("-", 1)[1] for r in rows] == expected
    assert stonks("runs", "--since", "last tuesday").exit_code == 2
    assert stonks("runs", "--since", "6h").exit_code == 0
