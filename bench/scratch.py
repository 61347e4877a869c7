"""What one seed-workload run makes and removes: a database, two vhosts, Redis keys, a sandbox, processes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

from bench.processes import Processes, cpu_seconds, free_port
from tests.support import services

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SEARCH_PATH = "/ebay/buy/browse/v1/item_summary/search"
SNAPSHOTS_CHANNEL = "bench_snapshots"
PIPELINE_TABLES = ("price_observations, price_snapshots, snapshot_days, batches, batch_members, applied_messages, "
                   "runs, run_events, workers")
LISTINGS = "SELECT listing_id, minifigure_id, price, currency, condition, excluded_reason FROM price_observations"
SNAPSHOTS = ("SELECT minifigure_id, condition, currency, n, min_price, max_price, mean_price, median_price, p25_price, "
             "p75_price, excluded::text, excluded_total, thin FROM price_snapshots")


@dataclass(frozen=True)
class Clocked:
    seconds: float  # from the send to the snapshots' commit
    cpu: float  # CPU seconds of the workers (or of the plain client) meanwhile
    sandbox_cpu: float


@dataclass(frozen=True)
class Outcome:
    label: str
    clocked: Clocked
    searches: int  # Browse calls the sandbox answered
    listings: frozenset[tuple[Any, ...]] = frozenset()
    snapshots: frozenset[tuple[Any, ...]] = frozenset()
    note: str = ""


class Run:
    """The scratch services of one benchmark run and the processes it started."""

    def __init__(self, figures: int, catalog: str, latency_s: float) -> None:
        self.id = f"stonks_seedbench_{uuid.uuid4().hex[:8]}"
        self.figures = figures
        self.latency_s = latency_s
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.id}-"))
        self.sandbox = f"http://127.0.0.1:{free_port()}"
        self.libpq = f"postgresql://postgres@127.0.0.1:5432/{self.id}"
        self.celery_vhost = f"{self.id}_celery"
        self.env = {
            "PYTHONPATH": str(ROOT), "DATABASE_URL": self.libpq.replace("postgresql://", "postgresql+psycopg://"),
            "BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{self.id}", "REDIS_URL": REDIS_URL,
            "REDIS_NAMESPACE": self.id, "HISTORY_SPOOL_DIR": str(self.tmp / "spool"), "CATALOG_SOURCE": catalog,
            "EBAY_DAILY_QUOTA": "100000000", "BENCH_CELERY_KEY_PREFIX": f"{self.id}:",
            "BENCH_CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{self.celery_vhost}",
            "BRICKSET_API_BASE": f"{self.sandbox}/brickset/api/v3.asmx",
            "REBRICKABLE_API_BASE": f"{self.sandbox}/rebrickable/api/v3", "EBAY_API_BASE": f"{self.sandbox}/ebay",
            "BRICKLINK_API_BASE": f"{self.sandbox}/bricklink/api/store/v1",
        }
        from sandbox import SANDBOX_CREDENTIALS

        self.env.update({key.upper(): value for key, value in SANDBOX_CREDENTIALS.items()})
        self.processes = Processes(self.tmp, {**os.environ, **self.env})
        self.redis_keys: set[str] = set()  # the system's keys outside its namespace (see note_redis_keys)

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.libpq, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def sandbox_call(self, method: str, path: str, **body: Any) -> Any:
        return requests.request(method, f"{self.sandbox}/_sandbox{path}", json=body or None, timeout=30).json()

    def searches(self) -> int:
        return self.sandbox_call("GET", "/stats")["ebay"]["paths"].get(SEARCH_PATH, 0)

    def reset(self) -> None:
        """The catalog stays; everything the workload writes goes, and the sandbox forgets tokens and counts."""
        self.note_redis_keys()
        self.sql(f"TRUNCATE {PIPELINE_TABLES}")
        self.sql("UPDATE minifigures SET last_priced_at = NULL")
        self.sql("VACUUM ANALYZE")
        self.sql("CHECKPOINT")
        os.sync()  # the checkpoint's pages on disk now, not in the middle of the next run's commits
        self.sandbox_call("POST", "/reset")
        if self.latency_s:  # every search answered that much later, as a remote API would
            self.sandbox_call("POST", "/faults", service="ebay", kind="slow", count=None, delay_s=self.latency_s,
                              path_contains="item_summary/search")

    def note_redis_keys(self) -> None:
        """Dramatiq's group barriers and results (keyed by a hash) do not carry REDIS_NAMESPACE: find them by run."""
        if "actors" not in sys.modules:
            return
        from dramatiq import Message

        results = sys.modules["actors"].stack.results
        for queue, actor, message_id, group_id in self.sql("SELECT queue, actor, message_id, group_id FROM runs"):
            message = Message(queue_name=queue or "", actor_name=actor or "", args=(), kwargs={}, options={},
                              message_id=message_id)
            self.redis_keys.add(results.build_message_key(message))
            if group_id:
                self.redis_keys |= {group_id, f"{group_id}@events"}

    def notify_snapshots(self) -> None:
        """A notification at the commit of the snapshots (this scratch database only): the clock
        waits for it, where polling every few milliseconds took CPU from the side measured."""
        self.sql(f"""
            CREATE OR REPLACE FUNCTION bench_snapshots_written() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{SNAPSHOTS_CHANNEL}', ''); RETURN NULL; END $$;
            CREATE OR REPLACE TRIGGER bench_snapshots_written AFTER INSERT ON price_snapshots
            FOR EACH STATEMENT EXECUTE FUNCTION bench_snapshots_written();
        """)

    def wait_for_snapshots(self, conn: psycopg.Connection[Any], started: float, timeout: float = 600) -> float:
        """Seconds from `started` to the commit of the day's snapshots (both sides write them in one transaction)."""
        while time.perf_counter() - started < timeout:
            for _ in conn.notifies(timeout=0.5, stop_after=1):
                return time.perf_counter() - started
            if conn.execute("SELECT EXISTS (SELECT 1 FROM price_snapshots)").fetchone()[0]:  # written, not notified
                raise RuntimeError("snapshots written without a notification: is the trigger there?")
            self.processes.check()
        raise RuntimeError(f"no snapshot within {timeout} s; logs in {self.tmp}")

    def clock(self, workers: list[Any], send: Callable[[], object]) -> Clocked:
        """Send, wait for the snapshots; the wall time and the CPU the workers and the sandbox spent."""
        groups, sandbox = {w.pid for w in workers}, {self.processes.running["sandbox"].pid}
        with psycopg.connect(self.libpq, autocommit=True) as conn:
            conn.execute(f"LISTEN {SNAPSHOTS_CHANNEL}")
            cpu, sandbox_cpu = cpu_seconds(groups), cpu_seconds(sandbox)
            started = time.perf_counter()
            send()
            seconds = self.wait_for_snapshots(conn, started)
        return Clocked(seconds, cpu_seconds(groups) - cpu, cpu_seconds(sandbox) - sandbox_cpu)

    def outcome(self, label: str, clocked: Clocked, note: str = "") -> Outcome:
        return Outcome(label, clocked, self.searches(), frozenset(self.sql(LISTINGS)), frozenset(self.sql(SNAPSHOTS)),
                       note)


def start_sandbox(run: Run) -> None:
    port = run.sandbox.rsplit(":", 1)[1]
    run.processes.start("sandbox", [sys.executable, "-m", "sandbox", "--port", port,
                                    "--ebay-daily-limit", "1000000000", "--rebrickable-rate", "off"])
    deadline = time.monotonic() + 30
    while True:
        try:
            run.sandbox_call("GET", "")
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            run.processes.check()
            time.sleep(0.1)


def remove(run: Run) -> None:
    """Stop every process the run started, then drop what it made; safe after a failure at any point."""
    run.processes.stop_all()
    actors, celery = sys.modules.get("actors"), sys.modules.get("bench.celery_app")
    with suppress(Exception):  # a connection already gone: nothing to close
        if actors is not None:
            actors.stack.writer.close(timeout=5)  # this process's run history, before the database goes
            actors.broker.close()
        if celery is not None:
            celery.app.close()
    if "pipeline.db" in sys.modules:
        sys.modules["pipeline.db"].get_engine().dispose()
    with suppress(psycopg.Error):
        run.note_redis_keys()
    client = redis.Redis.from_url(REDIS_URL)
    for key in run.redis_keys:
        client.delete(key)
    client.close()
    services.delete_redis_namespace(REDIS_URL, run.id)
    services.drop_database(run.id)
    services.delete_vhost(run.id)
    services.delete_vhost(run.celery_vhost)
    shutil.rmtree(run.tmp, ignore_errors=True)
