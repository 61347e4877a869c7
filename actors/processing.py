"""Processing actors (queue `processing`): aggregation, cleanup and backfill, names and arguments of seed 000.

    >>> from actors import backfill_snapshots
    >>> backfill_snapshots.send("2025-01-01", "2025-01-31")   # `stonks backfill` shows its progress

Dates are ISO days (YYYY-MM-DD), in UTC. Bad arguments fail at once with
`InvalidInput`, are not retried, and write nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq

from actors.batches import current_message_id, fan_out
from pipeline.db import session_scope
from pipeline.errors import InvalidInput
from pipeline.services import backfill, batches, cleanup, prices, snapshots
from pipeline.services.inputs import parse_count, parse_past_day, parse_uuid

QUEUE = "processing"
THROWS = (InvalidInput,)
MAX_DAYS_TO_KEEP = 36_500


def utcnow() -> datetime:
    return datetime.now(UTC)


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=25 * 60_000, throws=THROWS)
def aggregate_daily_snapshots(target_date: str | None = None) -> dict[str, Any]:
    """Without a date, the daily job: yesterday again, and every earlier day never aggregated in full.

    With a date, that day only (a backfill's member).
    """
    now = utcnow()
    if target_date is None:
        return snapshots.converge(session_scope, now)
    day = parse_past_day(target_date, "target_date", now.date(), default=now.date() - timedelta(days=1))
    with session_scope() as session:
        summary = snapshots.aggregate_day(session, day, now)
        batches.member_succeeded(session, current_message_id(), now)
    return summary


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=2 * 60_000, throws=THROWS)
def aggregate_snapshot_for_minifigure(minifigure_id: str, target_date: str | None = None) -> dict[str, Any]:
    """One figure, one day (default: today, UTC): the real-time path after a fetch."""
    now = utcnow()
    figure_id = parse_uuid(minifigure_id, "minifigure_id")
    day = parse_past_day(target_date, "target_date", now.date(), default=now.date())
    with session_scope() as session:
        prices.load_figure(session, figure_id)
        return snapshots.aggregate_figure(session, figure_id, day)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=25 * 60_000, throws=THROWS)
def cleanup_old_listings(days_to_keep: int = 90) -> dict[str, Any]:
    """Delete raw listings older than `days_to_keep` days in short batches; snapshots stay."""
    days = parse_count(days_to_keep, "days_to_keep", 1, MAX_DAYS_TO_KEEP)
    return cleanup.cleanup_listings(session_scope, days, utcnow())


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=2 * 60_000, throws=THROWS)
def backfill_snapshots(start_date: str, end_date: str) -> dict[str, Any]:
    """A group of per-day aggregations, start to end included (at most 366 days); progress in its run history."""
    now = utcnow()
    days = backfill.days(start_date, end_date, now.date())
    summary = fan_out("backfill", None, [d.isoformat() for d in days], aggregate_daily_snapshots.message, now)
    return {**summary, "start_date": days[0].isoformat(), "end_date": days[-1].isoformat()}
