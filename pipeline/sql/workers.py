"""The workers table: one row per worker process, written by its heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import Worker

_UPSERT = """
INSERT INTO workers (worker_id, hostname, pid, queues, started_at, last_seen_at, stopped_at,
                     in_flight, processed, failed, rss_mb)
VALUES (%(worker_id)s, %(hostname)s, %(pid)s, %(queues)s, %(started_at)s, now(), %(stopped_at)s,
        %(in_flight)s, %(processed)s, %(failed)s, %(rss_mb)s)
ON CONFLICT (worker_id) DO UPDATE SET queues = EXCLUDED.queues, last_seen_at = now(),
    stopped_at = EXCLUDED.stopped_at, in_flight = EXCLUDED.in_flight,
    processed = EXCLUDED.processed, failed = EXCLUDED.failed, rss_mb = EXCLUDED.rss_mb
"""


def write_heartbeat(conn: psycopg.Connection[Any], *, worker_id: str, hostname: str, pid: int, queues: list[str],
                    started_at: datetime, stopped_at: datetime | None, in_flight: list[dict[str, Any]],
                    processed: int, failed: int, rss_mb: int) -> None:
    """The process's row, seen now (on the heartbeat thread's own autocommit connection)."""
    conn.execute(_UPSERT, {"worker_id": worker_id, "hostname": hostname, "pid": pid, "queues": queues,
                           "started_at": started_at, "stopped_at": stopped_at, "in_flight": Jsonb(in_flight),
                           "processed": processed, "failed": failed, "rss_mb": rss_mb})


def seen_since(session: Session, since: datetime | None) -> list[Worker]:
    """Workers last seen since `since` (every one when None), the latest first."""
    query = select(Worker).order_by(Worker.last_seen_at.desc())
    if since is not None:
        query = query.where(Worker.last_seen_at >= since)
    return list(session.scalars(query))
