"""Reads behind the operations pages: workers, runs, overview counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.history.reads import search_runs
from pipeline.models import Run, Worker

MAX_OFFSET = 2**31  # far past any run history, and within PostgreSQL's bigint OFFSET
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
    query = select(Worker).order_by(Worker.last_seen_at.desc())
    if not include_old:
        query = query.where(Worker.last_seen_at >= now - STOPPED_SHOWN_FOR)
    views = []
    for row in session.scalars(query):
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


@dataclass(frozen=True)
class RunFilters:
    actor: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    message_id: str | None = None


def runs_page(session: Session, filters: RunFilters, limit: int, offset: int) -> tuple[list[Run], bool]:
    """One page of runs, newest first, and whether another page follows."""
    rows = search_runs(
        session, actor=filters.actor, status=filters.status, since=filters.since, until=filters.until,
        message_id=filters.message_id, limit=limit + 1, offset=offset,
    )
    return rows[:limit], len(rows) > limit


def run_row(run: Run) -> dict[str, Any]:
    return {
        "message_id": run.message_id, "actor": run.actor, "queue": run.queue, "status": run.status,
        "status_at": run.status_at.isoformat(), "enqueued_at": run.enqueued_at.isoformat() if run.enqueued_at else None,
        "attempts": run.attempts, "duration_ms": run.duration_ms, "error": run.error,
        "parent_id": run.parent_id,
    }


def known_actors(session: Session) -> list[str]:
    return [a for a in session.scalars(select(Run.actor).distinct().order_by(Run.actor)) if a]


def children(session: Session, message_id: str) -> list[Run]:
    return list(session.scalars(select(Run).where(Run.parent_id == message_id).order_by(Run.enqueued_at)))


def status_counts(session: Session, since: datetime) -> dict[str, int]:
    rows = session.execute(
        select(Run.status, func.count()).where(Run.status_at >= since).group_by(Run.status)
    ).all()
    return {status: count for status, count in rows}


def recent_problems(session: Session, limit: int = 8) -> list[Run]:
    query = (select(Run).where(Run.status.in_(("failed", "dead_lettered")))
             .order_by(Run.status_at.desc()).limit(limit))
    return list(session.scalars(query))


def delayed_runs(session: Session, limit: int = 200) -> list[Run]:
    """Messages waiting for a later attempt: retries with backoff and deferrals."""
    query = (select(Run).where(Run.status.in_(("retrying", "delayed")))
             .order_by(Run.status_at).limit(limit))
    return list(session.scalars(query))
