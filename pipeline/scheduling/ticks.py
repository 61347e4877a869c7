"""What the schedule's ticks did: per entry its last tick and run, its next tick, and its state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline.history.reads import late_by_ms
from pipeline.models import Run, ScheduleTick
from pipeline.scheduling.table import (
    ON_TIME,
    Entry,
    ScheduleError,
    ScheduleTable,
    load_table,
    table_path,
)
from pipeline.sql.ticks import last_ticks

logger = logging.getLogger(__name__)


def schedule_overview(session: Session, table: ScheduleTable, now: datetime) -> list[dict[str, Any]]:
    """Per entry: its last tick (who claimed it, the message, the run's outcome), its next, and its state.

    state: `ok` (the latest due tick was sent), `unsent` (claimed, send pending),
    `late` (not claimed yet, a scheduler may still fire it: within a minute, or
    the catch-up grace), `missed` (not claimed and past that), `waiting` (no
    tick yet), `disabled`.
    """
    last = last_ticks(session, [e.name for e in table.entries])
    overview = []
    for entry in table.entries:
        tick, run = last.get(entry.name, (None, None))
        overview.append(_overview(entry, tick, run, now))
    return overview


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


@dataclass
class ScheduleView:
    entries: list[dict[str, Any]] | None
    note: str | None = None
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "note": self.note, "source": self.source}


def schedule_view(session: Session, now: datetime, schedule_file: str | None) -> ScheduleView:
    """The overview as the dashboard, the API and `stonks inspect` show it: a fault (no table yet, an
    invalid table, a schema without the ticks' columns) becomes a note instead of an error."""
    try:
        table = load_table(table_path(schedule_file))
    except ScheduleError as exc:
        return ScheduleView(None, str(exc))
    try:
        with session.begin_nested():
            return ScheduleView(schedule_overview(session, table, now), None, table.source)
    except SQLAlchemyError as exc:
        logger.warning("schedule overview failed: %s", str(exc).splitlines()[0])
        return ScheduleView(None, f"The schedule ticks could not be read ({type(exc).__name__}); "
                                  "is the schema up to date (`stonks db upgrade`)?", table.source)
