"""The applied_messages table: a redelivered message finds its receipt and changes nothing more.

The receipt is written in the same transaction as the message's writes, first,
so a second delivery running at the same time waits for the first to commit
and then sees it. Plain SQL on the session's psycopg connection: one of these
runs for every message a worker handles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import delete
from sqlalchemy.orm import Session

from pipeline.db import driver
from pipeline.models import AppliedMessage
from pipeline.sql import rowcount

_CLAIM = ("INSERT INTO applied_messages (message_id, actor, applied_at) VALUES (%s, %s, %s) "
          "ON CONFLICT DO NOTHING RETURNING 1")
_RESULT = "SELECT result FROM applied_messages WHERE message_id = %s"
_LOCK = "SELECT result FROM applied_messages WHERE message_id = %s FOR UPDATE"
_SET_RESULT = "UPDATE applied_messages SET result = %s WHERE message_id = %s"


def claim(session: Session, message_id: str | None, actor: str, now: datetime) -> dict[str, Any] | None:
    """None when this delivery is the first (go on); else the first delivery's result."""
    if not message_id:
        return None
    claimed = driver(session).execute(_CLAIM, (message_id, actor, now)).fetchone()
    return None if claimed is not None else claimed_result(session, message_id)


def claimed_result(session: Session, message_id: str | None) -> dict[str, Any] | None:
    """The result of an earlier delivery whose writes are committed, or None."""
    if not message_id:
        return None
    row = driver(session).execute(_RESULT, (message_id,)).fetchone()
    return None if row is None else {**(row[0] or {}), "redelivered": True}


def held(session: Session, message_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """The message's receipt, made if there is none and locked until this transaction ends: what earlier
    deliveries recorded in it ({} at first). A concurrent delivery waits here for this one to commit."""
    driver(session).execute(_CLAIM, (message_id, actor, now))
    row = driver(session).execute(_LOCK, (message_id,)).fetchone()
    assert row is not None  # made above, or by a delivery whose transaction committed
    held: dict[str, Any] = row[0] or {}
    return held


def record(session: Session, message_id: str, result: dict[str, Any]) -> None:
    driver(session).execute(_SET_RESULT, (Jsonb(result), message_id))


def forget_before(session: Session, before: datetime) -> int:
    """Drop receipts older than any redelivery can be (messages expire after a day)."""
    return rowcount(session.execute(delete(AppliedMessage).where(AppliedMessage.applied_at < before)))
