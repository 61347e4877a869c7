"""Aggregation: snapshots for a day, for one figure, and the daily job that converges.

The daily job (no date given) re-does yesterday and fills every earlier day
that still has listings but was never aggregated in full (by any method
version: recomputing by a newer one is an explicit backfill), however long the
scheduler was down; each day is its own transaction,
so an interrupted run keeps what it did and the next one goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.sql import observations, snapshots

Scope = Callable[[], AbstractContextManager[Session]]


def aggregate_day(session: Session, day: date, now: datetime) -> dict[str, Any]:
    """Every figure's snapshots of `day`; a day that is over is then marked complete."""
    if snapshots.listings_deleted(session, day):
        return {"day": day.isoformat(), "snapshots": 0,
                "skipped": "its listings were cleaned up; the snapshots made from them are kept"}
    done = snapshots.aggregate_day(session, day)
    if day < now.date():
        snapshots.mark_day_complete(session, day, now, done)
    return {"day": day.isoformat(), **snapshots.counts(done)}


def aggregate_figure(session: Session, figure_id: uuid.UUID, day: date) -> dict[str, Any]:
    done = snapshots.aggregate_day(session, day, [figure_id])
    return {"minifigure_id": str(figure_id), "day": day.isoformat(), **snapshots.counts(done)}


def price_batch_finished(session: Session, day: date | None, keys: list[str], now: datetime) -> dict[str, Any]:
    """A prices batch is over: the snapshots of its day (and today's) for the figures it fetched."""
    if day is None:
        return {}
    days = sorted({day, now.date()})
    figures = [uuid.UUID(key) for key in keys]
    done = [snapshots.aggregate_day(session, d, figures) for d in days] if figures else []
    return {**snapshots.counts(*done), "days": [d.isoformat() for d in days]}


def days_to_converge(session: Session, yesterday: date) -> list[date]:
    """Yesterday, and every earlier day with listings but no complete aggregation."""
    first = observations.oldest_day(session)
    missing = snapshots.days_to_aggregate(session, first, yesterday - timedelta(days=1)) if first else []
    return [*missing, yesterday]


def converge(scope: Scope, now: datetime) -> dict[str, Any]:
    """The daily job: one transaction to find the days, then one per day."""
    yesterday = now.date() - timedelta(days=1)
    with scope() as session:
        days = days_to_converge(session, yesterday)
    written = 0
    for day in days:
        with scope() as session:
            written += aggregate_day(session, day, now)["snapshots"]
    filled = [d.isoformat() for d in days if d != yesterday]
    return {"target_date": yesterday.isoformat(), "days": len(days), "filled": filled, "snapshots": written}
