"""Worker recycling, which Celery has (--max-tasks-per-child, --max-memory-per-child).

After N messages, or once its resident memory passes X MB, a worker process asks
the `dramatiq` main process for a graceful reload (SIGHUP): every worker process
finishes the messages it is running, prefetched messages go back to RabbitMQ
unacknowledged, and the main process starts fresh ones. Nothing is lost and
nothing runs twice, because nothing is acknowledged that was not processed.

A watchdog covers a graceful stop that hangs: once no message is in flight and
the process has still not exited STOP_GRACE_S after asking, it flushes the run
history and exits by itself (nothing is running, so nothing is cut short).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dramatiq.middleware import Middleware

from actors.middleware.workers import rss_mb

logger = logging.getLogger(__name__)
STOP_GRACE_S = 30.0


def put_this_python_first_on_path() -> None:
    """dramatiq's reload re-executes plain `python -m dramatiq`, found on PATH.

    Unless this interpreter's directory comes first, that may be another Python
    without the project installed, and the reloaded worker never comes back.
    """
    here = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != here:
        os.environ["PATH"] = f"{here}{os.pathsep}{path}"


class Recycle(Middleware):
    def __init__(self, max_messages: int = 0, max_memory_mb: int = 0,
                 before_exit: Callable[[], None] | None = None) -> None:
        self.max_messages = max_messages
        self.max_memory_mb = max_memory_mb
        self.before_exit = before_exit
        self.enabled = bool(max_messages or max_memory_mb)  # if not, every message skips the bookkeeping
        self._in_flight = 0
        self._count = 0
        self._asked = False
        self._lock = threading.Lock()
        self._parent: int | None = None
        self._statm: int | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        # Only a process started by the `dramatiq` command has a main process to ask.
        self._parent = os.getppid()
        self._count, self._asked = 0, False
        if self.max_memory_mb:
            # Kept open: read again after every message (see `rss_mb`).
            if self._statm is not None:
                os.close(self._statm)  # a second boot in the same process
            self._statm = os.open(f"/proc/{os.getpid()}/statm", os.O_RDONLY)

    def before_process_message(self, broker: Any, message: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._in_flight += 1

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        self._tick()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self._tick()

    def _tick(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._in_flight -= 1
            self._count += 1
            if self._asked or self._parent is None:
                return
            reason = None
            if self.max_messages and self._count >= self.max_messages:
                reason = f"processed {self._count} messages (WORKER_MAX_MESSAGES={self.max_messages})"
            elif self.max_memory_mb and (rss := rss_mb(self._statm)) >= self.max_memory_mb:
                reason = f"resident memory {rss} MB (WORKER_MAX_MEMORY_MB={self.max_memory_mb})"
            if reason is None:
                return
            self._asked = True
        logger.warning("worker %d recycling: %s; asking for a graceful reload", os.getpid(), reason)
        try:
            os.kill(self._parent, signal.SIGHUP)
        except ProcessLookupError:
            logger.error("worker %d: main process %d is gone, cannot recycle", os.getpid(), self._parent)
            return
        threading.Thread(target=self._watchdog, name="recycle-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        asked = time.monotonic()
        while True:
            time.sleep(1.0)
            with self._lock:
                idle = self._in_flight <= 0
            if idle and time.monotonic() - asked > STOP_GRACE_S:
                logger.error("worker %d: graceful stop still not done after %.0f s with nothing in flight; exiting",
                             os.getpid(), STOP_GRACE_S)
                if self.before_exit is not None:
                    self.before_exit()
                os._exit(0)
