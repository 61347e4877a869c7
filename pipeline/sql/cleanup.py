"""Deleting old raw listings by id ranges: each statement touches at most one range of the primary key."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from pipeline.sql import rowcount


def mark_days_deleted(session: Session, cutoff: date, now: datetime) -> int:
    """Mark every day before `cutoff` as losing its listings; the number newly marked."""
    sql = "UPDATE snapshot_days SET listings_deleted_at = :now WHERE day < :cutoff AND listings_deleted_at IS NULL"
    return rowcount(session.execute(text(sql), {"now": now, "cutoff": cutoff}))


def id_range(session: Session, cutoff: date) -> tuple[int | None, int | None]:
    sql = "SELECT min(id), max(id) FROM price_observations WHERE observed_on < :cutoff"
    low, high = session.execute(text(sql), {"cutoff": cutoff}).one()
    return low, high


def delete_range(session: Session, cutoff: date, start: int, stop: int) -> int:
    sql = "DELETE FROM price_observations WHERE id >= :start AND id < :stop AND observed_on < :cutoff"
    return rowcount(session.execute(text(sql), {"start": start, "stop": stop, "cutoff": cutoff}))
