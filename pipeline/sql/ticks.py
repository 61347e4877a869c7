"""The schedule_ticks table: claim each tick once, mark it sent, find the claims still to send.

A tick is claimed before its message is sent: an INSERT on the unique key
(schedule_name, scheduled_for) that does nothing on conflict, so of any number
of scheduler processes one wins and the others see that it is taken. The claim
carries the message id chosen before the send; `sent_at` stays NULL until the
send happened. A claim whose send failed (or whose process died in between) is
sent again by a scheduler's sweep, with the same message id: nothing is lost, and
a message sent twice is one run in the history. Callers own the transactions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from pipeline.models import Run, ScheduleTick


def claim_tick(
    session: Session, *, schedule_name: str, scheduled_for: datetime, claimed_by: str, runner: str,
    message_id: str, late_by_ms: int | None, catch_up: bool,
) -> int | None:
    """The new claim's id, or None if the tick was claimed already."""
    statement = (
        insert(ScheduleTick)
        .values(schedule_name=schedule_name, scheduled_for=scheduled_for, claimed_by=claimed_by, runner=runner,
                message_id=message_id, late_by_ms=late_by_ms, catch_up=catch_up)
        .on_conflict_do_nothing(index_elements=["schedule_name", "scheduled_for"])
        .returning(ScheduleTick.id)
    )
    return session.execute(statement).scalar_one_or_none()


def lock_unsent(session: Session, tick_id: int) -> ScheduleTick | None:
    """Lock a claim that is still unsent; None if it is sent, or another process holds it right now."""
    query = (
        select(ScheduleTick)
        .where(ScheduleTick.id == tick_id, ScheduleTick.sent_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).one_or_none()


def mark_sent(session: Session, tick_id: int) -> None:
    session.execute(
        update(ScheduleTick).where(ScheduleTick.id == tick_id).values(sent_at=func.now(), send_error=None)
    )


def record_send_error(session: Session, tick_id: int, error: str) -> None:
    session.execute(
        update(ScheduleTick).where(ScheduleTick.id == tick_id, ScheduleTick.sent_at.is_(None)).values(send_error=error)
    )


def unsent_ticks(session: Session, *, claimed_by: str, stale_before: datetime, limit: int = 50) -> list[ScheduleTick]:
    """Claims still to send: this process's own, and other processes' claims older than `stale_before`."""
    query = (
        select(ScheduleTick)
        .where(ScheduleTick.sent_at.is_(None))
        .where((ScheduleTick.claimed_by == claimed_by) | (ScheduleTick.claimed_at < stale_before))
        .order_by(ScheduleTick.scheduled_for)
        .limit(limit)
    )
    return list(session.scalars(query))


def last_ticks(session: Session, names: list[str]) -> dict[str, tuple[ScheduleTick, Run | None]]:
    """Each named entry's latest claimed tick, with the run of its message (if recorded)."""
    rows = session.execute(
        select(ScheduleTick, Run)
        .outerjoin(Run, Run.message_id == ScheduleTick.message_id)
        .where(ScheduleTick.schedule_name.in_(names))
        .ext(distinct_on(ScheduleTick.schedule_name))
        .order_by(ScheduleTick.schedule_name, ScheduleTick.scheduled_for.desc())
    ).all()
    return {tick.schedule_name: (tick, run) for tick, run in rows}
