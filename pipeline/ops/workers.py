"""Worker processes as their heartbeats describe them: alive, gone (stopped beating) or stopped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.models import Worker
from pipeline.sql import workers as sql

HEARTBEAT_S = 5.0  # the interval of actors.middleware.workers.Heartbeats
GONE_AFTER_S = 3 * HEARTBEAT_S  # three missed heartbeats: the process is gone
STOPPED_SHOWN_FOR = timedelta(hours=24)


@dataclass
class WorkerView:
    worker_id: str
    hostname: str
    pid: int
    queues: list[str]
    state: str  # alive, gone (stopped beating), stopped (said goodbye)
    started_at: datetime
    last_seen_at: datetime
    seen_ago_s: float
    in_flight: list[dict[str, Any]]
    processed: int
    failed: int
    rss_mb: int | None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in ("started_at", "last_seen_at"):
            data[key] = data[key].isoformat()
        return data


def worker_state(row: Worker, now: datetime) -> str:
    if row.stopped_at is not None:
        return "stopped"
    return "gone" if (now - row.last_seen_at).total_seconds() > GONE_AFTER_S else "alive"


def list_workers(session: Session, now: datetime, *, include_old: bool = False) -> list[WorkerView]:
    views = []
    for row in sql.seen_since(session, None if include_old else now - STOPPED_SHOWN_FOR):
        state = worker_state(row, now)
        views.append(WorkerView(
            worker_id=row.worker_id, hostname=row.hostname, pid=row.pid, queues=list(row.queues or []),
            state=state, started_at=row.started_at, last_seen_at=row.last_seen_at,
            seen_ago_s=round((now - row.last_seen_at).total_seconds(), 1),
            in_flight=list(row.in_flight or []) if state == "alive" else [],
            processed=row.processed, failed=row.failed, rss_mb=row.rss_mb,
        ))
    order = {"alive": 0, "gone": 1, "stopped": 2}
    return sorted(views, key=lambda v: order[v.state])
