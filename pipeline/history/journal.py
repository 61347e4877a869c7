"""Journal files: run events on local disk until they are in PostgreSQL.

Two kinds, one format (JSON lines, then a NUL): a process's outcomes, which a killed
process leaves for the next one of its host to recover, and a `dramatiq` worker's
every event, which the history sidecar tails (`tail=True`). Files are named by the
database (`spool_key`), the host and the process, and taken over by renaming
(`claim_file`), so each is read once.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import psycopg.conninfo

from pipeline.db import libpq_dsn
from pipeline.history.events import RunEvent

logger = logging.getLogger(__name__)

JOURNAL_SCAN_S = 10.0  # how often a writer looks for journals that dead processes left


def spool_key(dsn: str) -> str:
    """What spool and journal files are named by: the database (not the route to it: a
    proxy's port may differ), so that a process replays only its own database's events."""
    database = psycopg.conninfo.conninfo_to_dict(libpq_dsn(dsn)).get("dbname") or ""
    return hashlib.sha1(str(database).encode()).hexdigest()[:10]



def claim_file(path: Path) -> str | None:
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


def process_alive(pid: int) -> bool:
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
        # (pipeline.history.sidecar); it is never reused, and the sidecar deletes it.
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
        assert self._map is not None  # _rotate maps a file
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
            if not self.tail and self._path is not None:
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
            if pid == os.getpid() or process_alive(pid):
                continue
            text = claim_file(path)
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

