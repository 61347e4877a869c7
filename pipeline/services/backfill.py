"""Backfill: the days of a range and what each holds, for the fan-out and for --dry-run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from pipeline.services.inputs import parse_range
from pipeline.sql.snapshots import day_counts


@dataclass(frozen=True)
class PlannedDay:
    day: date
    listings: int  # raw listings left for the day (none once cleaned up)
    snapshots: int  # snapshots the day has now

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "listings": self.listings, "snapshots": self.snapshots}


def days(start: Any, end: Any, today: date) -> list[date]:
    """The days from start to end; `InvalidInput` for a bad or too long range."""
    return parse_range(start, end, today)


def plan(session: Session, start: Any, end: Any, today: date) -> list[PlannedDay]:
    wanted = days(start, end, today)
    return [PlannedDay(*row) for row in day_counts(session, wanted[0], wanted[-1])]
