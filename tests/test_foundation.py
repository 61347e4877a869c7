"""Layout, settings, schema and the CLI entry points, on the real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

pytestmark = pytest.mark.usefixtures("services")

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from actors.cli import main; main()", *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120,
    )


def test_pipeline_never_imports_the_task_libraries() -> None:
    code = (
        "import importlib, pkgutil, sys, pipeline\n"
        "for m in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'):\n"
        "    if m.name.endswith(('.env', '__main__')) or '.versions.' in m.name: continue\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('dramatiq', 'periodiq', 'apscheduler'))\n"
        "print(len([n for n in sys.modules if n.startswith('pipeline')]), bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = int(proc.stdout.split()[0])
    assert imported >= 8  # the walk really imported the package's modules


@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "mysql://root@localhost/x"), ("BROKER_URL", "redis://localhost"),
     ("DASHBOARD_PORT", "eighty"), ("CATALOG_SOURCE", "bricklink"), ("PROMETHEUS_ENABLED", "maybe")],
)
def test_malformed_setting_stops_the_process_naming_it(name: str, value: str) -> None:
    proc = run("db", "current", env={name: value})
    assert proc.returncode != 0
    assert f"setting {name} is invalid" in proc.stderr


def test_upgrade_is_a_no_op_the_second_time() -> None:
    proc = run("db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert "already there" in proc.stdout


def test_models_and_migrations_agree() -> None:
    from pipeline.db import get_engine
    from pipeline.models import Base

    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'")).scalars())
    assert diff == []
    assert {"minifigures", "price_observations", "price_snapshots", "runs", "run_events", "schedule_ticks"} <= tables


def test_send_rejects_an_unknown_actor() -> None:
    proc = run("send", "no_such_actor", "--kwargs", "{}")
    assert proc.returncode == 2
    assert "unknown actor 'no_such_actor'" in proc.stderr
    assert "health_check" in proc.stderr  # it lists what exists


def test_send_rejects_arguments_the_actor_does_not_accept() -> None:
    proc = run("send", "health_check", "--kwargs", '{"verbose": true}')
    assert proc.returncode == 2
    assert "unexpected keyword argument 'verbose'" in proc.stderr


def test_send_rejects_values_the_actor_would_refuse_and_sends_nothing(broker) -> None:
    broker.declare_queue("processing", ensure=True)  # there to count, whichever tests ran before
    proc = run("send", "cleanup_old_listings", "--kwargs", '{"days_to_keep": -5}')
    assert proc.returncode == 2
    assert "days_to_keep -5 is out of range" in proc.stderr
    assert broker.channel.queue_declare("processing", passive=True, durable=True).method.message_count == 0


def test_every_argument_check_takes_exactly_its_actors_arguments() -> None:
    import inspect

    import actors
    from actors.arguments import CHECKS

    assert len(CHECKS) == 9
    for name, check in CHECKS.items():
        ours = inspect.signature(check).parameters
        theirs = inspect.signature(actors.broker.get_actor(name).fn).parameters
        assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()], name


def test_send_rejects_malformed_json() -> None:
    proc = run("send", "health_check", "--kwargs", "{not json")
    assert proc.returncode == 2
    assert "not JSON" in proc.stderr


def test_send_enqueues_and_status_shows_it_waiting(broker) -> None:
    proc = run("send", "health_check", "--json")
    assert proc.returncode == 0, proc.stderr
    message_id = json.loads(proc.stdout)["message_id"]
    status = run("status", message_id, "--json")
    assert status.returncode == 0, status.stderr
    life = json.loads(status.stdout)
    assert life["status"] == "enqueued"
    assert life["actor"] == "health_check" and life["queue"] == "default"
    assert [e["event"] for e in life["events"]] == ["enqueued"]


def test_status_of_an_unknown_message_exits_non_zero() -> None:
    proc = run("status", "00000000-0000-0000-0000-000000000000")
    assert proc.returncode == 1
    assert "no run with message id" in proc.stderr


def test_a_pooled_connection_that_died_is_replaced_not_handed_out() -> None:
    import psycopg
    from sqlalchemy import text

    from pipeline import db
    from pipeline.db import libpq_dsn

    url = os.environ["DATABASE_URL"] + "?connect_timeout=4"  # an engine of its own
    engine = db.get_engine(url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with psycopg.connect(libpq_dsn(os.environ["DATABASE_URL"]), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def test_redis_connections_name_the_library_without_reading_its_metadata_each_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client the stack makes shares one DriverInfo; redis-py would parse its METADATA per connection.

    (The name goes to the server in CLIENT SETINFO, which Redis 7.2 and later keep; older servers ignore it.)
    """
    import redis
    import redis.utils

    import actors
    from pipeline.redis_clients import DRIVER, redis_client

    reads: list[str] = []
    original = redis.utils.get_lib_version
    monkeypatch.setattr(redis.utils, "get_lib_version", lambda: reads.append("read") or original())
    clients = [redis_client(os.environ["REDIS_URL"]) for _ in range(3)]
    clients += [actors.stack.results.client, actors.stack.rate_limits.client]
    for client in clients:
        assert client.connection_pool.connection_kwargs["driver_info"] is DRIVER
        assert client.ping()  # on a connection of its own: each client here is new to this process
        client.connection_pool.make_connection()  # and another, as a new thread would open
    assert reads == []
    redis.Redis.from_url(os.environ["REDIS_URL"]).connection_pool.make_connection()
    assert reads == ["read"]  # what each connection did before


def test_the_stack_broker_calls_the_hooks_dramatiq_would_in_the_same_order(caplog: pytest.LogCaptureFixture) -> None:
    """StackBroker skips the hooks a middleware inherits from `Middleware`; what it calls, and how, is Dramatiq's."""
    from dramatiq import Message, Middleware
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.middleware import MiddlewareError

    from actors.broker import StackBroker

    def stack(calls: list[str]) -> list[Middleware]:
        class Quiet(Middleware):
            pass

        class Records(Middleware):
            def __init__(self, name: str) -> None:
                self.name = name

            def before_process_message(self, broker: object, message: object) -> None:
                calls.append(f"{self.name} before")

            def after_process_message(self, broker: object, message: object, *, result: object = None,
                                      exception: object = None) -> None:
                calls.append(f"{self.name} after {result}")

        class Breaks(Records):
            def before_process_message(self, broker: object, message: object) -> None:
                calls.append(f"{self.name} breaks")
                raise RuntimeError("a fault in a middleware")

        patched = Quiet()
        patched.before_ack = lambda broker, message: calls.append("patched ack")  # on the instance, not the class
        return [Records("a"), Quiet(), Breaks("b"), patched, Records("c")]

    message = Message(queue_name="default", actor_name="noop", args=(), kwargs={}, options={})
    url = "amqp://guest:guest@127.0.0.1:5672/"
    logs = {}
    for kind in (RabbitmqBroker, StackBroker):
        calls: list[str] = []
        broker = kind(url=url, middleware=stack(calls))
        caplog.clear()
        for _ in range(2):  # the second time from the cache
            broker.emit_before("process_message", message)
            broker.emit_after("process_message", message, result=7)
            broker.emit_before("ack", message)
            broker.emit_after("ack", message)
        late: list[str] = []
        broker.add_middleware(stack(late)[0])  # a change of the list is seen
        broker.emit_before("process_message", message)
        logged = [(r.levelname, r.getMessage().split(" of <")[0], r.exc_info is not None) for r in caplog.records]
        logs[kind.__name__] = (calls, late, logged)

        class Refuses(Middleware):
            def before_process_message(self, broker: object, message: object) -> None:
                raise MiddlewareError("refused")

        broker.middleware.insert(0, Refuses())
        with pytest.raises(MiddlewareError):
            broker.emit_before("process_message", message)
    assert logs["StackBroker"] == logs["RabbitmqBroker"]
    calls, late, logged = logs["StackBroker"]
    assert calls == ["a before", "b breaks", "c before", "c after 7", "b after 7", "a after 7", "patched ack"] * 2 + [
        "a before", "b breaks", "c before"]
    assert late == ["a before"]
    assert logged == [("CRITICAL", "Unexpected failure in before_process_message", True)] * 3
