"""Batches: a fan-out of messages whose outcome is kept in PostgreSQL, not left to a group callback.

A batch is keyed by the message that sent it. Each member is pending until it
succeeds (marked in the member's own transaction, so "done" and "its writes are
committed" are one fact) or fails for good (marked when the worker layer reports
it). `finish` closes a batch once no member is pending: it aggregates what the
members that succeeded fetched, and says `succeeded`, `partially_failed` or
`failed`, listing the failures. Finishing twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.db import driver
from pipeline.models import Batch, BatchMember, Run
from pipeline.sql import snapshots

SHOWN_FAILURES = 20  # failures listed in the run history's result; all of them are in batch_members
GONE_STATUSES = ("failed", "dead_lettered", "skipped", "cancelled")


@dataclass(frozen=True)
class BatchState:
    id: str
    kind: str
    day: date | None
    total: int
    sent: bool
    finished: bool
    members: dict[str, str]  # key -> message id
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Progress:
    batch_id: str
    done: int
    total: int


@dataclass(frozen=True)
class Outcome:
    batch_id: str
    status: str
    total: int
    result: dict[str, Any]
    failures: list[dict[str, Any]] = field(default_factory=list)
    newly: bool = True  # False when an earlier call closed the batch


# The batch and its members in one statement, the members only when the batch is new. Plain
# SQL: a batch starts on a worker's first message, where the ORM's first compile of each
# statement cost more than the round trips.
_START = """
WITH batch AS (
    INSERT INTO batches (id, kind, day, total, created_at) VALUES (%(id)s, %(kind)s, %(day)s, %(total)s, %(now)s)
    ON CONFLICT (id) DO NOTHING RETURNING id
)
INSERT INTO batch_members (batch_id, key, message_id)
SELECT batch.id, member.key, member.message_id
FROM batch, unnest(%(keys)s::text[], %(messages)s::text[]) AS member (key, message_id)
"""
_LOAD = ("SELECT kind, day, total, sent_at IS NOT NULL, finished_at IS NOT NULL, result, "
         "ARRAY(SELECT ARRAY[key, message_id] FROM batch_members WHERE batch_id = batches.id) "
         "FROM batches WHERE id = %s")


def start(session: Session, batch_id: str, kind: str, day: date | None, members: list[tuple[str, str]],
          now: datetime) -> BatchState:
    """Create the batch and its pending members, or return the one a first delivery created."""
    driver(session).execute(_START, {"id": batch_id, "kind": kind, "day": day, "total": len(members), "now": now,
                                     "keys": [key for key, _ in members], "messages": [m for _, m in members]})
    state = load(session, batch_id)
    assert state is not None
    return state


def load(session: Session, batch_id: str) -> BatchState | None:
    row = driver(session).execute(_LOAD, (batch_id,)).fetchone()
    if row is None:
        return None
    kind, day, total, sent, finished, result, members = row
    return BatchState(batch_id, kind, day, total, sent, finished, {key: mid for key, mid in members}, result)


def mark_sent(session: Session, batch_id: str, now: datetime) -> None:
    session.execute(update(Batch).where(Batch.id == batch_id, Batch.sent_at.is_(None)).values(sent_at=now))


def member_succeeded(session: Session, message_id: str | None, now: datetime) -> None:
    """Mark the member that `message_id` is, if it is one; a no-op for any other message."""
    if message_id:
        session.execute(
            update(BatchMember).where(BatchMember.message_id == message_id, BatchMember.status == "pending")
            .values(status="succeeded", finished_at=now)
        )


def member_failed(session: Session, message_id: str, error: str, now: datetime) -> int:
    """Mark the message's pending members failed for good: how many (0 when a redelivered report comes)."""
    changed = session.execute(
        update(BatchMember).where(BatchMember.message_id == message_id, BatchMember.status == "pending")
        .values(status="failed", error=error[:2000], finished_at=now).returning(BatchMember.key)
    ).scalars().all()
    return len(changed)


_KEYS_SUCCEEDED = """
UPDATE batch_members SET status = 'succeeded', finished_at = %s
WHERE message_id = %s AND key = ANY(%s) AND status = 'pending'
"""
_KEYS_FAILED = """
UPDATE batch_members m SET status = 'failed', error = f.error, finished_at = %s
FROM unnest(%s::text[], %s::text[]) AS f(key, error)
WHERE m.message_id = %s AND m.key = f.key AND m.status = 'pending'
"""


def keys_settled(session: Session, message_id: str, succeeded: list[str], failed: dict[str, str],
                 now: datetime) -> None:
    """Settle some of a message's members (a message of several keys): these succeeded, those failed
    for good, each with its reason; a no-op for keys that are not pending members of it."""
    if succeeded:
        driver(session).execute(_KEYS_SUCCEEDED, (now, message_id, succeeded))
    if failed:
        driver(session).execute(_KEYS_FAILED, (now, list(failed), [e[:2000] for e in failed.values()], message_id))


def batch_of(session: Session, message_id: str) -> str | None:
    return session.execute(select(BatchMember.batch_id).where(BatchMember.message_id == message_id)).scalar()


_PROGRESS = ("SELECT total, (SELECT count(*) FROM batch_members WHERE batch_id = batches.id AND status <> 'pending') "
             "FROM batches WHERE id = %s")


def progress(session: Session, batch_id: str) -> Progress | None:
    """Members ended of the batch's total: after each member, so plain SQL (no ORM compile)."""
    row = driver(session).execute(_PROGRESS, (batch_id,)).fetchone()
    return None if row is None else Progress(batch_id, row[1], row[0])


def sender_running(session: Session, batch_id: str, now: datetime, wait: timedelta) -> bool:
    """Whether the run that sent the batch is still recorded as under way, within `wait` of the batch's start.

    Its own result must be written before the batch's outcome, or it would overwrite it.
    """
    batch = session.get(Batch, batch_id)
    if batch is None or now - batch.created_at > wait:
        return False
    status = session.execute(select(Run.status).where(Run.message_id == batch_id)).scalar()
    return status in ("enqueued", "delayed", "running", "retrying")


def resolve_from_history(session: Session, batch_id: str, now: datetime, max_age: timedelta) -> int:
    """Fail pending members the run history says are gone, and all of them once the batch is too old.

    The safety net for a failure report that never came (a skipped message, a
    worker that died while reporting): returns how many members it failed.
    """
    batch = session.get(Batch, batch_id)
    if batch is None or batch.finished_at is not None:
        return 0
    gone = session.execute(
        select(BatchMember.message_id, Run.status, Run.error).distinct()
        .join(Run, Run.message_id == BatchMember.message_id)
        .where(BatchMember.batch_id == batch_id, BatchMember.status == "pending", Run.status.in_(GONE_STATUSES))
    ).all()
    failed = sum(member_failed(session, mid, f"{status} (per run history): {error or 'no error recorded'}", now)
                 for mid, status, error in gone)
    if now - batch.created_at > max_age:
        pending = session.execute(select(BatchMember.message_id).where(
            BatchMember.batch_id == batch_id, BatchMember.status == "pending")).scalars().all()
        failed += sum(member_failed(session, mid, f"no outcome within {max_age}", now) for mid in pending)
    return failed


def finish(session: Session, batch_id: str, now: datetime) -> Outcome | None:
    """Close the batch once no member is pending; None while some are (or if there is no such batch).

    A batch already closed returns its outcome again without writing anything.
    """
    batch = session.get(Batch, batch_id, with_for_update=True)
    if batch is None:
        return None
    if batch.finished_at is not None and batch.result is not None:
        return Outcome(batch.id, batch.status, batch.total, batch.result, newly=False)
    members = session.execute(
        select(BatchMember).where(BatchMember.batch_id == batch_id).order_by(BatchMember.key)
    ).scalars().all()
    if any(m.status == "pending" for m in members):
        return None
    succeeded = [m.key for m in members if m.status == "succeeded"]
    failures = [{"key": m.key, "message_id": m.message_id, "error": m.error} for m in members if m.status == "failed"]
    result: dict[str, Any] = {"batch_id": batch.id, "kind": batch.kind, "total": batch.total,
                              "succeeded": len(succeeded), "failed": len(failures)}
    if batch.kind == "prices" and batch.day is not None:
        days = sorted({batch.day, now.date()})
        figures = [uuid.UUID(key) for key in succeeded]
        done = [snapshots.aggregate_day(session, day, figures) for day in days] if figures else []
        result.update(snapshots.counts(*done))
        result["days"] = [day.isoformat() for day in days]
    status = "succeeded" if not failures else "partially_failed" if succeeded else "failed"
    result["status"] = status
    result["failures"] = [{**f, "error": (f["error"] or "")[:160]} for f in failures[:SHOWN_FAILURES]]
    result["finished_at"] = now.isoformat()
    batch.status, batch.finished_at, batch.result = status, now, result
    return Outcome(batch.id, status, batch.total, result, failures)
