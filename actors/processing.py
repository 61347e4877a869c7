"""Processing actors (queue `processing`): aggregation, cleanup and backfill, names and arguments of seed 000.

    >>> from actors import backfill_snapshots
    >>> backfill_snapshots.send("2025-01-01", "2025-01-31")   # `stonks backfill` shows its progress

Dates are ISO days (YYYY-MM-DD), in UTC. Bad arguments fail at once with
`InvalidInput`, are not retried, and write nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import dramatiq

from actors.arguments import argument_check
from actors.batches import current_message_id, fan_out
from pipeline.clock import utcnow
from pipeline.db import session_scope
from pipeline.errors import InvalidInput
from pipeline.services import backfill, batches, cleanup, prices, snapshots
from pipeline.services.inputs import parse_count, parse_past_day, parse_uuid

QUEUE = "processing"
THROWS = (InvalidInput,)
MAX_DAYS_TO_KEEP = 36_500



@argument_check("aggregate_daily_snapshots")
def daily_arguments(target_date: str | None = None) -> date | None:
    """None without a date (the daily job); otherwise the day, which must not be in the future."""
    today = utcnow().date()
    return None if target_date is None else parse_past_day(target_date, "target_date", today,
                                                            default=today - timedelta(days=1))


@argument_check("aggregate_snapshot_for_minifigure")
def figure_day_arguments(minifigure_id: str, target_date: str | None = None) -> tuple[uuid.UUID, date]:
    today = utcnow().date()
    return parse_uuid(minifigure_id, "minifigure_id"), parse_past_day(target_date, "target_date", today, default=today)


@argument_check("cleanup_old_listings")
def cleanup_arguments(days_to_keep: int = 90) -> int:
    return parse_count(days_to_keep, "days_to_keep", 1, MAX_DAYS_TO_KEEP)


@argument_check("backfill_snapshots")
def backfill_arguments(start_date: str, end_date: str) -> list[date]:
    return backfill.days(start_date, end_date, utcnow().date())


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=25 * 60_000, throws=THROWS)
def aggregate_daily_snapshots(target_date: str | None = None) -> dict[str, Any]:
    """Without a date, the daily job: yesterday again, and every earlier day never aggregated in full.

    With a date, that day only (a backfill's member).
    """
    now = utcnow()
    day = daily_arguments(target_date)
    if day is None:
        return snapshots.converge(session_scope, now)
    with session_scope() as session:
        summary = snapshots.aggregate_day(session, day, now)
        batches.member_succeeded(session, current_message_id(), now)
    return summary


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=2 * 60_000, throws=THROWS)
def aggregate_snapshot_for_minifigure(minifigure_id: str, target_date: str | None = None) -> dict[str, Any]:
    """One figure, one day (default: today, UTC): the real-time path after a fetch."""
    figure_id, day = figure_day_arguments(minifigure_id, target_date)
    with session_scope() as session:
        prices.load_figure(session, figure_id)
        return snapshots.aggregate_figure(session, figure_id, day)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=25 * 60_000, throws=THROWS)
def cleanup_old_listings(days_to_keep: int = 90) -> dict[str, Any]:
    """Delete raw listings older than `days_to_keep` days in short batches; snapshots stay."""
    days = cleanup_arguments(days_to_keep)
    return cleanup.cleanup_listings(session_scope, days, utcnow())


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=2 * 60_000, throws=THROWS)
def backfill_snapshots(start_date: str, end_date: str) -> dict[str, Any]:
    """A group of per-day aggregations, start to end included (at most 366 days); progress in its run history."""
    now = utcnow()
    days = backfill_arguments(start_date, end_date)
    summary = fan_out("backfill", None, [d.isoformat() for d in days],
                      lambda chunk: aggregate_daily_snapshots.message(*chunk), now)
    return {**summary, "start_date": days[0].isoformat(), "end_date": days[-1].isoformat()}
