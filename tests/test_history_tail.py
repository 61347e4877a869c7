"""The history sidecar: worker processes journal their events, one process per host writes them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.history.events import RunEvent
from pipeline.history.journal import spool_key
from pipeline.history.sidecar import HistoryTail, sidecar_running
from pipeline.history.writer import HistoryWriter
from pipeline.models import Run
from tests.support.proxy import TcpProxy
from tests.support.worker import ROOT, start_worker, stop_worker, wait_for
from tests.test_history import count_events, proxied_dsn

pytestmark = pytest.mark.usefixtures("services")

DSN = os.environ["DATABASE_URL"]

JOURNALLING_PROCESS = """
import os, signal, sys
from pathlib import Path
from pipeline.history.writer import HistoryWriter
from pipeline.history.events import RunEvent
writer = HistoryWriter(sys.argv[1], spool_dir=Path(sys.argv[2]))
assert writer.hand_over()
prefix, n, how = sys.argv[3], int(sys.argv[4]), sys.argv[5]
for i in range(n):
    writer.record(RunEvent(f"{prefix}-{i}", "running", "running", worker="w1", actor="echo", queue="default"))
    writer.record(RunEvent(f"{prefix}-{i}", "succeeded", "succeeded", worker="w1", result={"i": i}), durable=True)
assert writer._thread is None, "a process that hands over never writes itself"
if how == "close":
    writer.close()
else:  # killed in the middle of copying a line
    journal = writer._tail
    journal._map[journal._offset:journal._offset + 20] = b'{"message_id": "torn'
    os.kill(os.getpid(), signal.SIGKILL)
"""


def journal_in_a_process(spool: Path, prefix: str, n: int, how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", JOURNALLING_PROCESS, DSN, str(spool), prefix, str(n), how],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def pid_of(path: Path) -> int:
    return int(re.search(r"-(\d+)-\d+\.jsonl$", path.name).group(1))


def drain(tail: HistoryTail) -> None:
    tail._scan()
    while tail.step():
        pass


def check_runs(session, prefix: str, n: int) -> None:
    session.expire_all()
    for i in range(n):
        run = session.get(Run, f"{prefix}-{i}")
        assert (run.status, run.attempts, run.result) == ("succeeded", 1, {"i": i}), f"{prefix}-{i}"
        assert count_events(session, f"{prefix}-{i}") == 2


def test_the_sidecar_writes_what_a_closed_process_journalled_and_deletes_its_files(session, tmp_path: Path) -> None:
    # Small files: the process moves through several, each ended by an END line.
    script = JOURNALLING_PROCESS.replace(
        "spool_dir=Path(sys.argv[2]))",
        "spool_dir=Path(sys.argv[2]))\nimport pipeline.history.journal as j; j.Journal.SIZE = 4096",
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, DSN, str(tmp_path), "tail-closed", "60", "close"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    files = list(tmp_path.glob("events-*.jsonl"))
    assert len(files) > 3
    assert all(f.read_bytes().rstrip(b"\0").endswith(b"END\n") for f in files)
    tail = HistoryTail(DSN, tmp_path, batch_size=25)
    drain(tail)
    check_runs(session, "tail-closed", 60)
    assert not list(tmp_path.glob("events-*"))
    assert tail.written == 120


def test_a_killed_process_leaves_whole_lines_that_are_written_and_a_torn_one_that_is_not(
    session, tmp_path: Path
) -> None:
    proc = journal_in_a_process(tmp_path, "tail-killed", 5, "kill")
    assert proc.returncode == -9, proc.stderr
    (file,) = tmp_path.glob("events-*.jsonl")
    assert b"torn" in file.read_bytes()
    drain(HistoryTail(DSN, tmp_path))
    check_runs(session, "tail-killed", 5)
    assert not file.exists()  # its process is dead and every whole line is written


def test_a_live_process_is_tailed_and_a_new_sidecar_does_not_write_again_what_the_last_wrote(
    session, tmp_path: Path
) -> None:
    writer = HistoryWriter(DSN, spool_dir=tmp_path)
    assert writer.hand_over()
    writer.record(RunEvent("tail-live-0", "running", "running", worker="w1", actor="echo", queue="default"))
    first = HistoryTail(DSN, tmp_path)
    drain(first)
    session.expire_all()
    assert session.get(Run, "tail-live-0").status == "running"
    writer.record(RunEvent("tail-live-0", "succeeded", "succeeded", worker="w1", result={"i": 0}), durable=True)
    drain(first)
    check_runs(session, "tail-live", 1)
    assert list(tmp_path.glob("events-*.jsonl")), "this process is alive and has not closed its file"

    # A sidecar that took over (the first one was killed) reads the file from its start.
    second = HistoryTail(DSN, tmp_path)
    drain(second)
    assert second.written == 2
    check_runs(session, "tail-live", 1)  # still one attempt and two events: nothing was written twice
    writer.close()
    drain(second)
    assert not list(tmp_path.glob("events-*"))


def test_a_new_sidecar_checks_every_batch_of_what_its_predecessor_may_have_written(session, tmp_path: Path) -> None:
    writer = HistoryWriter(DSN, spool_dir=tmp_path)
    assert writer.hand_over()
    for i in range(300):  # more than one read of the file: about 100 KiB
        writer.record(RunEvent(f"tail-batches-{i}", "running", "running", worker="w1", actor="echo", queue="default"))
        writer.record(RunEvent(f"tail-batches-{i}", "succeeded", "succeeded", worker="w1", result={"i": i}),
                      durable=True)
    drain(HistoryTail(DSN, tmp_path))  # wrote all 600 events, then was killed
    # Its successor reads the live file from the start in several batches: every one of
    # them, not only the first, holds events already written.
    second = HistoryTail(DSN, tmp_path, batch_size=2)
    drain(second)
    assert second.written == 600
    check_runs(session, "tail-batches", 300)
    assert not list(tmp_path.glob("rejected-*"))
    writer.close()


def test_the_sidecar_waits_out_a_database_outage_and_stops_once_the_workers_are_done(session, tmp_path: Path) -> None:
    proxy = TcpProxy(5432)
    tail = HistoryTail(proxied_dsn(proxy), tmp_path, poll_s=0.01)
    stop = threading.Event()
    runner = threading.Thread(target=tail.run, args=(stop,))
    runner.start()
    try:
        proxy.cut()
        proc = journal_in_a_process(tmp_path, "tail-outage", 20, "close")
        assert proc.returncode == 0, proc.stderr
        stop.set()  # the process has closed its journal: the sidecar may stop once it is written
        runner.join(1.5)
        assert runner.is_alive(), "nothing could be written yet: the sidecar keeps trying"
        proxy.restore()
        runner.join(30)
        assert not runner.is_alive()
    finally:
        stop.set()
        proxy.restore()
        runner.join(30)
        proxy.close()
    check_runs(session, "tail-outage", 20)
    assert not list(tmp_path.glob("events-*"))


def test_one_sidecar_writes_for_a_host_and_database_and_another_waits(tmp_path: Path) -> None:
    first_stop, second_stop = threading.Event(), threading.Event()
    first = threading.Thread(target=HistoryTail(DSN, tmp_path).run, args=(first_stop,))
    first.start()
    # Held, not only created: the file exists a moment before its lock is taken.
    wait_for(lambda: sidecar_running(tmp_path, spool_key(DSN)), what="the first sidecar to hold its lock")
    second_tail = HistoryTail(DSN, tmp_path)
    second = threading.Thread(target=second_tail.run, args=(second_stop,))
    # flock locks belong to open files, so two threads of one process exclude each other too.
    second.start()
    try:
        journal_in_a_process(tmp_path, "tail-one", 3, "close")
        wait_for(lambda: not list(tmp_path.glob("events-*")), what="the first sidecar to write")
        assert second_tail.written == 0
        first_stop.set()
        first.join(10)
        journal_in_a_process(tmp_path, "tail-two", 3, "close")
        wait_for(lambda: second_tail.written == 6, what="the second sidecar to take over")
    finally:
        first_stop.set()
        second_stop.set()
        first.join(10)
        second.join(10)
    assert not list(tmp_path.glob("sidecar-*")), "the last sidecar removes the lock file as it leaves"


def test_a_dramatiq_worker_hands_its_history_to_the_sidecar_which_writes_it_all_before_stopping(
        broker, session, tmp_path: Path) -> None:
    from tests.support.actors import sleep_then_echo

    spool = Path(os.environ["HISTORY_SPOOL_DIR"])
    proc = start_worker("tests.support.actors", processes=2, log=tmp_path / "worker.log")
    try:
        quick = [sleep_then_echo.send(0, i) for i in range(20)]
        wait_for(lambda: all(session.get(Run, m.message_id) is not None and
                             session.get(Run, m.message_id).status == "succeeded"
                             for m in quick if not session.expire_all()), timeout=60, what="history of 20 messages")
        pids = {pid_of(p) for p in spool.glob("events-*.jsonl")}
        children = {int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                     text=True).stdout.split()}
        assert pids and pids <= children, "worker processes journal their events for the sidecar"
        slow = sleep_then_echo.send(2, "last")
        wait_for(lambda: not session.expire_all() and session.get(Run, slow.message_id) is not None
                 and session.get(Run, slow.message_id).status == "running", what="the slow message to start")
        # SIGTERM to the main process alone, as a supervisor sends it: the whole group would
        # get it twice (once relayed), and a worker process signalled twice kills its messages.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        stop_worker(proc)
    log = (tmp_path / "worker.log").read_text()
    assert "sidecar" in log and "Traceback" not in log, log
    # The worker finished the slow message after the stop; the sidecar waited for its outcome.
    session.expire_all()
    assert session.get(Run, slow.message_id).status == "succeeded"
    assert not [p for p in spool.glob("events-*.jsonl") if pid_of(p) in pids]


def test_an_event_the_database_refuses_is_kept_aside_and_the_rest_is_written(session, tmp_path: Path) -> None:
    writer = HistoryWriter(DSN, spool_dir=tmp_path)
    assert writer.hand_over()
    writer.record(RunEvent("tail-refused-0", "running", "running", worker="w1", actor="echo", queue="default"))
    # A progress count beyond PostgreSQL's integer: the whole batch's upsert fails on it.
    writer.record(RunEvent("tail-refused-1", "progress", None, progress_done=2**40, progress_total=2**41))
    writer.record(RunEvent("tail-refused-0", "succeeded", "succeeded", worker="w1", result={"i": 0}), durable=True)
    writer.close()
    tail = HistoryTail(DSN, tmp_path)
    drain(tail)
    check_runs(session, "tail-refused", 1)
    (rejected,) = tmp_path.glob("rejected-*.jsonl")
    assert [RunEvent.from_json(line).message_id for line in rejected.read_text().splitlines()] == ["tail-refused-1"]
    assert not list(tmp_path.glob("events-*"))


def test_a_process_that_handed_over_reports_whether_a_sidecar_writes_its_history(tmp_path: Path) -> None:
    writer = HistoryWriter(DSN, spool_dir=tmp_path)
    assert writer.state()["writer"] == "thread" and writer.state()["ok"]
    assert writer.hand_over()
    assert writer.state() == {"ok": True, "writer": "sidecar", "sidecar_running": False,
                              "note": "the sidecar is starting"}
    writer._watching.set()  # no worker takes the sidecar's place here: see the next test
    writer._handed_at -= 60  # long enough ago that the sidecar should run
    state = writer.state()
    assert (state["ok"], state["sidecar_running"]) == (False, False)
    assert str(tmp_path) in state["error"]
    stop = threading.Event()
    runner = threading.Thread(target=HistoryTail(DSN, tmp_path).run, args=(stop,))
    runner.start()
    try:
        wait_for(lambda: writer.state()["ok"], what="the sidecar's lock")
    finally:
        stop.set()
        runner.join(10)
    assert not writer.state()["ok"]
    writer.close()


def test_a_sidecar_that_fails_on_something_unforeseen_starts_again(session, tmp_path: Path, monkeypatch) -> None:
    from pipeline.history import sidecar

    real_step, failures = HistoryTail.step, []

    def step_that_fails_once(self: HistoryTail) -> bool:
        if not failures:
            failures.append(True)
            raise RuntimeError("a bug in the sidecar")
        return real_step(self)

    monkeypatch.setattr(HistoryTail, "step", step_that_fails_once)
    stop = threading.Event()
    runner = threading.Thread(target=sidecar.serve, args=(DSN, tmp_path, stop), kwargs={"restart_s": 0.1})
    runner.start()
    try:
        proc = journal_in_a_process(tmp_path, "tail-restart", 5, "close")
        assert proc.returncode == 0, proc.stderr
        wait_for(lambda: not list(tmp_path.glob("events-*")), what="the restarted sidecar to write")
    finally:
        stop.set()
        runner.join(10)
    assert failures and not runner.is_alive()
    check_runs(session, "tail-restart", 5)


def test_with_no_sidecar_a_worker_process_writes_in_its_stead(session, tmp_path: Path, monkeypatch) -> None:
    from pipeline.history import writer

    monkeypatch.setattr(writer, "SIDECAR_START_S", 0.0)
    monkeypatch.setattr(writer, "SIDECAR_WATCH_S", 0.1)
    # Another worker process of the command journals too (and closes its file).
    assert journal_in_a_process(tmp_path, "tail-stead-other", 3, "close").returncode == 0
    writer = HistoryWriter(DSN, spool_dir=tmp_path)
    assert writer.hand_over()
    writer.record(RunEvent("tail-stead-0", "running", "running", worker="w1", actor="echo", queue="default"))
    writer.record(RunEvent("tail-stead-0", "succeeded", "succeeded", worker="w1", result={"i": 0}), durable=True)
    try:
        wait_for(lambda: writer.writes_for_sidecar, what="a worker to take the sidecar's place")
        check = lambda: not session.expire_all() and session.get(Run, "tail-stead-0") is not None  # noqa: E731
        wait_for(lambda: check() and session.get(Run, "tail-stead-0").status == "succeeded", what="its history")
        state = writer.state()
        assert state["ok"] and state["sidecar_running"] and "in its stead" in state["note"]
    finally:
        writer.close()
    check_runs(session, "tail-stead-other", 3)
    check_runs(session, "tail-stead", 1)
    assert not list(tmp_path.glob("events-*")) and not list(tmp_path.glob("sidecar-*"))
