"""Cleanup of raw listings older than N days, in short batches; snapshots are kept forever.

Before any listing goes, every day about to lose its listings is aggregated in
full (if it never was) and marked, in its own transaction: from then on no
aggregation touches that day, so a half-deleted day never rewrites its
snapshots. Deletes go by id ranges of BATCH_ROWS, each its own transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline.services.snapshots import Scope, aggregate_day
from pipeline.sql import cleanup, observations, receipts, snapshots

BATCH_ROWS = 10_000
RECEIPT_DAYS = 7  # a message older than a day is never delivered again (AgeLimit)


def cleanup_listings(scope: Scope, days_to_keep: int, now: datetime, batch_rows: int = BATCH_ROWS) -> dict[str, Any]:
    cutoff = now.date() - timedelta(days=days_to_keep)
    with scope() as session:
        first = observations.oldest_day(session)
        unfinished = snapshots.days_to_aggregate(session, first, cutoff - timedelta(days=1)) if first else []
    for day in unfinished:
        with scope() as session:
            aggregate_day(session, day, now)
    with scope() as session:
        marked = cleanup.mark_days_deleted(session, cutoff, now)
        low, high = cleanup.id_range(session, cutoff)
    deleted = batches = 0
    if low is not None and high is not None:
        for start in range(low, high + 1, batch_rows):
            with scope() as session:
                deleted += cleanup.delete_range(session, cutoff, start, start + batch_rows)
            batches += 1
    with scope() as session:
        receipts_dropped = receipts.forget_before(session, now - timedelta(days=RECEIPT_DAYS))
    return {"cutoff": cutoff.isoformat(), "deleted": deleted, "batches": batches, "days_marked": marked,
            "aggregated_first": [d.isoformat() for d in unfinished], "receipts_dropped": receipts_dropped}
