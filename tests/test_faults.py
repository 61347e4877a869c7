"""Faults survived: RabbitMQ, PostgreSQL and Redis restarted while messages run.

These restart the machine's real services, so they run last (see the
`pytest_collection_modifyitems` hook in tests/conftest.py) and wait for each
service to answer again before they end. After each, every message has finished
and the run history accounts for every message.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.worker import running_worker, wait_for

pytestmark = [pytest.mark.service_restarts, pytest.mark.usefixtures("services")]


def restart_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)
    import actors

    del actors.broker.connection  # this process's connection died with the server


def restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
                   check=True, capture_output=True, timeout=120)
    wait_for(lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0, timeout=60,
             what="PostgreSQL back")


def restart_redis() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True, timeout=30)
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
                    "--logfile", "/var/log/redis/ci.log"], check=True, capture_output=True, timeout=30)
    wait_for(lambda: subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode == 0,
             timeout=30, what="Redis back")


def finished(ids: list[str]) -> dict[str, dict]:
    from tests.test_worker_e2e import life

    lives = {mid: life(mid) for mid in ids}
    done = all(entry and entry["status"] in ("succeeded", "dead_lettered", "failed") for entry in lives.values())
    return lives if done else {}


@pytest.mark.parametrize("restart", [restart_rabbitmq, restart_postgres, restart_redis],
                         ids=["rabbitmq", "postgres", "redis"])
def test_messages_finish_and_history_accounts_for_all_across_a_restart(broker, tmp_path: Path, restart) -> None:
    from tests.support.actors import sleep_then_echo
    from tests.test_worker_e2e import status_is

    messages = [sleep_then_echo.send(1.0, f"fault-{i}") for i in range(8)]
    ids = [m.message_id for m in messages]
    with running_worker("tests.support.actors", threads=4, log=tmp_path / "worker.log"):
        wait_for(status_is(ids[0], "running", "succeeded"), timeout=30, what="work under way")
        restart()
        time.sleep(1)
        lives = wait_for(lambda: finished(ids), timeout=120, interval=0.5, what="every message finished")
    statuses = {k: life["status"] for k, life in lives.items()}
    assert all(status == "succeeded" for status in statuses.values()), statuses
    assert sorted(life["result"]["value"] for life in lives.values()) == sorted(f"fault-{i}" for i in range(8))
    for life in lives.values():
        events = [e["event"] for e in life["events"]]
        assert events[0] == "enqueued" and events[-1] == "succeeded"
        # A message whose acknowledgement was lost with the connection runs again; history says so.
        assert events.count("running") == life["attempts"] >= 1
