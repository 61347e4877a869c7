"""The schedule table as the dashboard shows it: next, last and late ticks per entry.

The overview comes from `pipeline.ticks`; it is imported when asked for, and any
fault (no table yet, an invalid table, a schema without the ticks' columns)
becomes a note on the page instead of an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


@dataclass
class ScheduleView:
    entries: list[dict[str, Any]] | None
    note: str | None = None
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "note": self.note, "source": self.source}


def overview(session: Session, now: datetime, schedule_file: str | None) -> ScheduleView:
    try:
        from pipeline.schedule_table import ScheduleError, load_table, table_path
        from pipeline.ticks import schedule_overview
    except ImportError as exc:
        return ScheduleView(None, f"The schedule overview is not available in this version ({exc}).")
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
