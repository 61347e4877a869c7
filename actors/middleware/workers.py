"""Worker-side middleware: start-up checks and heartbeats."""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
from typing import Any

import psycopg
from dramatiq.middleware import Middleware, MiddlewareError
from dramatiq.middleware.time_limit import TimeLimit

from actors.middleware.history import RunHistory, worker_id
from pipeline.clock import utcnow
from pipeline.db import close_quietly, libpq_dsn
from pipeline.ops.workers import HEARTBEAT_S
from pipeline.sql import workers

logger = logging.getLogger(__name__)


# A worker process that refuses its configuration exits with this code, dramatiq's own
# for "invalid command line argument": starting it again cannot help, so `stonks up`
# stops instead of restarting it (and a systemd unit can say RestartPreventExitStatus=2).
REFUSED_EXIT = 2


class ConfigurationError(MiddlewareError):
    """A configuration the worker refuses to start with.

    Dramatiq logs any other exception raised in a `before_worker_boot` hook and boots
    anyway; a MiddlewareError is the one it lets through.
    """


def check_time_limits(broker: Any, consumer_timeout_ms: int) -> None:
    """Refuse actors whose time limit exceeds RabbitMQ's consumer timeout.

    RabbitMQ closes the channel of a consumer that holds a message longer than
    its consumer timeout, and the message is delivered again: a long task runs twice.
    """
    default = next((m.time_limit for m in broker.middleware if isinstance(m, TimeLimit)), 600_000)
    too_long = [
        f"{name} (time_limit={actor.options.get('time_limit', default)} ms)"
        for name, actor in sorted(broker.actors.items())
        if actor.options.get("time_limit", default) >= consumer_timeout_ms
    ]
    if too_long:
        raise ConfigurationError(
            f"actor time limit must be below RabbitMQ's consumer timeout ({consumer_timeout_ms} ms, "
            f"setting RABBITMQ_CONSUMER_TIMEOUT_MS): {', '.join(too_long)}"
        )


def check_schema() -> None:
    """Refuse a database whose schema is behind the code's (or missing): every message would fail.

    A database that does not answer yet is not refused: its messages retry until it does.
    A schema ahead of the code (a newer release migrated it) is let through with a warning,
    so that a rolling upgrade can restart the workers it has not replaced yet.
    """
    from sqlalchemy.exc import OperationalError

    from pipeline import db

    try:
        current = db.current_revision()
    except OperationalError as exc:
        logger.warning("the database does not answer at start (%s); messages retry until it does",
                       str(exc.orig or exc).strip().splitlines()[0])
        return
    head = db.head_revision()
    if current == head:
        return
    if current is not None and not db.known_revision(current):
        logger.warning("the database's schema (%s) is newer than this code's (%s)", current, head)
        return
    raise ConfigurationError(f"the database's schema is at {current or 'nothing'}, this code needs {head}: "
                             "run `stonks db upgrade` first")


class StartupChecks(Middleware):
    """Checks a worker process makes before it consumes anything; it exits with REFUSED_EXIT on a refusal."""

    def __init__(self, consumer_timeout_ms: int) -> None:
        self.consumer_timeout_ms = consumer_timeout_ms

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        try:
            check_time_limits(broker, self.consumer_timeout_ms)
            check_schema()
        except ConfigurationError as exc:
            logger.critical("worker refuses to start: %s", exc)
            raise SystemExit(REFUSED_EXIT) from exc


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(statm: int | None = None) -> int:
    """This process's resident memory. `statm`, a descriptor of its /proc/PID/statm kept open,
    is read again in place: 0.6 us, where opening the file costs 9."""
    try:
        if statm is None:
            with open(f"/proc/{os.getpid()}/statm", "rb") as f:
                text = f.read()
        else:
            text = os.pread(statm, 200, 0)
        return int(text.split()[1]) * PAGE_SIZE // 2**20
    except (OSError, IndexError, ValueError):
        if statm is not None:
            return rss_mb()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class Heartbeats(Middleware):
    """Each worker process writes a heartbeat row every few seconds."""

    def __init__(self, dsn: str, history: RunHistory, interval_s: float = HEARTBEAT_S) -> None:
        self.dsn = libpq_dsn(dsn)
        self.history = history
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = utcnow()
        self._queues: list[str] = []
        self._conn: psycopg.Connection[Any] | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._started_at = utcnow()
        self._queues = sorted(worker.consumer_whitelist or broker.get_declared_queues())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._beat(stopped=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._beat(stopped=False)
            self._stop.wait(self.interval_s)

    def _beat(self, *, stopped: bool) -> None:
        state = self.history.snapshot()
        try:
            if self._conn is None or self._conn.closed:  # one connection for the process, not one a beat
                self._conn = psycopg.connect(self.dsn, connect_timeout=3, autocommit=True)
            workers.write_heartbeat(
                self._conn, worker_id=worker_id(), hostname=socket.gethostname(), pid=os.getpid(),
                queues=self._queues, started_at=self._started_at, stopped_at=utcnow() if stopped else None,
                in_flight=state["in_flight"], processed=state["processed"], failed=state["failed"], rss_mb=rss_mb())
        except psycopg.Error as exc:
            logger.warning("heartbeat not written: %s", exc)
            self._close()
        if stopped:
            self._close()

    def _close(self) -> None:
        close_quietly(self._conn)
        self._conn = None
