"""The history sidecar: writes the run history that worker processes journal.

A worker process of the `dramatiq` command writes nothing to PostgreSQL itself. It
copies every event into a memory-mapped journal file (`Journal` in tail mode, see
`HistoryWriter.hand_over`), and the sidecar, a process the command forks next to the
workers, tails those files and writes their events in batches. Folding the events,
encoding the rows and the round trips then cost the workers nothing.

Reading a file that another process is writing is safe because a tailed journal is
never reused: it starts as zeros and the JSON lines hold no NUL byte, so everything
up to the first NUL that ends in a newline is a whole line. A file is done when its
last line is `END` (its process moved on or closed it) or its process is dead and
everything is read; it is deleted once its events are committed.

One sidecar writes for a host and database at a time: it holds an exclusive lock on
a file in the spool directory, and another (a second `dramatiq` command on the host)
waits for it. A sidecar that starts, or that retries after a failed write, cannot
know what its predecessor or its own lost commit wrote: those batches go through
`write_recovered`, which writes only the events the history lacks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pipeline.db import close_quietly, connected, libpq_dsn
from pipeline.history.events import RunEvent
from pipeline.history.journal import JOURNAL_SCAN_S, Journal, process_alive, spool_key
from pipeline.history.store import write_batch
from pipeline.sql.runs import write_events, write_recovered

logger = logging.getLogger(__name__)
READ_CHUNK = 1 << 16  # a poll mostly finds a few lines, then zeros: reading more only copies zeros


@dataclass
class _Tailed:
    path: Path
    pid: int
    fd: int
    offset: int = 0
    # Whether this sidecar has written all the file held when it came: a sidecar before it
    # may have written any of that, but nothing appended since (it held the lock till then).
    verified: bool = False


@dataclass
class _Read:
    file: _Tailed
    offset: int
    done: bool  # nothing will follow: the END line was read, or its dead process's last line
    drained: bool  # the read reached the end of what the file held


def lock_path(spool_dir: Path, key: str) -> Path:
    return spool_dir / f"sidecar-{key}-{socket.gethostname()}.lock"


def sidecar_running(spool_dir: Path, key: str) -> bool:
    """Whether a sidecar holds the lock of this host and database (a waiting one does not)."""
    try:
        fd = os.open(lock_path(spool_dir, key), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a shared lock taken here
    return False


class HistoryTail:
    """Tails this host's tailed journals for one database and writes their events."""

    def __init__(self, dsn: str, spool_dir: Path, *, batch_size: int = 2000, poll_s: float = 0.1,
                 scan_s: float = 0.25) -> None:
        self.dsn = libpq_dsn(dsn)
        self.spool_dir = spool_dir
        self.key = spool_key(self.dsn)  # the writers' names for this database's files
        self.prefix = Journal(spool_dir, self.key, tail=True).prefix
        self._outcomes = Journal(spool_dir, self.key)  # recovers journals of thread-mode processes
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.scan_s = scan_s
        self._files: dict[Path, _Tailed] = {}
        self._conn: psycopg.Connection[Any] | None = None
        self._doubt = False  # a write failed: the next one must not assume it did not commit
        self.written = 0

    # --- the lock: one writer per host and database ---------------------------------

    def _acquire(self, stop: threading.Event) -> int | None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = lock_path(self.spool_dir, self.key)
        waited = False
        while not stop.is_set():
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if not waited:
                    logger.info("run history: another sidecar writes for this host and database; waiting")
                    waited = True
                stop.wait(0.5)
                continue
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                return fd
            os.close(fd)  # the holder before removed this file as it left: lock the new one
        return None

    def _release(self, fd: int) -> None:
        """Remove the lock file, then unlock: a sidecar that locked the removed file retries."""
        lock_path(self.spool_dir, self.key).unlink(missing_ok=True)
        os.close(fd)

    # --- reading ---------------------------------------------------------------------

    def _scan(self) -> None:
        for path in self.spool_dir.glob(f"{self.prefix}*.jsonl"):
            if path not in self._files:
                try:
                    pid = int(path.name[len(self.prefix):].split("-")[0])
                    fd = os.open(path, os.O_RDONLY)
                except (ValueError, OSError):
                    continue
                self._files[path] = _Tailed(path, pid, fd)

    def _read(self) -> tuple[list[RunEvent], list[_Read]]:
        """New whole lines from every file, up to a batch; offsets move only once written."""
        events: list[RunEvent] = []
        reads: list[_Read] = []
        for file in sorted(self._files.values(), key=lambda f: f.path.name):
            if len(events) >= self.batch_size:
                break
            # Whether the process is gone is decided before reading: it cannot add lines after.
            dead = not process_alive(file.pid)
            offset, ended, drained = self._read_file(file, events)
            reads.append(_Read(file, offset, ended or (dead and drained), ended or drained))
        return events, reads

    def _read_file(self, file: _Tailed, events: list[RunEvent]) -> tuple[int, bool, bool]:
        """(new offset, END read, everything there was read) for one file."""
        offset = file.offset
        while len(events) < self.batch_size:
            chunk = os.pread(file.fd, READ_CHUNK, offset)
            nul = chunk.find(b"\0")
            whole = chunk if nul < 0 else chunk[:nul]
            end = whole.rfind(b"\n") + 1
            for line in whole[:end].splitlines():
                if line == Journal.END.rstrip():
                    return offset + end, True, True
                try:
                    events.append(RunEvent.from_json(line.decode("utf-8", "replace")))
                except (ValueError, TypeError, KeyError):
                    logger.warning("run history: unreadable line in %s skipped", file.path.name)
            offset += end
            if len(whole) < len(chunk) or len(chunk) < READ_CHUNK:
                if end < len(whole):
                    logger.debug("run history: %s ends in a partial line", file.path.name)
                return offset, False, True
        return offset, False, False

    # --- writing ---------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        self._conn = connected(self._conn, self.dsn)
        return self._conn

    def step(self) -> bool:
        """Write what is new; True if anything was read or a file finished."""
        events, reads = self._read()
        if events:
            conn = self._connection()
            # Lines of a file this sidecar has not yet read through may be written already.
            unsure = self._doubt or any(not r.file.verified for r in reads if r.offset != r.file.offset)
            write_batch(conn, events, self.spool_dir, self.key, write_recovered if unsure else write_events)
            self.written += len(events)
        self._doubt = False
        moved = bool(events)
        for r in reads:
            r.file.offset, r.file.verified = r.offset, r.file.verified or r.drained
            if r.done:
                self._forget(r.file)
                moved = True
        return moved

    def _forget(self, file: _Tailed) -> None:
        os.close(file.fd)
        file.path.unlink(missing_ok=True)
        del self._files[file.path]

    def _recover_outcomes(self) -> None:
        recovered = self._outcomes.recover()
        if recovered:
            write_recovered(self._connection(), recovered)

    # --- the loop --------------------------------------------------------------------

    def run(self, stop: threading.Event, *, outage_grace_s: float = 10.0) -> None:
        """Write until `stop` is set and the processes alive then have finished their files.

        A worker finishes its messages after the stop signal, so their outcomes are
        waited for. If PostgreSQL stays unreachable for `outage_grace_s` after the
        stop, the files stay on disk for the next sidecar: nothing is lost either way.
        """
        lock = self._acquire(stop)
        if lock is None:
            return
        logger.info("run history: sidecar %d writes the workers' history", os.getpid())
        backoff, failing_since, next_scan, next_recovery = 0.2, None, 0.0, 0.0
        waiting_for: set[int] | None = None
        try:
            while True:
                now = time.monotonic()
                if now >= next_scan:
                    self._scan()
                    next_scan = now + self.scan_s
                if stop.is_set() and waiting_for is None:
                    self._scan()
                    waiting_for = {f.pid for f in self._files.values() if process_alive(f.pid)} - {os.getpid()}
                    logger.info("run history: sidecar stopping once %d worker processes are done",
                                len(waiting_for))
                try:
                    if now >= next_recovery:
                        self._recover_outcomes()
                        next_recovery = now + JOURNAL_SCAN_S
                    moved = self.step()
                except (psycopg.Error, OSError) as exc:
                    close_quietly(self._conn)
                    self._conn = None
                    self._doubt = True
                    if failing_since is None:
                        failing_since = now
                        logger.warning("run history: database unreachable, the journals hold the events: %s", exc)
                    if waiting_for is not None and now - failing_since > outage_grace_s:
                        logger.warning("run history: sidecar stops with %d journals unwritten; "
                                       "the next sidecar writes them", len(self._files))
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if failing_since is not None:
                    logger.info("run history: database back, catching up")
                    failing_since, backoff = None, 0.2
                if moved:
                    continue
                # Files left are of processes started after the stop (a reload's): the next sidecar's.
                if waiting_for is not None and all(f.pid not in waiting_for and process_alive(f.pid)
                                                   for f in self._files.values()):
                    return
                time.sleep(self.poll_s)
        finally:
            for file in list(self._files.values()):
                os.close(file.fd)
            self._files.clear()
            close_quietly(self._conn)
            self._conn = None
            self._release(lock)


def sidecar_main() -> int:
    """The `dramatiq` command forks this next to its workers (`RunHistory.forks`): it writes their history."""
    from pipeline.settings import get_settings

    settings = get_settings()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        # The first signal starts the stop: the workers' last outcomes are still to come.
        # The command's own exit sends another, which changes nothing.
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    serve(settings.database_url, Path(settings.history_spool_dir), stop)
    return 0


def serve(dsn: str, spool_dir: Path, stop: threading.Event, restart_s: float = 5.0) -> None:
    """Run a sidecar until `stop`; one that fails on something unforeseen starts again.

    Nothing restarts the process itself, and the workers would journal on with no
    one to write: a fault in the writing must not end it. The lock is released on
    the way out and taken again, and the new sidecar reads every file from its
    start, writing only what the history lacks.
    """
    while True:
        try:
            HistoryTail(dsn, spool_dir).run(stop)
            return
        except Exception:
            logger.exception("run history: the sidecar failed; it starts again in %.0f s", restart_s)
            if stop.wait(restart_s):
                return
