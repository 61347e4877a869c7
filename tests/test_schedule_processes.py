"""The real scheduler processes on the real services: `periodiq schedules.periodiq` and `python -m schedules`.

Catch-up is tested without waiting: the table's catch-up entries are daily at the
minute three minutes before the test, so when a scheduler starts, that tick was
missed while no scheduler ran.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import delete, select

from pipeline.db import session_scope
from pipeline.models import Run, RunEvent, ScheduleTick
from tests.support.worker import ROOT, running_worker, stop_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")

MIN = timedelta(minutes=1)
KINDS = ("periodiq", "apscheduler")


def command(kind: str) -> list[str]:
    if kind == "periodiq":
        return [str(Path(sys.executable).with_name("periodiq")), "schedules.periodiq"]
    return [sys.executable, "-m", "schedules"]


def start_scheduler(kind: str, table: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command(kind), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "SCHEDULE_FILE": str(table)},
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def started(log: Path) -> bool:
    return log.exists() and "schedule running:" in log.read_text()


def write_table(path: Path, prefix: str, every_minute: bool) -> Path:
    missed = datetime.now(UTC) - 3 * MIN
    daily = f"{missed.minute} {missed.hour} * * *"
    entries: list[dict[str, Any]] = [
        {"name": prefix + "latest", "cron": daily, "actor": "health_check",
         "catch_up": {"policy": "latest", "grace": "1h"}},
        {"name": prefix + "skip", "cron": daily, "actor": "health_check", "catch_up": "skip"},
        {"name": prefix + "expired", "cron": daily, "actor": "health_check",
         "catch_up": {"policy": "latest", "grace": "2m"}},
    ]
    if every_minute:
        entries.insert(0, {"name": prefix + "minutely", "cron": "* * * * *", "actor": "health_check"})
    path.write_text(yaml.safe_dump({"schedules": entries}))
    return path


def claims(prefix: str) -> list[ScheduleTick]:
    with session_scope() as session:
        return list(session.scalars(select(ScheduleTick).where(ScheduleTick.schedule_name.startswith(prefix))
                                    .order_by(ScheduleTick.schedule_name, ScheduleTick.scheduled_for)))


def runs_of(prefix: str) -> list[Run]:
    with session_scope() as session:
        return list(session.scalars(select(Run).where(Run.schedule_name.startswith(prefix))))


def minutely(prefix: str) -> list[datetime]:
    return [c.scheduled_for for c in claims(prefix) if c.schedule_name == prefix + "minutely"]


@pytest.fixture()
def prefix(broker: Any) -> Iterator[str]:
    """Schedule names for one test; its ticks and runs are removed afterwards, its queued messages flushed."""
    value = f"p{uuid.uuid4().hex[:6]}-"
    yield value
    with session_scope() as session:
        ids = select(Run.message_id).where(Run.schedule_name.startswith(value)).scalar_subquery()
        session.execute(delete(RunEvent).where(RunEvent.message_id.in_(ids)))
        session.execute(delete(Run).where(Run.schedule_name.startswith(value)))
        session.execute(delete(ScheduleTick).where(ScheduleTick.schedule_name.startswith(value)))


def test_three_schedulers_of_both_kinds_run_every_tick_exactly_once(tmp_path: Path, prefix: str) -> None:
    table = write_table(tmp_path / "table.yaml", prefix, every_minute=True)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "c", "c2", "b2")}
    kinds = {"a": "periodiq", "b": "periodiq", "c": "apscheduler", "c2": "apscheduler", "b2": "periodiq"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with running_worker(log=tmp_path / "worker.log"):
            for name in ("a", "b", "c"):
                procs[name] = start_scheduler(kinds[name], table, logs[name])
            wait_for(lambda: all(started(logs[n]) for n in ("a", "b", "c")), timeout=30, what="three schedulers up")
            first = wait_for(lambda: minutely(prefix), timeout=70, what="a first tick")[0]

            # Right after the next tick: C dies and restarts inside that tick's minute; B stops across the tick after.
            second = first + MIN
            wait_for(lambda: second in minutely(prefix), timeout=75, what="the second tick")
            time.sleep(1)
            stop_worker(procs["c"], signal.SIGKILL)
            stop_worker(procs["b"])
            procs["c2"] = start_scheduler("apscheduler", table, logs["c2"])
            wait_for(lambda: started(logs["c2"]), timeout=30, what="C restarted")
            third = second + MIN
            wait_for(lambda: third in minutely(prefix), timeout=75, what="the third tick")
            procs["b2"] = start_scheduler("periodiq", table, logs["b2"])
            wait_for(lambda: started(logs["b2"]), timeout=30, what="B restarted")
            wait_for(lambda: sum(r.status == "succeeded" for r in runs_of(prefix)) >= 4, timeout=30,
                     what="the runs of three ticks and the catch-up")
    finally:
        for proc in procs.values():
            stop_worker(proc)
    texts = {name: log.read_text() for name, log in logs.items()}

    # schedule_ticks: every minute from the first to the last, each once, each sent.
    ticks = minutely(prefix)
    assert ticks[:3] == [first, second, third]
    assert ticks == [first + i * MIN for i in range(len(ticks))]
    found = {c.scheduled_for: c for c in claims(prefix) if c.schedule_name == prefix + "minutely"}
    assert all(c.sent_at is not None and c.message_id and not c.catch_up for c in found.values())
    assert {c.runner for c in found.values()} <= set(KINDS)
    # The restarted processes tried the tick of the minute they came back in, and found it taken.
    assert f"minutely: tick {second.isoformat()} already claimed" in texts["c2"]
    assert f"minutely: tick {third.isoformat()} already claimed" in texts["b2"]

    # What reached RabbitMQ and ran: one message per tick, enqueued once, run once, by a worker.
    import actors

    actors.stack.writer.flush()
    runs = {r.scheduled_for: r for r in runs_of(prefix) if r.schedule_name == prefix + "minutely"}
    assert sorted(runs) == ticks
    assert all(runs[t].message_id == found[t].message_id and runs[t].actor == "health_check" for t in ticks)
    for tick in (first, second, third):
        assert runs[tick].status == "succeeded" and runs[tick].attempts == 1
    message_ids = [c.message_id for c in found.values()]
    with session_scope() as session:
        events = Counter(session.execute(
            select(RunEvent.message_id, RunEvent.event).where(RunEvent.message_id.in_(message_ids))
        ).all())
    for tick in (first, second, third):
        assert events[(found[tick].message_id, "enqueued")] == 1
        assert events[(found[tick].message_id, "running")] == 1

    # Catch-up: the latest missed tick once, late; `skip` and an expired grace: nothing.
    catch_ups = [c for c in claims(prefix) if c.schedule_name != prefix + "minutely"]
    [latest] = catch_ups
    assert latest.schedule_name == prefix + "latest" and latest.catch_up and latest.late_by_ms > 120_000
    [run] = [r for r in runs_of(prefix) if r.schedule_name == prefix + "latest"]
    assert run.status == "succeeded"
    assert run.started_at is not None and (run.started_at - run.scheduled_for).total_seconds() > 30  # no 30 s skip

    # `stonks schedule` shows it all.
    proc = subprocess.run([sys.executable, "-c", "from actors.cli import main; main()", "schedule", "--json"],
                          cwd=ROOT, env={**os.environ, "SCHEDULE_FILE": str(table)}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    view = {e["name"].removeprefix(prefix): e for e in json.loads(proc.stdout)["entries"]}
    assert view["minutely"]["last_tick"]["scheduled_for"] == ticks[-1].isoformat()
    assert view["minutely"]["last_tick"]["run"]["status"] == "succeeded"
    assert view["latest"]["state"] == "ok" and view["latest"]["last_tick"]["catch_up"] is True
    assert view["skip"]["state"] == "missed" and view["skip"]["last_tick"] is None
    assert view["expired"]["state"] == "missed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_scheduler_that_was_down_at_a_tick_follows_each_entrys_catch_up_policy(
    kind: str, tmp_path: Path, prefix: str
) -> None:
    table = write_table(tmp_path / "table.yaml", prefix, every_minute=False)
    log = tmp_path / "scheduler.log"
    proc = start_scheduler(kind, table, log)
    try:
        wait_for(lambda: started(log), timeout=30, what="the scheduler up")
    finally:
        stop_worker(proc)
    assert proc.returncode == 0, log.read_text()
    [latest] = claims(prefix)
    assert (latest.schedule_name, latest.runner, latest.catch_up) == (prefix + "latest", kind, True)
    assert 180_000 <= latest.late_by_ms < 300_000
    assert latest.sent_at is not None


@pytest.mark.parametrize("kind", KINDS)
def test_an_invalid_table_stops_the_scheduler_naming_the_entry(kind: str, tmp_path: Path) -> None:
    table = tmp_path / "bad.yaml"
    table.write_text(yaml.safe_dump({"schedules": [
        {"name": "fine", "cron": "0 1 * * *", "actor": "health_check"},
        {"name": "typo", "cron": "0 1 * * *", "actor": "health_chek"},
        {"name": "extra", "cron": "0 1 * * *", "actor": "health_check", "kwargs": {"verbose": True}},
    ]}))
    proc = subprocess.run(command(kind), cwd=ROOT, env={**os.environ, "SCHEDULE_FILE": str(table)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "entry 'typo': unknown actor 'health_chek'; registered actors:" in proc.stderr
    assert "entry 'extra': kwargs {'verbose': True} do not fit health_check()" in proc.stderr
    assert "entry 'fine'" not in proc.stderr


def test_check_and_schedule_commands_report_the_table(tmp_path: Path) -> None:
    table = tmp_path / "ops.yaml"
    table.write_text(yaml.safe_dump({"schedules": [
        {"name": "nightly", "cron": "30 1 * * *", "timezone": "Europe/London", "actor": "health_check",
         "catch_up": {"policy": "latest", "grace": "6h"}},
    ]}))
    env = {**os.environ, "SCHEDULE_FILE": str(table)}
    check = subprocess.run([sys.executable, "-m", "schedules", "--check"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert "nightly: 30 1 * * * Europe/London -> health_check({}), catch_up latest within 6h" in check.stdout
    shown = subprocess.run([sys.executable, "-c", "from actors.cli import main; main()", "schedule"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "nightly  30 1 * * * Europe/London  health_check()  catch-up: latest within 6h" in shown.stdout
    assert "  last   never" in shown.stdout
    table.write_text(table.read_text().replace("health_check", "health_chek"))
    broken = subprocess.run([sys.executable, "-c", "from actors.cli import main; main()", "schedule"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "unknown actor 'health_chek'" in broken.stderr and "refuse to start" in broken.stderr


def test_workers_do_not_install_periodiqs_30_second_skip() -> None:
    code = "import actors; print(sorted(type(m).__name__ for m in actors.broker.middleware))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "RunHistory" in proc.stdout and "PeriodiqMiddleware" not in proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("actors.processing") is None,
                    reason="the pipeline actors are not written yet")
def test_the_default_table_fits_the_registered_actors() -> None:
    proc = subprocess.run([sys.executable, "-m", "schedules", "--check"], cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != "SCHEDULE_FILE"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("schedules/default.yaml: 4 entries, valid")


def test_an_entry_whose_values_the_actor_refuses_stops_the_scheduler_at_start(tmp_path: Path) -> None:
    table = tmp_path / "schedule.yaml"
    table.write_text("schedules:\n"
                     "  - {name: sweep-old, cron: '0 3 * * *', actor: cleanup_old_listings, "
                     "kwargs: {days_to_keep: -5}}\n")
    proc = subprocess.run([sys.executable, "-m", "schedules", "--check"], cwd=ROOT,
                          env={**os.environ, "SCHEDULE_FILE": str(table)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "entry 'sweep-old': cleanup_old_listings refuses kwargs {'days_to_keep': -5}" in proc.stderr + proc.stdout
    assert "out of range" in proc.stderr + proc.stdout
