"""Run history: every message's life, written to PostgreSQL without blocking the message.

Events are buffered in memory and written by a background thread in batches. If
PostgreSQL is unreachable, the buffer holds them and the writer retries; events
still unwritten when the process stops are spooled to a local file and replayed
by the next process. If the buffer overflows, the oldest events are dropped and
a `history_gap` event records how many, so a gap is visible rather than silent.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import math
import mmap
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import psycopg.conninfo

logger = logging.getLogger(__name__)

TERMINAL = ("succeeded", "partially_failed", "failed", "dead_lettered", "skipped", "cancelled")
STATUSES = ("enqueued", "delayed", "running", "retrying", *TERMINAL)
MAX_RESULT_BYTES = 4096
JOURNAL_SCAN_S = 10.0  # how often a writer looks for journals that dead processes left
SIDECAR_START_S = 30.0  # how long a worker that handed its history over waits for the sidecar to start
SIDECAR_WATCH_S = 10.0  # how often such a worker looks whether a sidecar runs


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunEvent:
    """One thing that happened to a message. `status` is None for events that keep it."""

    message_id: str
    event: str
    status: str | None
    at: datetime = field(default_factory=utcnow)
    actor: str | None = None
    queue: str | None = None
    args: Any = None
    kwargs: Any = None
    options: Any = None
    attempt: int | None = None
    retries: int | None = None
    worker: str | None = None
    error: str | None = None
    traceback: str | None = None
    result: Any = None
    duration_ms: int | None = None
    group_id: str | None = None
    parent_id: str | None = None
    schedule_name: str | None = None
    scheduled_for: datetime | None = None
    progress_done: int | None = None
    progress_total: int | None = None
    data: Any = None

    def _raw(self) -> dict[str, Any]:
        # The fields that are set: a line half as long, and None is the default on reading.
        raw = {name: value for name, value in self.__dict__.items() if value is not None}
        raw["at"] = self.at.isoformat()
        if self.scheduled_for is not None:
            raw["scheduled_for"] = self.scheduled_for.isoformat()
        return raw

    def to_json(self) -> str:
        return json.dumps(self._raw(), default=str)

    def to_line(self) -> bytes:
        """The event as one line of UTF-8 JSON, newline included: the journals' format.

        orjson takes a tenth of json's time, which every message pays twice in the
        worker. Where the two would differ, json writes the line: orjson writes NaN
        and infinities as null (so any null sends the line to json, and the event's
        own unset fields are left out to keep nulls rare), and refuses what json
        accepts otherwise (integers beyond 64 bits, keys that are not strings, lone
        surrogates). Nested datetimes go through `str`, as json's `default` has them.
        """
        raw = self._raw()
        try:
            line = orjson.dumps(raw, default=str, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            line = b"null"
        if b"null" in line:
            line = json.dumps(raw, default=str).encode("ascii")
        return line + b"\n"

    @classmethod
    def from_json(cls, line: str | bytes) -> RunEvent:
        # json's lines (and those of earlier versions) are read by json: orjson would
        # read their NaN as an error and an integer beyond 64 bits as a float.
        raw = None
        if not line.startswith(_JSON_LEAD.encode() if isinstance(line, bytes) else _JSON_LEAD):
            with contextlib.suppress(orjson.JSONDecodeError):  # not UTF-8: json reads what replacing leaves
                raw = orjson.loads(line)
        if raw is None:
            raw = json.loads(line.decode("utf-8", "replace") if isinstance(line, bytes) else line)
        if not isinstance(raw, dict):
            raise ValueError(f"a run event is a JSON object, not {type(raw).__name__}")
        raw["at"] = datetime.fromisoformat(raw["at"])
        raw.setdefault("status", None)  # left out when unset, like every other field
        if raw.get("scheduled_for") is not None:
            raw["scheduled_for"] = datetime.fromisoformat(raw["scheduled_for"])
        return cls(**raw)


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_JSON_LEAD = '{"message_id": '  # json's separators have spaces, orjson's none


def small_result(value: Any) -> Any:
    """The result as stored in history: JSON, and small."""
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, str) and len(value) < 1000):
        return value
    try:
        encoded = json.dumps(value, default=str)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:MAX_RESULT_BYTES]}
    if len(encoded) > MAX_RESULT_BYTES:
        return {"truncated": True, "preview": encoded[:MAX_RESULT_BYTES]}
    return json.loads(encoded)



# One statement upserts a batch of runs, each row folding that message's events.
# A status only moves forward in time, and an "enqueued" never overwrites a later
# state (the producer's event can arrive after the worker's); a requeue is the one
# event that may reopen a run. Rows arrive as one JSON document (one encode, one
# parameter) and are taken in message-id order, so concurrent writers lock rows
# in the same order.
_RUN_ROWS = """
    message_id text, actor text, queue text, status text, at timestamptz, args jsonb, kwargs jsonb,
    options jsonb, enqueued_at timestamptz, started_at timestamptz, finished_at timestamptz,
    attempt_inc int, retries int, worker text, duration_ms int, result jsonb, error text,
    traceback text, group_id text, parent_id text, schedule_name text, scheduled_for timestamptz,
    progress_done int, progress_total int
"""

_UPSERT_RUNS = f"""
INSERT INTO runs AS r (message_id, actor, queue, status, status_at, args, kwargs, options,
    enqueued_at, started_at, finished_at, attempts, retries, worker, duration_ms, result,
    error, traceback, group_id, parent_id, schedule_name, scheduled_for,
    progress_done, progress_total, updated_at)
SELECT e.message_id, e.actor, e.queue, COALESCE(e.status, 'running'), e.at, e.args, e.kwargs,
    e.options, e.enqueued_at, e.started_at, e.finished_at, e.attempt_inc, COALESCE(e.retries, 0),
    e.worker, e.duration_ms, e.result, e.error, e.traceback, e.group_id, e.parent_id,
    e.schedule_name, e.scheduled_for, e.progress_done, e.progress_total, now()
FROM jsonb_to_recordset(%s::jsonb) AS e({_RUN_ROWS})
ORDER BY e.message_id
ON CONFLICT (message_id) DO UPDATE SET
    actor = COALESCE(r.actor, EXCLUDED.actor),
    queue = COALESCE(r.queue, EXCLUDED.queue),
    args = COALESCE(r.args, EXCLUDED.args),
    kwargs = COALESCE(r.kwargs, EXCLUDED.kwargs),
    options = COALESCE(r.options, EXCLUDED.options),
    status = CASE WHEN %(moves)s THEN EXCLUDED.status ELSE r.status END,
    status_at = CASE WHEN %(moves)s THEN EXCLUDED.status_at ELSE r.status_at END,
    enqueued_at = LEAST(r.enqueued_at, EXCLUDED.enqueued_at),
    started_at = COALESCE(EXCLUDED.started_at, r.started_at),
    finished_at = CASE WHEN %(moves)s AND %(reopens)s THEN NULL
                       ELSE COALESCE(EXCLUDED.finished_at, r.finished_at) END,
    attempts = r.attempts + EXCLUDED.attempts,
    retries = GREATEST(r.retries, EXCLUDED.retries),
    worker = COALESCE(EXCLUDED.worker, r.worker),
    duration_ms = COALESCE(EXCLUDED.duration_ms, r.duration_ms),
    result = COALESCE(EXCLUDED.result, r.result),
    error = CASE WHEN %(moves)s AND %(reopens)s THEN r.error ELSE COALESCE(EXCLUDED.error, r.error) END,
    traceback = COALESCE(EXCLUDED.traceback, r.traceback),
    group_id = COALESCE(r.group_id, EXCLUDED.group_id),
    parent_id = COALESCE(r.parent_id, EXCLUDED.parent_id),
    schedule_name = COALESCE(r.schedule_name, EXCLUDED.schedule_name),
    scheduled_for = COALESCE(r.scheduled_for, EXCLUDED.scheduled_for),
    progress_done = COALESCE(EXCLUDED.progress_done, r.progress_done),
    progress_total = COALESCE(EXCLUDED.progress_total, r.progress_total),
    updated_at = now()
"""

# How a folded row may move the run's status, and the statement for each way. Any
# later state moves a run that is still "enqueued", whatever the clocks say: the
# producer's and the worker's clocks can disagree, and the producer's event can
# reach the history after a fast worker's.
_MOVES = {
    "keeps": ("FALSE", "FALSE"),
    "forward": ("(r.status = 'enqueued' OR EXCLUDED.status_at >= r.status_at)", "FALSE"),
    "reopens": ("TRUE", "TRUE"),
}
_UPSERTS = {mode: _UPSERT_RUNS.replace("%(moves)s", moves).replace("%(reopens)s", reopens)
            for mode, (moves, reopens) in _MOVES.items()}


def _params(event: RunEvent) -> dict[str, Any]:
    return {
        "message_id": event.message_id,
        "status": event.status,
        "at": event.at,
        "actor": event.actor,
        "queue": event.queue,
        "args": event.args,
        "kwargs": event.kwargs,
        "options": event.options,
        "enqueued_at": event.at if event.event in ("enqueued", "delayed") else None,
        "started_at": event.at if event.event == "running" else None,
        "finished_at": event.at if event.status in TERMINAL else None,
        "attempt_inc": 1 if event.event == "running" else 0,
        "retries": event.retries,
        "worker": event.worker,
        "duration_ms": event.duration_ms,
        "result": event.result,
        "error": event.error,
        "traceback": event.traceback,
        "group_id": event.group_id,
        "parent_id": event.parent_id,
        "schedule_name": event.schedule_name,
        "scheduled_for": event.scheduled_for,
        "progress_done": event.progress_done,
        "progress_total": event.progress_total,
    }


_FIRST_WINS = ("actor", "queue", "args", "kwargs", "options", "group_id", "parent_id", "schedule_name",
               "scheduled_for")
_LAST_WINS = ("started_at", "finished_at", "worker", "duration_ms", "result", "error", "traceback",
              "progress_done", "progress_total")


def _segments(events: list[RunEvent]) -> list[list[list[RunEvent]]]:
    """Rounds of per-message runs of consecutive events: a message appears once per round.

    A requeue, which reopens a run, stands alone, so a message that was requeued has
    segments in later rounds; most batches are a single round.
    """
    by_message: dict[str, list[list[RunEvent]]] = {}
    for event in events:
        if event.message_id == "-":
            continue
        segments = by_message.setdefault(event.message_id, [[]])
        alone = event.event == "requeued"
        if segments[-1] and (alone or segments[-1][-1].event == "requeued"):
            segments.append([])
        segments[-1].append(event)
    rounds: list[list[list[RunEvent]]] = []
    for segments in by_message.values():
        for depth, segment in enumerate(segments):
            if depth == len(rounds):
                rounds.append([])
            rounds[depth].append(segment)
    return rounds


def _fold(segment: list[RunEvent]) -> tuple[str, dict[str, Any]]:
    """The row, and the way it moves the status, that applies the segment's events in order."""
    first = segment[0]
    params = _params(first)
    moving = first.status is not None and first.status != "enqueued"
    for event in segment[1:]:
        more = _params(event)
        for key in _FIRST_WINS:
            if params[key] is None:
                params[key] = more[key]
        for key in _LAST_WINS:
            if more[key] is not None:
                params[key] = more[key]
        if more["enqueued_at"] is not None:
            params["enqueued_at"] = min(filter(None, (params["enqueued_at"], more["enqueued_at"])))
        params["attempt_inc"] += more["attempt_inc"]
        params["retries"] = max(filter(lambda v: v is not None, (params["retries"], more["retries"])), default=None)
        if event.status is not None and event.status != "enqueued":
            params["status"], params["at"], moving = event.status, event.at, True
        elif event.status == "enqueued" and params["status"] is None:
            params["status"], params["at"] = "enqueued", event.at
    if first.event == "requeued":
        return "reopens", params
    return ("forward" if moving else "keeps"), params


def to_json(value: Any) -> str:
    """JSON PostgreSQL accepts: no NaN or infinities, no NUL characters, anything else as text."""
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        text = None
    if text is None or "\\u0000" in text:
        text = json.dumps(_storable(value), default=str, allow_nan=False)
    return text


def _storable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    if isinstance(value, (int, bool, type(None))):
        return value
    return _storable(str(value))


def _text(value: str | None) -> str | None:
    return value.replace("\x00", "") if value and "\x00" in value else value


_COPY_EVENTS = "COPY run_events (message_id, event, at, attempt, worker, error, traceback, data) FROM STDIN"


def write_events(conn: psycopg.Connection[Any], events: list[RunEvent]) -> None:
    """Write a batch in one transaction: events by COPY, runs by one upsert per round and kind."""
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(_COPY_EVENTS) as copy:
            for e in events:
                data = None if e.data is None else to_json(e.data)
                copy.write_row((e.message_id, e.event, e.at, e.attempt, e.worker, _text(e.error),
                                _text(e.traceback), data))
        for segments in _segments(events):
            rows: dict[str, list[dict[str, Any]]] = {}
            for segment in segments:
                mode, row = _fold(segment)
                rows.setdefault(mode, []).append(row)
            for mode, batch in rows.items():
                cur.execute(_UPSERTS[mode], (to_json(batch),))


# What the database says of a value it cannot store: the same on every retry. Anything
# else (a lost connection, a server shutting down) is worth retrying.
REFUSALS = (psycopg.DataError, psycopg.IntegrityError)
Write = Callable[[psycopg.Connection[Any], list[RunEvent]], Any]


def write_batch(conn: psycopg.Connection[Any], events: list[RunEvent], spool_dir: Path | None, key: str,
                write: Write = write_events) -> int:
    """Write a batch with `write`; if the database refuses it, one event at a time.

    Returns how many events were refused. A refused event is logged and kept in
    `rejected-{key}.jsonl` in the spool directory, so that one bad value neither
    blocks the history for good (every retry would fail the same) nor vanishes.
    Any other error (an unreachable database) raises, for the caller to retry.
    """
    try:
        write(conn, events)
        return 0
    except REFUSALS as exc:
        logger.error("run history: a batch of %d events was refused (%s); writing them one by one",
                     len(events), exc)
    refused = 0
    for event in events:
        try:
            write(conn, [event])
        except REFUSALS as exc:
            refused += 1
            kept = "nowhere: no spool directory is set"
            if spool_dir is not None:
                spool_dir.mkdir(parents=True, exist_ok=True)
                path = spool_dir / f"rejected-{key}.jsonl"
                with path.open("a") as file:
                    file.write(event.to_json() + "\n")
                kept = str(path)
            logger.error("run history: event %s of message %s refused (%s); kept in %s",
                         event.event, event.message_id, exc, kept)
    return refused


def close_quietly(conn: psycopg.Connection[Any] | None) -> None:
    """Close a connection that may already be broken; returns None, for `self._conn = close_quietly(...)`."""
    if conn is not None:
        try:
            conn.close()
        except psycopg.Error:
            pass


def libpq_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def spool_key(dsn: str) -> str:
    """What spool and journal files are named by: the database (not the route to it: a
    proxy's port may differ), so that a process replays only its own database's events."""
    database = psycopg.conninfo.conninfo_to_dict(libpq_dsn(dsn)).get("dbname") or ""
    return hashlib.sha1(str(database).encode()).hexdigest()[:10]


def connected(conn: psycopg.Connection[Any] | None, dsn: str) -> psycopg.Connection[Any]:
    """`conn` if it is open, else a new autocommit connection: a writer's one connection."""
    if conn is None or conn.closed:
        conn = psycopg.connect(dsn, connect_timeout=3, autocommit=True)
    return conn


def _claim(path: Path) -> str | None:
    """The text of a spool or journal file, which this process takes over (None: another one did).

    Renaming is atomic, so each file is read by one process; it is gone once read.
    """
    claimed = path.with_suffix(f".claimed-{os.getpid()}")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return None
    text = claimed.read_bytes().decode("utf-8", "replace")
    claimed.unlink()
    return text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has reaped yet is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Journal:
    """Outcomes on local disk until they are in PostgreSQL: what a killed process leaves behind.

    A worker acknowledges a message once its outcome is recorded, not written: the
    write happens in the background. So each outcome is also copied into a file of
    this process, before the acknowledgement; a process killed with the outcome
    still unwritten leaves it there, and the next process of this host and database
    recovers it (`recover`).

    The file is memory-mapped: appending is a copy into the page cache, with no
    system call and no release of the GIL (a `write` per outcome cost the worker
    more than the outcome itself), and the kernel keeps the pages when the process
    dies. Lines end with a NUL byte after the last one. A file that fills up is
    retired for a new one and deleted once everything in it is written; the
    current one is emptied whenever the writer has caught up.
    """

    SIZE = 8 * 2**20
    END = b"END\n"  # a tailed file's last line: its process has moved to a new file, or closed

    def __init__(self, directory: Path, key: str, size: int | None = None, *, tail: bool = False) -> None:
        self.directory = directory
        # A tailed journal holds every event, for the history sidecar to write
        # (pipeline.history_tail); it is never reused, and the sidecar deletes it.
        self.tail = tail
        self.prefix = f"{'events' if tail else 'journal'}-{key}-{socket.gethostname()}-"
        self.size = size or self.SIZE
        self._room = len(self.END) + 1 if tail else 1
        self._map: mmap.mmap | None = None
        self._path: Path | None = None
        self._offset = 0
        self._last = 0  # the writer's sequence number of the last event appended to the current file
        self._retired: list[tuple[Path, int]] = []

    def append(self, event: RunEvent, position: int) -> None:
        """Called with the writer's lock held; `position` is the event's sequence number."""
        line = event.to_line()
        if len(line) > self.size // 4:  # the bulky parts are left out here; the history gets them whole
            slim = replace(event, traceback=None, result=None, data=None, error=(event.error or "")[:2000] or None)
            line = slim.to_line()
        if self._map is None or self._offset + len(line) + self._room > self.size:
            self._rotate()
        end = self._offset + len(line)
        self._map[self._offset:end] = line
        self._map[end] = 0
        self._offset = end
        self._last = position

    def _rotate(self) -> None:
        if self._map is not None:
            if self.tail:
                self._map[self._offset:self._offset + len(self.END)] = self.END
            self._map.close()
            if not self.tail:
                self._retired.append((self._path, self._last))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = self.directory / f"{self.prefix}{os.getpid()}-{time.time_ns()}.jsonl"
        with open(self._path, "w+b") as file:
            file.truncate(self.size)  # sparse: blocks are taken as lines arrive
            self._map = mmap.mmap(file.fileno(), self.size)
        self._offset = 0

    def settled(self, head: int, drained: bool) -> None:
        """Everything before sequence number `head` is written (lock held): drop what is no longer needed."""
        while self._retired and self._retired[0][1] < head:
            self._retired.pop(0)[0].unlink(missing_ok=True)
        if drained and self._map is not None and self._offset:
            self._map[0] = 0
            self._offset = 0

    def finish(self) -> None:
        """A tailed journal's process is done with it: the sidecar writes the rest and deletes it."""
        if self._map is not None:
            self._map[self._offset:self._offset + len(self.END)] = self.END
            self._map.close()
            self._map = None

    def discard(self) -> None:
        """Every outcome is written, or spooled: the files go."""
        if self._map is not None:
            self._map.close()
            self._map = None
        for path in [p for p, _ in self._retired] + ([self._path] if self._path else []):
            path.unlink(missing_ok=True)
        self._retired.clear()

    def recover(self) -> list[RunEvent]:
        """The outcomes in the journals of this host's processes that are gone, each file claimed once."""
        if not self.directory.is_dir():
            return []
        events: list[RunEvent] = []
        for path in sorted(self.directory.glob(f"{self.prefix}*.jsonl")):
            pid = int(path.name[len(self.prefix):].split("-")[0])
            if pid == os.getpid() or _alive(pid):
                continue
            text = _claim(path)
            if text is None:
                continue
            lines = text.split("\0", 1)[0].splitlines()
            for line in lines:
                try:
                    events.append(RunEvent.from_json(line))
                except (ValueError, TypeError, KeyError):  # the line being written when the process died
                    logger.warning("run history: unreadable journal line in %s skipped", path.name)
            if lines:
                logger.info("run history: recovering %d outcomes of process %d from %s", len(lines), pid, path.name)
        return events


def write_recovered(conn: psycopg.Connection[Any], events: list[RunEvent]) -> int:
    """Write the recovered outcomes the history lacks (a journal can hold some already written)."""
    ids = sorted({e.message_id for e in events})
    seen = {(m, ev, at) for m, ev, at in conn.execute(
        "SELECT message_id, event, at FROM run_events WHERE message_id = ANY(%s)", (ids,))}
    missing = [e for e in events if (e.message_id, e.event, e.at) not in seen]
    if missing:
        write_events(conn, missing)
    return len(missing)


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
        runs the sidecar (pipeline.history_tail), so the folding, the JSON and the
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
        from pipeline.history_tail import serve, sidecar_running

        while not self._watching.wait(SIDECAR_WATCH_S):
            if self._tail is None:
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
        if self._tail is not None:
            from pipeline.history_tail import sidecar_running

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
        self._conn = close_quietly(self._conn)

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
            text = _claim(path)
            if text is None:
                continue
            events = [RunEvent.from_json(line) for line in text.splitlines() if line]
            self._buffer.extendleft(reversed(events))
            logger.info("run history: replaying %d spooled events from %s", len(events), path.name)
