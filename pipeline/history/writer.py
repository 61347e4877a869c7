"""The history writer: buffers a process's run events and writes them in the background.

Events are buffered in memory and written by a background thread in batches. If
PostgreSQL is unreachable, the buffer holds them and the writer retries; events
still unwritten when the process stops are spooled to a local file and replayed
by the next process. If the buffer overflows, the oldest events are dropped and
a `history_gap` event records how many, so a gap is visible rather than silent.
A worker process of the `dramatiq` command hands its events over to the history
sidecar instead (`hand_over`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import psycopg

from pipeline.db import close_quietly, connected, libpq_dsn
from pipeline.history.events import RunEvent
from pipeline.history.journal import JOURNAL_SCAN_S, Journal, claim_file, spool_key
from pipeline.history.store import write_batch
from pipeline.sql.runs import write_recovered

logger = logging.getLogger(__name__)

SIDECAR_START_S = 30.0  # how long a worker that handed its history over waits for the sidecar to start
SIDECAR_WATCH_S = 10.0  # how often such a worker looks whether a sidecar runs


class HistoryWriter:
    """Buffers events and writes them from a background thread, never blocking callers."""

    def __init__(
        self,
        dsn: str,
        *,
        spool_dir: Path | None = None,
        max_buffer: int = 100_000,
        batch_size: int = 500,
        linger_s: float = 0.02,
    ) -> None:
        self.dsn = libpq_dsn(dsn)
        self.spool_dir = spool_dir
        self.key = spool_key(self.dsn)
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        # A short wait for more events before a write: fewer, larger transactions when
        # messages are many, at the cost of history trailing the work by this much.
        self.linger_s = linger_s
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._buffer: deque[RunEvent] = deque()
        self._recovered: list[RunEvent] = []
        self._next_scan = 0.0  # when to look for journals of processes that died
        self._journal = Journal(self.spool_dir, self.key) if self.spool_dir is not None else None
        self._tail: Journal | None = None  # set: the history sidecar writes this process's events
        self._handed_at = 0.0
        self._watching = threading.Event()  # set: the watch on the sidecar ends
        self._watch: threading.Thread | None = None
        self.writes_for_sidecar = False  # no sidecar ran, and this process writes in its stead
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._head = 0  # sequence number of the buffer's first event
        self.dropped = 0
        self.written = 0
        self.outage_since: float | None = None

    def hand_over(self) -> bool:
        """From now on, journal every event for the history sidecar instead of writing it here.

        A worker process of the `dramatiq` command does this at boot: the command also
        runs the sidecar (pipeline.history.sidecar), so the folding, the JSON and the
        database round trips leave the worker's GIL. Each event then costs this process
        one encode and one copy into a memory-mapped file, and survives its death.
        """
        if os.getpid() != self._pid:
            self._reset()
        if self.spool_dir is None:
            return False
        with self._lock:
            self._tail = Journal(self.spool_dir, self.key, tail=True)
            self._handed_at = time.monotonic()
        self._watch = threading.Thread(target=self._watch_sidecar, name="history-sidecar-watch", daemon=True)
        self._watch.start()
        return True

    def _watch_sidecar(self) -> None:
        """If no sidecar runs (it was killed: nothing forks it again), write in its stead.

        Every worker process watches; the lock lets one of them write, for all of them,
        until it stops. Nothing was lost meanwhile: the events waited in the journals.
        """
        from pipeline.history.sidecar import serve, sidecar_running

        while not self._watching.wait(SIDECAR_WATCH_S):
            if self._tail is None or self.spool_dir is None:
                return
            if time.monotonic() - self._handed_at < SIDECAR_START_S or sidecar_running(self.spool_dir, self.key):
                continue
            logger.warning("run history: no sidecar runs for this host and database; worker %d takes its place "
                           "if no other worker has", os.getpid())
            self.writes_for_sidecar = True
            serve(self.dsn, self.spool_dir, self._watching)
            return

    def state(self) -> dict[str, Any]:
        """How this process's history gets written, for the health check: `ok` if it does."""
        if self._tail is not None and self.spool_dir is not None:
            from pipeline.history.sidecar import sidecar_running

            running = sidecar_running(self.spool_dir, self.key)
            # `dramatiq` forks the sidecar once every worker process has booted: give it time.
            starting = not running and time.monotonic() - self._handed_at < SIDECAR_START_S
            state: dict[str, Any] = {"ok": running or starting, "writer": "sidecar", "sidecar_running": running}
            if self.writes_for_sidecar:
                state["note"] = "the sidecar is gone: a worker process writes the history in its stead"
            if starting:
                state["note"] = "the sidecar is starting"
            elif not running:
                state["error"] = ("no history sidecar runs for this host and database: the events wait in "
                                  f"journal files in {self.spool_dir} until a worker process takes its place "
                                  f"(within {SIDECAR_WATCH_S:.0f} s) or the worker restarts")
            return state
        with self._lock:
            state = {"ok": self.outage_since is None, "writer": "thread", "unwritten": len(self._buffer),
                     "dropped": self.dropped}
        if self.outage_since is not None:
            state["error"] = f"database unreachable for {time.monotonic() - self.outage_since:.0f} s; buffering"
        return state

    def record(self, event: RunEvent, *, durable: bool = False) -> None:
        """Buffer `event` for writing; a `durable` one (an outcome) goes to the journal first."""
        if os.getpid() != self._pid:  # forked: the parent's thread did not come along
            self._reset()
        if self._tail is not None:
            with self._lock:
                try:
                    self._tail.append(event, 0)
                    return
                except (OSError, ValueError) as exc:
                    logger.warning("run history: journal not writable (%s); this process writes its own", exc)
                    self._tail = None
        with self._lock:
            if len(self._buffer) >= self.max_buffer:
                self._buffer.popleft()
                self._head += 1
                self.dropped += 1
            self._buffer.append(event)
            first = len(self._buffer) == 1
            self._idle.clear()
            if self._thread is None:
                self._start()
            if durable and self._journal is not None:
                try:
                    self._journal.append(event, self._head + len(self._buffer) - 1)
                except OSError as exc:
                    logger.warning("run history: journal not writable (%s); outcomes are in memory only", exc)
                    self._journal = None
        if first:  # the writer drains the buffer to empty before it waits again
            self._wake.set()

    def _start(self) -> None:
        self._replay_spool()
        if self._journal is not None:
            self._recovered = self._journal.recover()
            self._next_scan = time.monotonic() + JOURNAL_SCAN_S
        self._thread = threading.Thread(target=self._run, name="run-history", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        backoff = 0.2
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self.linger_s and not self._stop and 0 < len(self._buffer) < self.batch_size:
                time.sleep(self.linger_s)
            if self._journal is not None and time.monotonic() >= self._next_scan:
                # Another process of this host may have died since: take over what it left.
                self._next_scan = time.monotonic() + JOURNAL_SCAN_S
                with self._lock:
                    self._recovered += self._journal.recover()
            while True:
                with self._lock:
                    batch = [self._buffer[i] for i in range(min(self.batch_size, len(self._buffer)))]
                    batch_end = self._head + len(batch)
                    gap = self.dropped
                if not batch and not gap and not self._recovered:
                    self._idle.set()
                    break
                try:
                    if self._recovered:
                        self._write_recovered()
                    self._write(batch, gap)
                except (psycopg.Error, OSError) as exc:
                    self._close_conn()
                    if self.outage_since is None:
                        self.outage_since = time.monotonic()
                        logger.warning("run history: database unreachable, buffering: %s", exc)
                    if self._stop:
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.2
                if self.outage_since is not None:
                    logger.info("run history: database back, catching up")
                    self.outage_since = None
                with self._lock:
                    while self._head < batch_end and self._buffer:
                        self._buffer.popleft()
                        self._head += 1
                    self.dropped -= gap
                    self.written += len(batch)
                    if self._journal is not None:
                        self._journal.settled(self._head, drained=not self._buffer)
            if self._stop:
                return

    def _connection(self) -> psycopg.Connection[Any]:
        self._conn = connected(self._conn, self.dsn)
        return self._conn

    def _write_recovered(self) -> None:
        written = write_recovered(self._connection(), self._recovered)
        logger.info("run history: %d of %d recovered outcomes were missing and are written",
                    written, len(self._recovered))
        self._recovered = []

    def _write(self, batch: list[RunEvent], gap: int) -> None:
        events = list(batch)
        if gap:
            events.append(RunEvent("-", "history_gap", None, data={"dropped_events": gap}))
        if events:
            write_batch(self._connection(), events, self.spool_dir, self.key)

    def _close_conn(self) -> None:
        close_quietly(self._conn)
        self._conn = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every recorded event is written; False if time ran out."""
        if self._thread is None or os.getpid() != self._pid:
            return True
        self._wake.set()
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if os.getpid() != self._pid:
            return
        with self._lock:
            if self._tail is not None:
                self._tail.finish()
                self._tail = None
        self._watching.set()
        if self._watch is not None and self._watch is not threading.current_thread():
            # Writing in the sidecar's stead, it finishes what the other workers wrote.
            self._watch.join(timeout=max(timeout, 30.0))
        if self._thread is None:
            return
        flushed = self.flush(timeout)
        self._stop = True
        self._wake.set()
        if not flushed:
            self._spool()
        with self._lock:
            if self._journal is not None:  # everything is written, or in the spool now
                self._journal.discard()
        self._close_conn()

    def _spool(self) -> None:
        with self._lock:
            pending = self._recovered + list(self._buffer)
            self._buffer.clear()
            self._recovered = []
        if not pending or self.spool_dir is None:
            if pending:
                logger.error("run history: %d events could not be written and no spool is set", len(pending))
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"history-{self.key}-{os.getpid()}-{time.time_ns()}.jsonl"
        path.write_text("".join(e.to_json() + "\n" for e in pending))
        logger.warning("run history: spooled %d unwritten events to %s", len(pending), path)

    def _replay_spool(self) -> None:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob(f"history-{self.key}-*.jsonl")):
            text = claim_file(path)
            if text is None:
                continue
            events = [RunEvent.from_json(line) for line in text.splitlines() if line]
            self._buffer.extendleft(reversed(events))
            logger.info("run history: replaying %d spooled events from %s", len(events), path.name)

