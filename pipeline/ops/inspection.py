"""Dramatiq's answers to `celery inspect active|registered|stats|scheduled`.

Dramatiq workers take no remote-control commands, so the answers come from what
the system records: heartbeats (in-flight messages, counters), the broker's
actors, the `.DQ` queues and the run history (delayed messages), and the
schedule table (next ticks).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.history.reads import delayed_runs
from pipeline.ops import rabbit
from pipeline.ops.dispatch import Dispatcher
from pipeline.ops.workers import list_workers
from pipeline.scheduling.ticks import schedule_view
from pipeline.settings import Settings


def active(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Messages being processed right now, per live worker."""
    rows = []
    for w in list_workers(session, now):
        for m in w.in_flight:
            started = datetime.fromtimestamp(m["started"], UTC) if m.get("started") else None
            rows.append({"worker": w.worker_id, "message_id": m["message_id"], "actor": m.get("actor"),
                         "started_at": started.isoformat() if started else None,
                         "running_s": round((now - started).total_seconds(), 1) if started else None})
    return rows


def registered(dispatcher: Dispatcher) -> list[dict[str, Any]]:
    return [a.as_dict() for a in dispatcher.actors()]


def stats(session: Session, now: datetime) -> dict[str, Any]:
    views = list_workers(session, now)
    workers = [{"worker": w.worker_id, "state": w.state, "hostname": w.hostname, "pid": w.pid, "queues": w.queues,
                "processed": w.processed, "failed": w.failed, "in_flight": len(w.in_flight), "rss_mb": w.rss_mb,
                "uptime_s": round((now - w.started_at).total_seconds()), "last_seen_s": w.seen_ago_s} for w in views]
    alive = [w for w in workers if w["state"] == "alive"]
    return {"workers": workers, "totals": {
        "alive": len(alive), "gone": sum(w["state"] == "gone" for w in workers),
        "processed": sum(w["processed"] for w in alive), "failed": sum(w["failed"] for w in alive),
        "in_flight": sum(w["in_flight"] for w in alive)}}


def scheduled(session: Session, settings: Settings, dispatcher: Dispatcher, now: datetime,
              limit: int = 50) -> dict[str, Any]:
    """Delayed messages (retries with backoff, deferrals, sends with a delay) and the next schedule ticks."""
    waiting = []
    for queue in dispatcher.queues():
        try:
            for m in rabbit.peek(settings, f"{queue}.DQ", limit):
                eta = m.options.get("eta")
                waiting.append({"queue": queue, "message_id": m.message_id, "actor": m.actor,
                                "eta": datetime.fromtimestamp(eta / 1000, UTC).isoformat() if eta else None})
        except rabbit.QueueNotFound:
            continue
    runs = [{"message_id": r.message_id, "actor": r.actor, "status": r.status, "since": r.status_at.isoformat(),
             "retries": r.retries, "error": r.error} for r in delayed_runs(session, limit)]
    view = schedule_view(session, now, settings.schedule_file)
    ticks = [{"name": e["name"], "actor": e["actor"], "next_tick": e["next_tick"], "state": e["state"]}
             for e in view.entries or [] if e.get("enabled", True)]
    return {
        "delayed_runs": runs,  # from history: waiting for their next attempt
        "delay_queue_messages": waiting,  # in .DQ, not yet taken by a worker (workers hold the rest until eta)
        "schedule": sorted(ticks, key=lambda t: t["next_tick"] or ""),
        "schedule_note": view.note,
    }
