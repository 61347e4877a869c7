"""Applied-message receipts: a redelivered message finds its receipt and changes nothing more.

The receipt is written in the same transaction as the message's writes, first,
so a second delivery running at the same time waits for the first to commit
and then sees it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline.models import AppliedMessage


def claim(session: Session, message_id: str | None, actor: str, now: datetime) -> dict[str, Any] | None:
    """None when this delivery is the first (go on); else the first delivery's result."""
    if not message_id:
        return None
    claimed = session.execute(
        insert(AppliedMessage).values(message_id=message_id, actor=actor, applied_at=now)
        .on_conflict_do_nothing().returning(AppliedMessage.message_id)
    ).scalar()
    return None if claimed is not None else claimed_result(session, message_id)


def claimed_result(session: Session, message_id: str | None) -> dict[str, Any] | None:
    """The result of an earlier delivery whose writes are committed, or None."""
    if not message_id:
        return None
    row = session.execute(select(AppliedMessage.result).where(AppliedMessage.message_id == message_id)).first()
    return None if row is None else {**(row[0] or {}), "redelivered": True}


def settle(session: Session, message_id: str | None, result: dict[str, Any]) -> None:
    if message_id:
        session.execute(update(AppliedMessage).where(AppliedMessage.message_id == message_id).values(result=result))


def forget_before(session: Session, before: datetime) -> int:
    """Drop receipts older than any redelivery can be (messages expire after a day)."""
    return session.execute(delete(AppliedMessage).where(AppliedMessage.applied_at < before)).rowcount or 0
