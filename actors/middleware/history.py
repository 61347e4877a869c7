"""The run-history middleware: turns Dramatiq's hooks into run events.

Every hook is wrapped so that a fault in recording never reaches the message:
history is written by `pipeline.history.HistoryWriter` in the background.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dramatiq.common import q_name, xq_name
from dramatiq.middleware import CurrentMessage, Middleware

from actors.arguments import arguments_refused
from pipeline.clock import utcnow
from pipeline.errors import Deferred, InvalidInput
from pipeline.history.events import RunEvent, small_result
from pipeline.history.sidecar import sidecar_main
from pipeline.history.writer import HistoryWriter
from pipeline.redaction import redact, redact_text

logger = logging.getLogger(__name__)

# Options that are bulky or internal are left out of the recorded options.
HIDDEN_OPTIONS = {"pipe_target", "group_completion_callbacks", "traceback", "redis_message_id"}


@functools.cache
def _worker_id(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"


def worker_id() -> str:
    return _worker_id(os.getpid())


def _guarded(hook: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            hook(*args, **kwargs)
        except Exception:
            logger.exception("run history: %s failed; the message is unaffected", hook.__name__)

    return wrapper


def describe_error(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:2000]


class RunHistory(Middleware):
    """Records enqueued, running, retrying, succeeded, failed, dead-lettered and skipped."""

    def __init__(self, writer: HistoryWriter) -> None:
        self.writer = writer
        self._lock = threading.Lock()
        self.in_flight: dict[str, tuple[str, float, float]] = {}  # id: actor, started (epoch, monotonic)
        self._held: set[str] = set()  # delayed messages this worker holds until their eta
        self._publishing = threading.local()  # when each of this thread's enqueues began
        self.processed = 0
        self.failed = 0

    def _message_fields(self, message: Any, *, with_options: bool = True) -> dict[str, Any]:
        message = _unwrapped(message)
        options = message.options
        return {
            "actor": message.actor_name,
            "queue": q_name(message.queue_name),
            "args": redact(list(message.args)) if message.args else [],
            "kwargs": redact(dict(message.kwargs)) if message.kwargs else {},
            # The producer records the options; the worker's copy only adds retry bookkeeping.
            "options": redact({k: v for k, v in options.items() if k not in HIDDEN_OPTIONS}) if with_options else None,
            "group_id": options.get("group_completion_uuid") or options.get("group_id"),
            "schedule_name": options.get("schedule_name"),
            "scheduled_for": _parse_time(options.get("scheduled_for")),
        }

    @_guarded
    def before_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        # Stamped before the publish: a worker can take the message and stamp "running"
        # while the publish still waits for its confirmation.
        stamps = getattr(self._publishing, "stamps", None)
        if stamps is None or len(stamps) > 10_000:  # publishes that failed leave theirs behind
            stamps = self._publishing.stamps = {}
        stamps[message.message_id] = utcnow()

    @_guarded
    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        stamped = getattr(self._publishing, "stamps", {}).pop(message.message_id, None)
        current = CurrentMessage.get_current_message()
        if current is not None and current.message_id == message.message_id:
            return  # a retry or deferral of the message being processed: recorded there
        with self._lock:
            if message.message_id in self._held:
                self._held.discard(message.message_id)
                return  # a delayed message moving from .DQ to its queue: not a new enqueue
        parent = current.message_id if current is not None else message.options.get("parent_id")
        self.writer.record(
            RunEvent(
                message.message_id,
                "enqueued",
                "enqueued",
                at=stamped or utcnow(),
                parent_id=parent,
                data={"delay_ms": delay} if delay else None,
                **self._message_fields(message),
            )
        )

    @_guarded
    def before_delay_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            self._held.add(message.message_id)

    # The processing hooks run for every message: they read the message behind
    # Dramatiq's proxy (each attribute of the proxy is a Python call).

    @_guarded
    def before_process_message(self, broker: Any, message: Any) -> None:
        wid = worker_id()
        redelivered = getattr(message, "redelivered", False)
        message = _unwrapped(message)
        with self._lock:
            self.in_flight[message.message_id] = (message.actor_name, time.time(), time.monotonic())
        if redelivered:
            self.writer.record(
                RunEvent(
                    message.message_id,
                    "interrupted",
                    None,
                    worker=wid,
                    error="redelivered: an earlier delivery was never acknowledged (its worker stopped; "
                          "it may not have started)",
                )
            )
        self.writer.record(
            RunEvent(
                message.message_id,
                "running",
                "running",
                worker=wid,
                retries=message.options.get("retries", 0),
                **self._message_fields(message, with_options=False),
            )
        )

    @_guarded
    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        failed = message.failed  # the proxy's own attribute
        message = _unwrapped(message)
        with self._lock:
            started = self.in_flight.pop(message.message_id, None)
            self.processed += 1
            self.failed += exception is not None and failed
        duration_ms = int((time.monotonic() - started[2]) * 1000) if started else None
        common = {"worker": worker_id(), "duration_ms": duration_ms, "retries": message.options.get("retries", 0)}
        if exception is None:
            event = RunEvent(message.message_id, "succeeded", "succeeded", result=small_result(redact(result)),
                             **common)
        else:
            tb = redact_text("".join(traceback.format_exception(exception)))[-20_000:]
            error = describe_error(exception)
            if isinstance(exception, Deferred):
                event = RunEvent(message.message_id, "deferred", "delayed", error=error, **common)
            elif not failed:
                event = RunEvent(message.message_id, "retrying", "retrying", error=error, traceback=tb, **common)
            elif self._is_permanent(broker, message, exception):
                event = RunEvent(message.message_id, "failed", "failed", error=error, traceback=tb, **common)
            else:
                event = RunEvent(
                    message.message_id, "dead_lettered", "dead_lettered", error=error, traceback=tb, **common
                )
        self._record_outcome(event)

    @staticmethod
    def _is_permanent(broker: Any, message: Any, exception: BaseException) -> bool:
        if isinstance(exception, InvalidInput) or arguments_refused(broker, message, exception):
            return True
        throws = message.options.get("throws") or broker.get_actor(message.actor_name).options.get("throws")
        return bool(throws) and isinstance(exception, throws)

    @_guarded
    def after_skip_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            self.in_flight.pop(message.message_id, None)
        reason = message.options.get("skip_reason") or "skipped by middleware (message too old or cancelled)"
        status = "cancelled" if message.options.get("cancelled") else "skipped"
        self._record_outcome(RunEvent(message.message_id, status, status, worker=worker_id(), error=reason))

    def _record_outcome(self, event: RunEvent) -> None:
        # Durable: in the journal before the acknowledgement, so a worker killed before
        # the write leaves it to the next process (see pipeline.history.journal).
        self.writer.record(event, durable=True)

    @_guarded
    def after_nack(self, broker: Any, message: Any) -> None:
        self.writer.record(
            RunEvent(message.message_id, "dead_letter", None, data={"queue": xq_name(message.queue_name)})
        )

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self.writer.close(timeout=10)

    @property
    def forks(self) -> list[Callable[[], int]]:
        # In pipeline, not here: the fork then imports the history modules, not every actor.
        return [sidecar_main]

    def after_process_boot(self, broker: Any) -> None:
        # Only the `dramatiq` command emits this, and it forks the sidecar too.
        if self.writer.hand_over():
            logger.debug("run history: worker %d journals its events for the sidecar", os.getpid())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "in_flight": [
                    {"message_id": mid, "actor": actor, "started": started}
                    for mid, (actor, started, _) in self.in_flight.items()
                ],
                "processed": self.processed,
                "failed": self.failed,
            }


def _unwrapped(message: Any) -> Any:
    """The message behind a `MessageProxy` (or the message itself)."""
    return getattr(message, "_message", message)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
