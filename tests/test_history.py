"""The run-history writer over a real PostgreSQL connection that goes away and comes back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.history.events import RunEvent
from pipeline.history.writer import HistoryWriter
from pipeline.models import Run
from pipeline.models import RunEvent as RunEventRow
from tests.support.proxy import TcpProxy
from tests.support.worker import wait_for

pytestmark = pytest.mark.usefixtures("services")


def proxied_dsn(proxy: TcpProxy) -> str:
    return os.environ["DATABASE_URL"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")


def count_events(session, message_id: str) -> int:
    return session.scalar(select(func.count()).select_from(RunEventRow).where(RunEventRow.message_id == message_id))


def test_history_buffers_through_an_outage_and_catches_up(session, tmp_path: Path) -> None:
    proxy = TcpProxy(5432)
    writer = HistoryWriter(proxied_dsn(proxy), spool_dir=tmp_path)
    try:
        writer.record(RunEvent("outage-1", "enqueued", "enqueued", actor="echo", queue="default"))
        assert writer.flush(10)
        proxy.cut()
        writer.record(RunEvent("outage-1", "running", "running", worker="w1"))
        writer.record(RunEvent("outage-1", "succeeded", "succeeded", worker="w1", result={"n": 1}))
        assert not writer.flush(1.5), "nothing can be written while the database is away"
        proxy.restore()
        assert writer.flush(15)
    finally:
        writer.close()
        proxy.close()
    session.expire_all()
    run = session.get(Run, "outage-1")
    assert run.status == "succeeded" and run.result == {"n": 1} and run.attempts == 1
    assert count_events(session, "outage-1") == 3


def test_events_unwritten_at_exit_are_spooled_and_replayed(session, tmp_path: Path) -> None:
    proxy = TcpProxy(5432)
    proxy.cut()
    writer = HistoryWriter(proxied_dsn(proxy), spool_dir=tmp_path)
    writer.record(RunEvent("spooled-1", "enqueued", "enqueued", actor="echo", queue="default"))
    writer.record(RunEvent("spooled-1", "running", "running", worker="w1"))
    writer.close(timeout=1)
    proxy.close()
    assert len(list(tmp_path.glob("history-*.jsonl"))) == 1

    # The next process replays the spool as soon as it records anything.
    second = HistoryWriter(os.environ["DATABASE_URL"], spool_dir=tmp_path)
    second.record(RunEvent("spooled-1", "succeeded", "succeeded", worker="w1"))
    assert second.flush(10)
    second.close()
    session.expire_all()
    assert session.get(Run, "spooled-1").status == "succeeded"
    assert count_events(session, "spooled-1") == 3
    assert list(tmp_path.iterdir()) == []


def test_overflow_is_recorded_as_a_gap_not_dropped_silently(session, tmp_path: Path) -> None:
    proxy = TcpProxy(5432)
    proxy.cut()
    writer = HistoryWriter(proxied_dsn(proxy), spool_dir=tmp_path, max_buffer=5)
    for i in range(8):
        writer.record(RunEvent(f"gap-{i}", "enqueued", "enqueued", actor="echo", queue="default"))
    proxy.restore()
    try:
        assert writer.flush(15)
    finally:
        writer.close()
        proxy.close()
    gaps = session.scalars(select(RunEventRow.data).where(RunEventRow.event == "history_gap")).all()
    assert {"dropped_events": 3} in gaps
    assert session.get(Run, "gap-7") is not None and session.get(Run, "gap-0") is None


def test_a_late_enqueued_event_does_not_undo_a_finished_run(session) -> None:
    writer = HistoryWriter(os.environ["DATABASE_URL"])
    writer.record(RunEvent("order-1", "running", "running", worker="w1", actor="echo", queue="default"))
    writer.record(RunEvent("order-1", "succeeded", "succeeded", worker="w1"))
    # The producer's event arrives last, though it happened first.
    from datetime import UTC, datetime, timedelta

    writer.record(RunEvent("order-1", "enqueued", "enqueued", at=datetime.now(UTC) - timedelta(seconds=5)))
    assert writer.flush(10)
    writer.close()
    session.expire_all()
    run = session.get(Run, "order-1")
    assert run.status == "succeeded" and run.enqueued_at < run.started_at


def test_a_task_runs_while_postgres_is_unreachable_and_history_catches_up(broker, tmp_path: Path) -> None:
    from tests.support.worker import running_worker

    proxy = TcpProxy(5432)
    env = {"DATABASE_URL": proxied_dsn(proxy)}
    try:
        with running_worker("tests.support.actors", env=env, log=tmp_path / "worker.log"):
            from tests.support.actors import echo

            proxy.cut()
            message = echo.send("while-down")
            assert message.get_result(block=True, timeout=30_000) == {"value": "while-down"}
            proxy.restore()
            from tests.test_worker_e2e import status_is

            done = wait_for(status_is(message.message_id, "succeeded"), timeout=30, what="history caught up")
    finally:
        proxy.close()
    assert [e["event"] for e in done["events"]] == ["enqueued", "running", "succeeded"]


def test_running_moves_a_run_whose_enqueued_stamp_is_later(session) -> None:
    from datetime import UTC, datetime, timedelta

    writer = HistoryWriter(os.environ["DATABASE_URL"])
    now = datetime.now(UTC)
    # The producer's stamp (after its publish returned) is later than the worker's start.
    writer.record(RunEvent("race-1", "enqueued", "enqueued", at=now, actor="echo", queue="default"))
    assert writer.flush(10)
    writer.record(RunEvent("race-1", "running", "running", at=now - timedelta(milliseconds=3), worker="w1"))
    assert writer.flush(10)
    writer.close()
    session.expire_all()
    assert session.get(Run, "race-1").status == "running"


def test_values_postgresql_cannot_store_are_written_as_text_not_retried_forever(session) -> None:
    writer = HistoryWriter(os.environ["DATABASE_URL"])
    writer.record(RunEvent("odd-1", "running", "running", worker="w1", actor="echo", kwargs={"x": float("nan")}))
    writer.record(RunEvent("odd-1", "succeeded", "succeeded", result={"inf": float("inf"), "nul": "a\x00b"},
                           error="not\x00really", data={"n": float("-inf")}))
    assert writer.flush(10), "the batch was refused and is being retried"
    writer.close()
    session.expire_all()
    run = session.get(Run, "odd-1")
    assert run.kwargs == {"x": "nan"} and run.result == {"inf": "inf", "nul": "ab"} and run.error == "notreally"
    data = session.scalars(select(RunEventRow.data).where(RunEventRow.message_id == "odd-1")).all()
    assert {"n": "-inf"} in data


def test_a_requeued_run_reopens_in_the_same_batch_as_its_earlier_life(session) -> None:
    import psycopg

    from pipeline.db import libpq_dsn
    from pipeline.sql.runs import write_events

    events = [RunEvent("again-1", "enqueued", "enqueued", actor="echo", queue="default"),
              RunEvent("again-1", "running", "running", worker="w1"),
              RunEvent("again-1", "dead_lettered", "dead_lettered", worker="w1", error="boom"),
              RunEvent("again-1", "requeued", "enqueued"),
              RunEvent("again-1", "running", "running", worker="w2")]
    with psycopg.connect(libpq_dsn(os.environ["DATABASE_URL"]), autocommit=True) as conn:
        write_events(conn, events)
    session.expire_all()
    run = session.get(Run, "again-1")
    assert (run.status, run.attempts, run.worker, run.finished_at, run.error) == ("running", 2, "w2", None, "boom")


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from pipeline.history.writer import HistoryWriter
from pipeline.history.events import RunEvent
writer = HistoryWriter(sys.argv[1], spool_dir=Path(sys.argv[2]), linger_s=0)
writer.record(RunEvent("journal-1", "running", "running", worker="w1", actor="echo", queue="default"))
assert writer.flush(10)
writer.linger_s = 60  # the outcome stays unwritten: the process dies first
writer.record(RunEvent("journal-1", "succeeded", "succeeded", worker="w1", result={"n": 1}), durable=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_outcome_a_killed_process_had_not_written_is_recovered_by_the_next(session, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, os.environ["DATABASE_URL"], str(tmp_path)],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert session.get(Run, "journal-1").status == "running"  # what the history said after the kill
    assert len(list(tmp_path.glob("journal-*.jsonl"))) == 1

    second = HistoryWriter(os.environ["DATABASE_URL"], spool_dir=tmp_path)
    second.record(RunEvent("other-1", "enqueued", "enqueued", actor="echo", queue="default"))
    assert second.flush(10)
    second.close()
    session.expire_all()
    run = session.get(Run, "journal-1")
    assert run.status == "succeeded" and run.result == {"n": 1}
    assert count_events(session, "journal-1") == 2
    assert not list(tmp_path.glob("journal-*"))


def test_recovered_outcomes_already_written_are_not_written_twice(session) -> None:
    import psycopg

    from pipeline.db import libpq_dsn
    from pipeline.sql.runs import write_recovered

    events = [RunEvent("twice-1", "running", "running", worker="w1", actor="echo"),
              RunEvent("twice-1", "succeeded", "succeeded", worker="w1")]
    with psycopg.connect(libpq_dsn(os.environ["DATABASE_URL"]), autocommit=True) as conn:
        assert write_recovered(conn, events) == 2
        assert write_recovered(conn, [RunEvent.from_json(e.to_json()) for e in events]) == 0
    assert count_events(session, "twice-1") == 2


def test_a_journal_keeps_only_what_is_not_yet_written(tmp_path: Path) -> None:
    from pipeline.history.journal import Journal

    line = len(RunEvent("m-0", "succeeded", "succeeded").to_json()) + 1
    journal = Journal(tmp_path, "k", size=2 * line + 1)  # two lines a file
    for position in range(5):
        journal.append(RunEvent(f"m-{position}", "succeeded", "succeeded"), position)
    assert len(list(tmp_path.iterdir())) == 3  # two full files and the current one
    assert [e.message_id for e in journal.recover()] == []  # this process is alive: nothing to take over
    journal.settled(head=2, drained=False)  # events 0 and 1 written: the first file goes
    assert len(list(tmp_path.iterdir())) == 2
    journal.settled(head=5, drained=True)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].read_bytes()[:1] == b"\0"  # emptied
    journal.discard()
    assert not list(tmp_path.iterdir())


def test_an_event_the_database_refuses_does_not_block_the_writer(session, tmp_path: Path) -> None:
    writer = HistoryWriter(os.environ["DATABASE_URL"], spool_dir=tmp_path, linger_s=0.2)
    try:
        writer.record(RunEvent("refusing-1", "running", "running", worker="w1", actor="echo", queue="default"))
        # Beyond PostgreSQL's integer: every retry of this batch would fail the same way.
        writer.record(RunEvent("refusing-2", "progress", None, progress_done=2**40))
        writer.record(RunEvent("refusing-1", "succeeded", "succeeded", worker="w1"), durable=True)
        assert writer.flush(10)
    finally:
        writer.close()
    session.expire_all()
    assert session.get(Run, "refusing-1").status == "succeeded"
    (rejected,) = tmp_path.glob("rejected-*.jsonl")
    assert [RunEvent.from_json(line).message_id for line in rejected.read_text().splitlines()] == ["refusing-2"]
