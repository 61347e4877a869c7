"""Batches: a fan-out of messages whose outcome is kept in PostgreSQL, not left to a group callback.

A batch is keyed by the message that sent it. Each member is pending until it
succeeds (marked in the member's own transaction, so "done" and "its writes are
committed" are one fact) or fails for good (marked when the worker layer reports
it). `finish` closes a batch once no member is pending: the finisher of its kind
does what it must with the members that succeeded (a prices batch aggregates
what they fetched), and the outcome says `succeeded`, `partially_failed` or
`failed`, listing the failures. Finishing twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.sql import batches as sql

SHOWN_FAILURES = 20  # failures listed in the run history's result; all of them are in batch_members
GONE_STATUSES = ("failed", "dead_lettered", "skipped", "cancelled")

# What closing a batch of a kind does with the keys of the members that succeeded: (session, the
# batch's day, keys, now) -> what to add to the outcome.
Finisher = Callable[[Session, date | None, list[str], datetime], dict[str, Any]]


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


def start(session: Session, batch_id: str, kind: str, day: date | None, members: list[tuple[str, str]],
          now: datetime) -> BatchState:
    """Create the batch and its pending members, or return the one a first delivery created."""
    sql.insert(session, batch_id, kind, day, members, now)
    state = load(session, batch_id)
    assert state is not None
    return state


def load(session: Session, batch_id: str) -> BatchState | None:
    row = sql.row(session, batch_id)
    if row is None:
        return None
    kind, day, total, sent, finished, result, members = row
    return BatchState(batch_id, kind, day, total, sent, finished, dict(members), result)


def mark_sent(session: Session, batch_id: str, now: datetime) -> None:
    sql.mark_sent(session, batch_id, now)


def member_succeeded(session: Session, message_id: str | None, now: datetime) -> None:
    """Mark the member that `message_id` is, if it is one; a no-op for any other message."""
    if message_id:
        sql.message_succeeded(session, message_id, now)


def member_failed(session: Session, message_id: str, error: str, now: datetime) -> int:
    """Mark the message's pending members failed for good: how many (0 when a redelivered report comes)."""
    return sql.message_failed(session, message_id, error, now)


def keys_settled(session: Session, message_id: str, succeeded: list[str], failed: dict[str, str],
                 now: datetime) -> None:
    """Settle some of a message's members (a message of several keys): these succeeded, those failed
    for good, each with its reason; a no-op for keys that are not pending members of it."""
    sql.keys_settled(session, message_id, succeeded, failed, now)


def batch_of(session: Session, message_id: str) -> str | None:
    return sql.batch_of(session, message_id)


def progress(session: Session, batch_id: str) -> Progress | None:
    """Members ended of the batch's total: after each member, so plain SQL (no ORM compile)."""
    found = sql.progress(session, batch_id)
    return None if found is None else Progress(batch_id, found[1], found[0])


def sender_running(session: Session, batch_id: str, now: datetime, wait: timedelta) -> bool:
    """Whether the run that sent the batch is still recorded as under way, within `wait` of the batch's start.

    Its own result must be written before the batch's outcome, or it would overwrite it.
    """
    batch = sql.get(session, batch_id)
    if batch is None or now - batch.created_at > wait:
        return False
    return sql.sender_status(session, batch_id) in ("enqueued", "delayed", "running", "retrying")


def resolve_from_history(session: Session, batch_id: str, now: datetime, max_age: timedelta) -> int:
    """Fail pending members the run history says are gone, and all of them once the batch is too old.

    The safety net for a failure report that never came (a skipped message, a
    worker that died while reporting): returns how many members it failed.
    """
    batch = sql.get(session, batch_id)
    if batch is None or batch.finished_at is not None:
        return 0
    failed = sum(member_failed(session, mid, f"{status} (per run history): {error or 'no error recorded'}", now)
                 for mid, status, error in sql.pending_gone(session, batch_id, GONE_STATUSES))
    if now - batch.created_at > max_age:
        pending = {m.message_id for m in sql.members(session, batch_id) if m.status == "pending"}
        failed += sum(member_failed(session, mid, f"no outcome within {max_age}", now) for mid in sorted(pending))
    return failed


def finish(session: Session, batch_id: str, now: datetime,
           finishers: Mapping[str, Finisher] | None = None) -> Outcome | None:
    """Close the batch once no member is pending; None while some are (or if there is no such batch).

    The finisher of the batch's kind, if there is one, adds to the outcome what it does with
    the members that succeeded (a prices batch aggregates their snapshots). A batch already
    closed returns its outcome again without writing anything.
    """
    batch = sql.get(session, batch_id, lock=True)
    if batch is None:
        return None
    if batch.finished_at is not None and batch.result is not None:
        return Outcome(batch.id, batch.status, batch.total, batch.result, newly=False)
    members = sql.members(session, batch_id)
    if any(m.status == "pending" for m in members):
        return None
    succeeded = [m.key for m in members if m.status == "succeeded"]
    failures = [{"key": m.key, "message_id": m.message_id, "error": m.error} for m in members if m.status == "failed"]
    result: dict[str, Any] = {"batch_id": batch.id, "kind": batch.kind, "total": batch.total,
                              "succeeded": len(succeeded), "failed": len(failures)}
    finisher = (finishers or {}).get(batch.kind)
    if finisher is not None:
        result.update(finisher(session, batch.day, succeeded, now))
    status = "succeeded" if not failures else "partially_failed" if succeeded else "failed"
    result["status"] = status
    result["failures"] = [{**f, "error": (f["error"] or "")[:160]} for f in failures[:SHOWN_FAILURES]]
    result["finished_at"] = now.isoformat()
    sql.close(session, batch_id, status, result, now)
    return Outcome(batch.id, status, batch.total, result, failures)
