"""A batch member's end, told to its batch: progress when it succeeds, a report when it fails for good.

The report is the `record_batch_failure` actor (actors.batches), which marks the
member failed and passes the group's barrier for it. Progress and a batch's outcome
are events of the run that sent the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from actors.middleware.history import describe_error
from actors.middleware.retries import PolicyRetries
from pipeline.db import session_scope
from pipeline.history.events import RunEvent, small_result
from pipeline.services import batches
from pipeline.services.batches import Outcome, Progress

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5  # the batch's outcome, when it finishes, carries the final count


def _record(event: RunEvent) -> None:
    import actors

    actors.stack.writer.record(event)


def report_progress(progress: Progress | None) -> None:
    if progress is not None:
        _record(RunEvent(progress.batch_id, "progress", None, progress_done=progress.done,
                         progress_total=progress.total))


def report_outcome(outcome: Outcome) -> None:
    _record(RunEvent(outcome.batch_id, "batch_finished", outcome.status, result=small_result(outcome.result),
                     progress_done=outcome.total, progress_total=outcome.total,
                     data={"failures": outcome.failures} if outcome.failures else None))


class BatchReports(Middleware):
    """Tells a member's batch about its end: progress on success, a report when it fails for good.

    Sits before PolicyRetries, so that its after hook runs once the retry
    decision is made (`message.failed`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reported: dict[str, float] = {}  # batch id: when this process last reported its progress

    def _progress_due(self, batch_id: str) -> bool:
        """At most one progress report per batch and process every PROGRESS_EVERY_S: a count for display."""
        now = time.monotonic()
        with self._lock:
            if now - self._reported.get(batch_id, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
                return False
            if len(self._reported) > 1_000:
                self._reported = {k: t for k, t in self._reported.items() if now - t < PROGRESS_EVERY_S}
            self._reported[batch_id] = now
            return True

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        batch_id = message.options.get("batch_id")
        if not batch_id:
            return
        try:
            if exception is None:
                if self._progress_due(batch_id):
                    with session_scope() as session:
                        report_progress(batches.progress(session, batch_id))
            elif message.failed:
                self._report(message, describe_error(exception))
        except Exception:
            logger.exception("batch %s: could not report on member %s", batch_id, message.message_id)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        if message.options.get("batch_id"):
            reason = message.options.get("skip_reason") or "skipped (too old, or cancelled)"
            self._report(message, f"skipped: {reason}")

    @staticmethod
    def _report(message: Any, error: str) -> None:
        dramatiq.get_broker().get_actor("record_batch_failure").send(
            message.options["batch_id"], message.message_id, error, message.options.get("group_completion_uuid"))


def install(broker: Any) -> None:
    if not any(isinstance(m, BatchReports) for m in broker.middleware):
        broker.add_middleware(BatchReports(), before=PolicyRetries)
