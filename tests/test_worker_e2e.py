"""Real worker processes on the real RabbitMQ: results, history, retries, dead letters, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.worker import (
    ROOT,
    running_worker,
    start_worker,
    stop_worker,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("services")

TEST_ACTORS = "tests.support.actors"


def life(message_id: str) -> dict | None:
    import actors
    from pipeline.db import session_scope
    from pipeline.history.reads import get_run

    actors.stack.writer.flush()
    with session_scope() as session:
        found = get_run(session, message_id)
        return found.as_dict() if found else None


def status_is(message_id: str, *statuses: str):
    def check() -> dict | None:
        current = life(message_id)
        return current if current and current["status"] in statuses else None

    return check


def test_health_check_from_a_shell_end_to_end(broker, tmp_path: Path) -> None:
    from actors import health_check

    # Exactly what a user types in a Python shell, in a separate interpreter.
    shell = (
        "from actors import health_check\n"
        "m = health_check.send()\n"
        "print(m.message_id)\n"
        "print(m.get_result(block=True, timeout=20_000)['ok'])\n"
    )
    with running_worker(log=tmp_path / "worker.log"):
        proc = subprocess.run([sys.executable, "-c", shell], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        message_id, ok = proc.stdout.split()
        assert ok == "True"
        done = wait_for(status_is(message_id, "succeeded"), what="succeeded in history")
        # The history's own check: the worker handed it to the sidecar, which runs once it is written.
        again = health_check.send().get_result(block=True, timeout=20_000)
    assert done["result"]["ok"] is True
    assert set(done["result"]["checks"]) == {"broker", "database", "redis", "history"}
    assert done["result"]["checks"]["history"]["writer"] == "sidecar"
    assert again["checks"]["history"] == {"ok": True, "writer": "sidecar", "sidecar_running": True}
    assert [e["event"] for e in done["events"]] == ["enqueued", "running", "succeeded"]
    assert done["attempts"] == 1 and done["duration_ms"] is not None and done["worker"]


def test_status_shows_enqueued_running_succeeded(broker, tmp_path: Path) -> None:
    from tests.support.actors import sleep_then_echo

    message = sleep_then_echo.send(3, "hello")
    assert wait_for(status_is(message.message_id, "enqueued"), what="enqueued")
    with running_worker(TEST_ACTORS, log=tmp_path / "worker.log"):
        running = wait_for(status_is(message.message_id, "running"), what="running")
        assert running["started_at"] and not running["finished_at"]
        done = wait_for(status_is(message.message_id, "succeeded"), what="succeeded")
    assert done["result"] == {"value": "hello"}
    assert message.get_result(block=True, timeout=1_000) == {"value": "hello"}
    cli = subprocess.run([sys.executable, "-c", "from actors.cli import main; main()", "status", message.message_id],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0
    for word in ("enqueued", "running", "succeeded", '"hello"'):
        assert word in cli.stdout


def test_transient_error_retries_then_dead_letters_with_the_error(broker, tmp_path: Path) -> None:
    from tests.support.actors import always_flaky

    message = always_flaky.send("sw0001a")
    with running_worker(TEST_ACTORS, log=tmp_path / "worker.log"):
        dead = wait_for(status_is(message.message_id, "dead_lettered"), timeout=60, what="dead_lettered")
    events = [e["event"] for e in dead["events"]]
    assert events[:7] == ["enqueued", "running", "retrying", "running", "retrying", "running", "dead_lettered"]
    assert dead["attempts"] == 3 and dead["retries"] == 3
    assert "FlakyError: upstream unavailable for sw0001a" in dead["error"]
    assert "raise FlakyError" in dead["traceback"]
    retry_errors = [e["error"] for e in dead["events"] if e["event"] == "retrying"]
    assert all("upstream unavailable" in err for err in retry_errors)
    wait_for(lambda: broker.get_queue_message_counts("default")[2] == 1, what="message in default.XQ")


def test_sigkilled_worker_message_is_redelivered_and_history_shows_both_attempts(broker, tmp_path: Path) -> None:
    from tests.support.actors import sleep_then_echo

    message = sleep_then_echo.send(4, "survivor")
    first = start_worker(TEST_ACTORS, log=tmp_path / "first.log")
    try:
        wait_for(status_is(message.message_id, "running"), what="first attempt running")
    finally:
        stop_worker(first, sig=signal.SIGKILL)  # the whole worker, parent and children
    with running_worker(TEST_ACTORS, log=tmp_path / "second.log"):
        done = wait_for(status_is(message.message_id, "succeeded"), timeout=60, what="redelivered run succeeded")
    events = [e["event"] for e in done["events"]]
    assert events.count("running") == 2
    assert "interrupted" in events and events.index("interrupted") > events.index("running")
    assert done["attempts"] == 2
    assert done["result"] == {"value": "survivor"}
    assert len({e["worker"] for e in done["events"] if e["event"] == "running"}) == 2


def test_bad_input_fails_at_once_without_retry(broker, tmp_path: Path) -> None:
    from tests.support.actors import reject_bad_day

    message = reject_bad_day.send("2026-02-30")
    with running_worker(TEST_ACTORS, log=tmp_path / "worker.log"):
        failed = wait_for(status_is(message.message_id, "failed"), what="failed")
    assert [e["event"] for e in failed["events"]][:3] == ["enqueued", "running", "failed"]
    assert failed["attempts"] == 1 and "InvalidInput" in failed["error"] and "2026-02-30" in failed["error"]


def test_arguments_the_actor_does_not_take_fail_at_once_but_a_type_error_inside_is_retried(
        broker, tmp_path: Path) -> None:
    from tests.support.actors import reject_bad_day

    # Sent by hand, around `stonks send`'s check: no retry can make these fit.
    misfit = reject_bad_day.send_with_options(args=("2026-01-01",), kwargs={"days": 3})
    inside = reject_bad_day.send(None)  # fits the signature; the TypeError comes from inside the actor
    with running_worker(TEST_ACTORS, log=tmp_path / "worker.log"):
        failed = wait_for(status_is(misfit.message_id, "failed"), what="failed")
        retried = wait_for(status_is(inside.message_id, "retrying"), what="retried")
    assert failed["attempts"] == 1 and "TypeError" in failed["error"] and "days" in failed["error"]
    assert "TypeError" in retried["error"]


def test_a_result_waited_for_longer_than_the_redis_clients_default_timeout_arrives(broker, tmp_path: Path) -> None:
    from tests.support.actors import sleep_then_echo

    # redis-py 8 gives every connection a 5 s socket timeout unless told otherwise; the
    # result's wait is a blocking Redis command that must outlast it.
    with running_worker("tests.support.actors", log=tmp_path / "worker.log"):
        message = sleep_then_echo.send(7, "late")
        assert message.get_result(block=True, timeout=30_000) == {"value": "late"}


def _refused(env: dict[str, str], log: Path) -> str:
    """Start a worker that must refuse to start: its exit code, then its log."""
    proc = start_worker(TEST_ACTORS, env=env, log=log)
    try:
        assert proc.wait(timeout=60) == 2
    finally:
        stop_worker(proc)
    return log.read_text()


def test_a_worker_refuses_actor_time_limits_above_the_consumer_timeout(broker, tmp_path: Path) -> None:
    from tests.support.actors import echo

    message = echo.send("never")
    text = _refused({"RABBITMQ_CONSUMER_TIMEOUT_MS": "60000"}, tmp_path / "worker.log")
    assert "worker refuses to start: actor time limit must be below RabbitMQ's consumer timeout (60000 ms" in text
    assert "fetch_prices_for_minifigures (time_limit=1200000 ms)" in text
    assert "RABBITMQ_CONSUMER_TIMEOUT_MS" in text
    assert life(message.message_id)["status"] == "enqueued"  # nothing was consumed


def test_a_worker_refuses_a_schema_behind_the_code_and_waits_for_a_database_that_does_not_answer(
        broker, tmp_path: Path) -> None:
    from pipeline import db
    from tests.support import services

    name = f"{os.environ['REDIS_NAMESPACE']}_old"
    services.create_database(name)
    try:
        url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
        db.upgrade(url, "0003")
        text = _refused({"DATABASE_URL": url}, tmp_path / "old.log")
        assert (f"the database's schema is at 0003, this code needs {db.head_revision()}: "
                "run `stonks db upgrade`") in text
        db.get_engine(url).dispose()
        db.upgrade(url)
        with running_worker(TEST_ACTORS, env={"DATABASE_URL": url}, log=tmp_path / "head.log") as proc:
            wait_for(lambda: "Worker process is ready" in (tmp_path / "head.log").read_text(), what="the worker up")
            assert proc.poll() is None
    finally:
        db.get_engine(url).dispose()
        services.drop_database(name)
    gone = os.environ["DATABASE_URL"] + "_not_created"  # answers no: messages will retry, the worker starts
    with running_worker(TEST_ACTORS, env={"DATABASE_URL": gone}, log=tmp_path / "gone.log") as proc:
        wait_for(lambda: "Worker process is ready" in (tmp_path / "gone.log").read_text(), what="the worker up")
        assert proc.poll() is None
    assert "the database does not answer at start" in (tmp_path / "gone.log").read_text()
