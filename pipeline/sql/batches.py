"""The batches and batch_members tables: a fan-out's record, its members' outcomes.

The statements on a worker's path (start, load, progress, a chunk's keys) are
plain SQL on the session's psycopg connection: a batch starts on a worker's
first message, where the ORM's first compile of each statement cost more than
the round trips. The rest are SQLAlchemy Core.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.db import driver
from pipeline.models import Batch, BatchMember, Run

ERROR_CHARS = 2000  # a member's reason, as stored

# The batch and its members in one statement, the members only when the batch is new.
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
_PROGRESS = ("SELECT total, (SELECT count(*) FROM batch_members WHERE batch_id = batches.id AND status <> 'pending') "
             "FROM batches WHERE id = %s")
_KEYS_SUCCEEDED = """
UPDATE batch_members SET status = 'succeeded', finished_at = %s
WHERE message_id = %s AND key = ANY(%s) AND status = 'pending'
"""
_KEYS_FAILED = """
UPDATE batch_members m SET status = 'failed', error = f.error, finished_at = %s
FROM unnest(%s::text[], %s::text[]) AS f(key, error)
WHERE m.message_id = %s AND m.key = f.key AND m.status = 'pending'
"""


def insert(session: Session, batch_id: str, kind: str, day: date | None, members: list[tuple[str, str]],
           now: datetime) -> None:
    """The batch and its pending members (key, message id); nothing when the batch exists."""
    driver(session).execute(_START, {"id": batch_id, "kind": kind, "day": day, "total": len(members), "now": now,
                                     "keys": [key for key, _ in members], "messages": [m for _, m in members]})


def row(session: Session, batch_id: str) -> tuple[Any, ...] | None:
    """(kind, day, total, sent, finished, result, [[key, message id], …]), or None."""
    return driver(session).execute(_LOAD, (batch_id,)).fetchone()


def progress(session: Session, batch_id: str) -> tuple[int, int] | None:
    """(total, members ended), or None for no such batch."""
    found = driver(session).execute(_PROGRESS, (batch_id,)).fetchone()
    return None if found is None else (found[0], found[1])


def mark_sent(session: Session, batch_id: str, now: datetime) -> None:
    session.execute(update(Batch).where(Batch.id == batch_id, Batch.sent_at.is_(None)).values(sent_at=now))


def message_succeeded(session: Session, message_id: str, now: datetime) -> None:
    """Every pending member the message is."""
    session.execute(update(BatchMember).where(BatchMember.message_id == message_id, BatchMember.status == "pending")
                    .values(status="succeeded", finished_at=now))


def message_failed(session: Session, message_id: str, error: str, now: datetime) -> int:
    """Every pending member the message is, failed with `error`: how many."""
    changed = session.execute(
        update(BatchMember).where(BatchMember.message_id == message_id, BatchMember.status == "pending")
        .values(status="failed", error=error[:ERROR_CHARS], finished_at=now).returning(BatchMember.key)
    ).scalars().all()
    return len(changed)


def keys_settled(session: Session, message_id: str, succeeded: list[str], failed: dict[str, str],
                 now: datetime) -> None:
    if succeeded:
        driver(session).execute(_KEYS_SUCCEEDED, (now, message_id, succeeded))
    if failed:
        driver(session).execute(_KEYS_FAILED, (now, list(failed), [e[:ERROR_CHARS] for e in failed.values()],
                                               message_id))


def batch_of(session: Session, message_id: str) -> str | None:
    return session.execute(select(BatchMember.batch_id).where(BatchMember.message_id == message_id)).scalar()


def get(session: Session, batch_id: str, *, lock: bool = False) -> Batch | None:
    """The batch's row; `lock` holds it until the transaction ends (a concurrent finish waits), and reads it
    afresh once the lock is held, not as this session saw it before."""
    return session.get(Batch, batch_id, with_for_update=lock, populate_existing=lock)


def sender_status(session: Session, batch_id: str) -> str | None:
    """The run-history status of the message that sent the batch (its id is the batch's)."""
    return session.execute(select(Run.status).where(Run.message_id == batch_id)).scalar()


def pending_gone(session: Session, batch_id: str, gone: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
    """(message id, status, error) of pending members whose run history has one of the `gone` statuses."""
    rows = session.execute(
        select(BatchMember.message_id, Run.status, Run.error).distinct()
        .join(Run, Run.message_id == BatchMember.message_id)
        .where(BatchMember.batch_id == batch_id, BatchMember.status == "pending", Run.status.in_(gone))
    ).all()
    return [(mid, status, error) for mid, status, error in rows]


def members(session: Session, batch_id: str) -> list[BatchMember]:
    return list(session.execute(
        select(BatchMember).where(BatchMember.batch_id == batch_id).order_by(BatchMember.key)).scalars())


def close(session: Session, batch_id: str, status: str, result: dict[str, Any], now: datetime) -> None:
    session.execute(update(Batch).where(Batch.id == batch_id).values(status=status, finished_at=now, result=result))
