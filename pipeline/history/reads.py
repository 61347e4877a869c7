"""Reading run history: status by message id, searches, and the text a person reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.models import Run, RunEvent
from pipeline.sql import runs

MAX_OFFSET = 2**31  # far past any run history, and within PostgreSQL's bigint OFFSET


@dataclass(frozen=True)
class RunLife:
    run: Run
    events: list[RunEvent]

    def as_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "message_id": r.message_id,
            "actor": r.actor,
            "queue": r.queue,
            "status": r.status,
            "attempts": r.attempts,
            "retries": r.retries,
            "worker": r.worker,
            "enqueued_at": _iso(r.enqueued_at),
            "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at),
            "duration_ms": r.duration_ms,
            "args": r.args,
            "kwargs": r.kwargs,
            "result": r.result,
            "error": r.error,
            "traceback": r.traceback,
            "group_id": r.group_id,
            "parent_id": r.parent_id,
            "schedule_name": r.schedule_name,
            "scheduled_for": _iso(r.scheduled_for),
            "late_by_ms": late_by_ms(r),
            "progress": {"done": r.progress_done, "total": r.progress_total} if r.progress_total else None,
            "events": [
                {
                    "at": _iso(e.at),
                    "event": e.event,
                    "worker": e.worker,
                    "error": e.error,
                    "traceback": e.traceback,
                    "data": e.data,
                }
                for e in self.events
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def late_by_ms(run: Run) -> int | None:
    """How long after its scheduled tick a scheduled run started."""
    if run.scheduled_for is None or run.started_at is None:
        return None
    return int((run.started_at - run.scheduled_for).total_seconds() * 1000)


def comparable(text: str | None) -> bool:
    """PostgreSQL can compare it: no NUL, no unpaired surrogate. Other text names no run."""
    if text is None:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def get_run(session: Session, message_id: str) -> RunLife | None:
    if not comparable(message_id):
        return None
    found = runs.run_with_events(session, message_id)
    return None if found is None else RunLife(*found)


def search_runs(
    session: Session,
    *,
    actor: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    message_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Run]:
    if not all(comparable(text) for text in (actor, status, message_id)):
        return []
    return runs.search(session, actor=actor, status=status, since=since, until=until, message_id=message_id,
                       limit=limit, offset=offset)


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


def recent_problems(session: Session, limit: int = 8) -> list[Run]:
    """The latest runs that failed or were dead-lettered."""
    return runs.latest_with_status(session, ("failed", "dead_lettered"), limit)


def delayed_runs(session: Session, limit: int = 200) -> list[Run]:
    """Messages waiting for a later attempt: retries with backoff and deferrals, the longest waiting first."""
    return runs.latest_with_status(session, ("retrying", "delayed"), limit, oldest_first=True)


def format_life(life: RunLife) -> str:
    """A run's life as a person reads it in a terminal."""
    d = life.as_dict()
    lines = [
        f"message  {d['message_id']}",
        f"actor    {d['actor']} on {d['queue']}",
        f"status   {d['status']} (attempts: {d['attempts']}, retries: {d['retries']})",
        f"args     {json.dumps(d['args'])} {json.dumps(d['kwargs'])}",
    ]
    if d["worker"]:
        lines.append(f"worker   {d['worker']}")
    if d["duration_ms"] is not None:
        lines.append(f"duration {d['duration_ms']} ms")
    if d["scheduled_for"]:
        late = d["late_by_ms"]
        started = f", started {late} ms late" if late is not None else ""
        lines.append(f"schedule {d['schedule_name']} tick {d['scheduled_for']}{started}")
    if d["progress"]:
        lines.append(f"progress {d['progress']['done']}/{d['progress']['total']}")
    if d["result"] is not None:
        lines.append(f"result   {json.dumps(d['result'])}")
    if d["error"]:
        lines.append(f"error    {d['error']}")
    lines.append("")
    for e in d["events"]:
        detail = e["error"] or (json.dumps(e["data"]) if e["data"] else "")
        lines.append(f"  {e['at']}  {e['event']:<14} {e['worker'] or '':<24} {detail}".rstrip())
    if d["traceback"]:
        lines += ["", d["traceback"].rstrip()]
    return "\n".join(lines)
