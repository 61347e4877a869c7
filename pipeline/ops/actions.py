"""Operator actions shared by the admin API, the pages and the CLI: cancel, retry, journal.

Each action checks the run's history first and refuses what cannot be done,
with a message that says why (`Refused` → HTTP 409, `NotFound` → 404).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from pipeline.errors import NotFound
from pipeline.history.events import TERMINAL, RunEvent
from pipeline.history.reads import RunLife, get_run
from pipeline.history.store import RecordEvents
from pipeline.ops.dispatch import Dispatcher
from pipeline.redaction import REDACTED
from pipeline.settings import Settings

CANCELLABLE = ("enqueued", "delayed", "retrying")
RETRYABLE = ("failed", "dead_lettered", "cancelled", "skipped")

# The status each event puts a run in. "enqueued" is left out: the producer records it
# after its publish returns, so it can reach the history after the worker's "running".
EVENT_STATUS = {"requeued": "enqueued", "running": "running", "retrying": "retrying", "deferred": "delayed",
                **{s: s for s in TERMINAL}}


class Refused(Exception):
    """The action does not apply to the run in its current state."""


def current_status(life: RunLife) -> str:
    """The run's status from its latest event as written, whatever the clocks of the processes said."""
    events = [e for e in life.events if e.event in EVENT_STATUS]
    if life.run.status in TERMINAL or not events:
        return life.run.status
    return EVENT_STATUS[max(events, key=lambda e: e.id).event]


def cancel_message(session: Session, dispatcher: Dispatcher, journal: RecordEvents, message_id: str,
                   by: str = "dashboard") -> dict[str, Any]:
    """Mark a message that has not started so that workers skip it (recorded as `cancelled`)."""
    life = get_run(session, message_id)
    if life is None:
        raise NotFound(f"no run with message id {message_id}")
    run, status = life.run, current_status(life)
    if status == "running":
        raise Refused(f"message {message_id} is running on {run.worker or 'a worker'}: "
                      "a message that has started cannot be cancelled")
    if status in TERMINAL:
        hint = "; delete it from the dead letters instead" if status == "dead_lettered" else ""
        raise Refused(f"message {message_id} has already ended ({status}): nothing to cancel{hint}")
    dispatcher.mark_cancelled(message_id)
    journal([RunEvent(message_id, "cancel_requested", None, data={"by": by})])
    return {
        "message_id": message_id,
        "status": status,
        "cancel_requested": True,
        "detail": "the message is skipped and recorded as cancelled when a worker receives it",
    }


def retry_run(session: Session, dispatcher: Dispatcher, journal: RecordEvents, message_id: str,
              by: str = "dashboard") -> str:
    """Send a new message with the run's original arguments; both runs link to each other."""
    life = get_run(session, message_id)
    if life is None:
        raise NotFound(f"no run with message id {message_id}")
    run = life.run
    if run.status not in RETRYABLE:
        raise Refused(f"message {message_id} is {run.status}; only {', '.join(RETRYABLE)} runs can be retried")
    if not run.actor:
        raise Refused(f"the history of {message_id} does not name its actor")
    if REDACTED in json.dumps([run.args, run.kwargs]):
        raise Refused(f"the arguments of {message_id} were redacted in history; send it again by hand")
    new_id = dispatcher.send(run.actor, dict(run.kwargs or {}), args=list(run.args or []), parent_id=message_id)
    journal([RunEvent(message_id, "retried_as", None, data={"message_id": new_id, "by": by})])
    return new_id


def dead_letter_views(settings: Settings, session: Session, queue: str, limit: int = 100) -> list[dict[str, Any]]:
    """Dead letters of `queue` with what history knows: the error, traceback and attempts."""
    from pipeline.ops.rabbit import peek_dead_letters
    from pipeline.sql.runs import by_ids

    letters = peek_dead_letters(settings, queue, limit)
    runs = by_ids(session, [letter.message_id for letter in letters])
    views = []
    for letter in letters:
        run = runs.get(letter.message_id)
        views.append({
            **letter.as_dict(),
            "history_status": run.status if run else None,
            "attempts": run.attempts if run else None,
            "error": run.error if run else None,
            # Dramatiq's Retries middleware also keeps the last traceback in the message itself.
            "traceback": (run.traceback if run and run.traceback else None) or letter.options.get("traceback"),
        })
    return views
