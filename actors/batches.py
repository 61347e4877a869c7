"""Batches on Dramatiq's own tools, made to finish even when a member fails for good.

`fan_out` records a batch (keyed by the message that sends it, with every
member's message id), then runs a `dramatiq.group` of the members whose
completion callback is `finish_batch`: the fan-in. Dramatiq's callback fires
only when every member *succeeded*, so:

- `BatchReports` (actors.middleware.batches) sends `record_batch_failure` when a member fails
  for good or is skipped; that actor marks the member failed and then passes
  the group's barrier on the member's behalf, so the completion callback fires
  once every member is over, whatever the outcome.
- `check_batch`, sent with a delay, is the safety net for a report that never
  came: it fails members the run history shows gone (or that had no outcome
  within MAX_AGE), and finishes the batch, or looks again later.
- `finish_batch` closes a batch only when no member is pending, and does
  nothing the second time: the callback may fire twice on redelivery.

Progress (members over / total) and the outcome (`succeeded`,
`partially_failed` with the failed members listed, or `failed`) go into the run
history of the message that sent the batch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import dramatiq
from dramatiq import Message
from dramatiq.middleware import CurrentMessage

from actors.groups import group_barrier, run_group
from actors.middleware.batches import install, report_outcome, report_progress
from pipeline.clock import utcnow
from pipeline.db import session_scope
from pipeline.errors import Deferred
from pipeline.services import batches, snapshots
from pipeline.services.batches import Outcome, Progress

logger = logging.getLogger(__name__)

QUEUE = "processing"
CHECK_DELAY_MS = 10 * 60_000
MAX_AGE = timedelta(hours=25)  # messages expire after a day (AgeLimit); a member still pending is lost
SENDER_WAIT = timedelta(minutes=2)
FINISHERS: dict[str, batches.Finisher] = {"prices": snapshots.price_batch_finished}


def current_message_id() -> str | None:
    message = CurrentMessage.get_current_message()
    return message.message_id if message is not None else None


def fan_out(kind: str, day: date | None, keys: list[str], message_for: Callable[[list[str]], Message[Any]],
            now: datetime, per_message: int = 1) -> dict[str, Any]:
    """Record the batch, then send its group (after the commit); a redelivery sends nothing twice.

    The keys go in order, at most `per_message` to a message, in as few messages as that allows,
    as evenly as can be (50 keys at 20 a message: 17, 17 and 16): `message_for(keys)`. Each key
    stays a member of its own.
    """
    if not keys:
        return {"batch_id": None, "kind": kind, "total": 0}
    batch_id = current_message_id() or str(uuid.uuid4())
    count = -(-len(keys) // per_message)
    planned = {(m := message_for(chunk)).message_id: (m, chunk)
               for chunk in (keys[len(keys) * i // count:len(keys) * (i + 1) // count] for i in range(count))}
    members = [(key, message_id) for message_id, (_, chunk) in planned.items() for key in chunk]
    with session_scope() as session:
        state = batches.start(session, batch_id, kind, day, members, now)
    summary = {"batch_id": batch_id, "kind": kind, "total": state.total}
    if state.sent:
        return {**summary, "already_sent": True}
    chunks: dict[str, list[str]] = {}  # a redelivery sends the first delivery's messages, by its record
    for key, message_id in sorted(state.members.items()):
        chunks.setdefault(message_id, []).append(key)
    order = [*(m for m in planned if m in chunks), *(m for m in chunks if m not in planned)]  # stalest first
    group = dramatiq.group([(planned[message_id][0] if message_id in planned else message_for(chunks[message_id]))
                            .copy(message_id=message_id, options={"batch_id": batch_id}) for message_id in order])
    report_progress(Progress(batch_id, 0, state.total))
    group.add_completion_callback(finish_batch.message(batch_id))
    run_group(group)  # one transaction for every member, not a confirmation each
    check_batch.send_with_options(args=(batch_id,), delay=CHECK_DELAY_MS)
    with session_scope() as session:
        batches.mark_sent(session, batch_id, utcnow())
    return summary


def _close(outcome: Outcome | None, batch_id: str) -> dict[str, Any]:
    if outcome is None:
        return {"batch_id": batch_id, "finished": False}
    if outcome.newly:
        report_outcome(outcome)
    return outcome.result


@dramatiq.actor(queue_name=QUEUE, max_retries=10, time_limit=300_000)
def finish_batch(batch_id: str) -> dict[str, Any]:
    """The group's completion callback: close the batch (aggregating what its members fetched)."""
    now = utcnow()
    with session_scope() as session:
        if batches.sender_running(session, batch_id, now, SENDER_WAIT):
            # The sender's own result must be written first, or it would overwrite the outcome.
            raise Deferred(f"batch {batch_id}: the run that sent it is not recorded as over yet", 1.0)
        outcome = batches.finish(session, batch_id, now, FINISHERS)
    return _close(outcome, batch_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=10, time_limit=300_000)
def check_batch(batch_id: str) -> dict[str, Any]:
    """The safety net: resolve members the history shows gone, finish, or look again later."""
    now = utcnow()
    with session_scope() as session:
        if batches.load(session, batch_id) is None:
            return {"batch_id": batch_id, "unknown": True}
        resolved = batches.resolve_from_history(session, batch_id, now, MAX_AGE)
        outcome = batches.finish(session, batch_id, now, FINISHERS)
    if outcome is None:
        check_batch.send_with_options(args=(batch_id,), delay=CHECK_DELAY_MS)
    return {**_close(outcome, batch_id), "resolved_from_history": resolved}


@dramatiq.actor(queue_name=QUEUE, max_retries=10, time_limit=60_000)
def record_batch_failure(batch_id: str, message_id: str, error: str, group_id: str | None = None) -> dict[str, Any]:
    """Mark a member failed for good, then pass the group's barrier for it (once)."""
    now = utcnow()
    with session_scope() as session:
        failed = batches.member_failed(session, message_id, error, now)
        progress = batches.progress(session, batch_id)
    if failed:  # the first report: a redelivered one changes nothing
        report_progress(progress)
        if group_id and group_barrier(dramatiq.get_broker(), group_id).wait(block=False):
            finish_batch.send(batch_id)
    return {"batch_id": batch_id, "message_id": message_id, "recorded": failed > 0, "members_failed": failed}


install(dramatiq.get_broker())
