"""Schedule ticks in PostgreSQL: claim each tick once, send it, and report on every entry.

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
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from pipeline.history.reads import late_by_ms
from pipeline.models import Run, ScheduleTick
from pipeline.schedule_table import ON_TIME, Entry, ScheduleTable


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


def schedule_overview(session: Session, table: ScheduleTable, now: datetime) -> list[dict[str, Any]]:
    """Per entry: its last tick (who claimed it, the message, the run's outcome), its next, and its state.

    state: `ok` (the latest due tick was sent), `unsent` (claimed, send pending),
    `late` (not claimed yet, a scheduler may still fire it: within a minute, or
    the catch-up grace), `missed` (not claimed and past that), `waiting` (no
    tick yet), `disabled`.
    """
    names = [e.name for e in table.entries]
    rows = session.execute(
        select(ScheduleTick, Run)
        .outerjoin(Run, Run.message_id == ScheduleTick.message_id)
        .where(ScheduleTick.schedule_name.in_(names))
        .ext(distinct_on(ScheduleTick.schedule_name))
        .order_by(ScheduleTick.schedule_name, ScheduleTick.scheduled_for.desc())
    ).all()
    last = {tick.schedule_name: (tick, run) for tick, run in rows}
    return [_overview(entry, *last.get(entry.name, (None, None)), now) for entry in table.entries]


def _overview(entry: Entry, tick: ScheduleTick | None, run: Run | None, now: datetime) -> dict[str, Any]:
    due = entry.previous_tick(now)
    if not entry.enabled:
        state = "disabled"
    elif due is None:
        state = "waiting"
    elif tick is not None and tick.scheduled_for >= due:
        state = "ok" if tick.sent_at is not None else "unsent"
    else:
        window = max(entry.catch_up.grace, ON_TIME)
        state = "late" if now - due < window else "missed"
    return {
        **entry.describe(),
        "state": state,
        "due_tick": _iso(due),
        "next_tick": _iso(entry.next_tick(now)),
        "last_tick": None if tick is None else {
            "scheduled_for": _iso(tick.scheduled_for),
            "claimed_at": _iso(tick.claimed_at),
            "claimed_by": tick.claimed_by,
            "runner": tick.runner,
            "message_id": tick.message_id,
            "sent_at": _iso(tick.sent_at),
            "send_error": tick.send_error,
            "catch_up": tick.catch_up,
            "late_by_ms": tick.late_by_ms,
            "run": None if run is None else {
                "status": run.status,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "late_by_ms": late_by_ms(run),
                "error": run.error,
            },
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
