"""The runs and run_events tables: a batch of run events written in one transaction.

Events go by COPY into run_events; each message's events are folded into one row
of runs, upserted set-wise. This is the history writers' path (thread mode and the
sidecar): plain psycopg on their own autocommit connection, as COPY needs.
The reads at the end serve the dashboard, the API and the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session

from pipeline.history.events import TERMINAL, RunEvent, storable_json, storable_text
from pipeline.models import Run
from pipeline.models import RunEvent as RunEventRow

# One statement upserts a batch of runs, each row folding that message's events.
# A status only moves forward in time, and an "enqueued" never overwrites a later
# state (the producer's event can arrive after the worker's); a requeue is the one
# event that may reopen a run. Rows arrive as one JSON document (one encode, one
# parameter) and are taken in message-id order, so concurrent writers lock rows
# in the same order.
_RUN_ROWS = """
    message_id text, actor text, queue text, status text, at timestamptz, args jsonb, kwargs jsonb,
    options jsonb, enqueued_at timestamptz, started_at timestamptz, finished_at timestamptz,
    attempt_inc int, retries int, worker text, duration_ms int, result jsonb, error text,
    traceback text, group_id text, parent_id text, schedule_name text, scheduled_for timestamptz,
    progress_done int, progress_total int
"""

_UPSERT_RUNS = f"""
INSERT INTO runs AS r (message_id, actor, queue, status, status_at, args, kwargs, options,
    enqueued_at, started_at, finished_at, attempts, retries, worker, duration_ms, result,
    error, traceback, group_id, parent_id, schedule_name, scheduled_for,
    progress_done, progress_total, updated_at)
SELECT e.message_id, e.actor, e.queue, COALESCE(e.status, 'running'), e.at, e.args, e.kwargs,
    e.options, e.enqueued_at, e.started_at, e.finished_at, e.attempt_inc, COALESCE(e.retries, 0),
    e.worker, e.duration_ms, e.result, e.error, e.traceback, e.group_id, e.parent_id,
    e.schedule_name, e.scheduled_for, e.progress_done, e.progress_total, now()
FROM jsonb_to_recordset(%s::jsonb) AS e({_RUN_ROWS})
ORDER BY e.message_id
ON CONFLICT (message_id) DO UPDATE SET
    actor = COALESCE(r.actor, EXCLUDED.actor),
    queue = COALESCE(r.queue, EXCLUDED.queue),
    args = COALESCE(r.args, EXCLUDED.args),
    kwargs = COALESCE(r.kwargs, EXCLUDED.kwargs),
    options = COALESCE(r.options, EXCLUDED.options),
    status = CASE WHEN %(moves)s THEN EXCLUDED.status ELSE r.status END,
    status_at = CASE WHEN %(moves)s THEN EXCLUDED.status_at ELSE r.status_at END,
    enqueued_at = LEAST(r.enqueued_at, EXCLUDED.enqueued_at),
    started_at = COALESCE(EXCLUDED.started_at, r.started_at),
    finished_at = CASE WHEN %(moves)s AND %(reopens)s THEN NULL
                       ELSE COALESCE(EXCLUDED.finished_at, r.finished_at) END,
    attempts = r.attempts + EXCLUDED.attempts,
    retries = GREATEST(r.retries, EXCLUDED.retries),
    worker = COALESCE(EXCLUDED.worker, r.worker),
    duration_ms = COALESCE(EXCLUDED.duration_ms, r.duration_ms),
    result = COALESCE(EXCLUDED.result, r.result),
    error = CASE WHEN %(moves)s AND %(reopens)s THEN r.error ELSE COALESCE(EXCLUDED.error, r.error) END,
    traceback = COALESCE(EXCLUDED.traceback, r.traceback),
    group_id = COALESCE(r.group_id, EXCLUDED.group_id),
    parent_id = COALESCE(r.parent_id, EXCLUDED.parent_id),
    schedule_name = COALESCE(r.schedule_name, EXCLUDED.schedule_name),
    scheduled_for = COALESCE(r.scheduled_for, EXCLUDED.scheduled_for),
    progress_done = COALESCE(EXCLUDED.progress_done, r.progress_done),
    progress_total = COALESCE(EXCLUDED.progress_total, r.progress_total),
    updated_at = now()
"""

# How a folded row may move the run's status, and the statement for each way. Any
# later state moves a run that is still "enqueued", whatever the clocks say: the
# producer's and the worker's clocks can disagree, and the producer's event can
# reach the history after a fast worker's.
_MOVES = {
    "keeps": ("FALSE", "FALSE"),
    "forward": ("(r.status = 'enqueued' OR EXCLUDED.status_at >= r.status_at)", "FALSE"),
    "reopens": ("TRUE", "TRUE"),
}
_UPSERTS = {mode: _UPSERT_RUNS.replace("%(moves)s", moves).replace("%(reopens)s", reopens)
            for mode, (moves, reopens) in _MOVES.items()}


def _params(event: RunEvent) -> dict[str, Any]:
    return {
        "message_id": event.message_id,
        "status": event.status,
        "at": event.at,
        "actor": event.actor,
        "queue": event.queue,
        "args": event.args,
        "kwargs": event.kwargs,
        "options": event.options,
        "enqueued_at": event.at if event.event in ("enqueued", "delayed") else None,
        "started_at": event.at if event.event == "running" else None,
        "finished_at": event.at if event.status in TERMINAL else None,
        "attempt_inc": 1 if event.event == "running" else 0,
        "retries": event.retries,
        "worker": event.worker,
        "duration_ms": event.duration_ms,
        "result": event.result,
        "error": event.error,
        "traceback": event.traceback,
        "group_id": event.group_id,
        "parent_id": event.parent_id,
        "schedule_name": event.schedule_name,
        "scheduled_for": event.scheduled_for,
        "progress_done": event.progress_done,
        "progress_total": event.progress_total,
    }


_FIRST_WINS = ("actor", "queue", "args", "kwargs", "options", "group_id", "parent_id", "schedule_name",
               "scheduled_for")
_LAST_WINS = ("started_at", "finished_at", "worker", "duration_ms", "result", "error", "traceback",
              "progress_done", "progress_total")


def _segments(events: list[RunEvent]) -> list[list[list[RunEvent]]]:
    """Rounds of per-message runs of consecutive events: a message appears once per round.

    A requeue, which reopens a run, stands alone, so a message that was requeued has
    segments in later rounds; most batches are a single round.
    """
    by_message: dict[str, list[list[RunEvent]]] = {}
    for event in events:
        if event.message_id == "-":
            continue
        segments = by_message.setdefault(event.message_id, [[]])
        alone = event.event == "requeued"
        if segments[-1] and (alone or segments[-1][-1].event == "requeued"):
            segments.append([])
        segments[-1].append(event)
    rounds: list[list[list[RunEvent]]] = []
    for segments in by_message.values():
        for depth, segment in enumerate(segments):
            if depth == len(rounds):
                rounds.append([])
            rounds[depth].append(segment)
    return rounds


def _fold(segment: list[RunEvent]) -> tuple[str, dict[str, Any]]:
    """The row, and the way it moves the status, that applies the segment's events in order."""
    first = segment[0]
    params = _params(first)
    moving = first.status is not None and first.status != "enqueued"
    for event in segment[1:]:
        more = _params(event)
        for key in _FIRST_WINS:
            if params[key] is None:
                params[key] = more[key]
        for key in _LAST_WINS:
            if more[key] is not None:
                params[key] = more[key]
        if more["enqueued_at"] is not None:
            params["enqueued_at"] = min(filter(None, (params["enqueued_at"], more["enqueued_at"])))
        params["attempt_inc"] += more["attempt_inc"]
        params["retries"] = max(filter(lambda v: v is not None, (params["retries"], more["retries"])), default=None)
        if event.status is not None and event.status != "enqueued":
            params["status"], params["at"], moving = event.status, event.at, True
        elif event.status == "enqueued" and params["status"] is None:
            params["status"], params["at"] = "enqueued", event.at
    if first.event == "requeued":
        return "reopens", params
    return ("forward" if moving else "keeps"), params



_COPY_EVENTS = "COPY run_events (message_id, event, at, attempt, worker, error, traceback, data) FROM STDIN"


def write_events(conn: psycopg.Connection[Any], events: list[RunEvent]) -> None:
    """Write a batch in one transaction: events by COPY, runs by one upsert per round and kind."""
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(_COPY_EVENTS) as copy:
            for e in events:
                data = None if e.data is None else storable_json(e.data)
                copy.write_row((e.message_id, e.event, e.at, e.attempt, e.worker, storable_text(e.error),
                                storable_text(e.traceback), data))
        for segments in _segments(events):
            rows: dict[str, list[dict[str, Any]]] = {}
            for segment in segments:
                mode, row = _fold(segment)
                rows.setdefault(mode, []).append(row)
            for mode, batch in rows.items():
                cur.execute(_UPSERTS[mode], (storable_json(batch),))



def write_recovered(conn: psycopg.Connection[Any], events: list[RunEvent]) -> int:
    """Write the recovered outcomes the history lacks (a journal can hold some already written)."""
    ids = sorted({e.message_id for e in events})
    seen = {(m, ev, at) for m, ev, at in conn.execute(
        "SELECT message_id, event, at FROM run_events WHERE message_id = ANY(%s)", (ids,))}
    missing = [e for e in events if (e.message_id, e.event, e.at) not in seen]
    if missing:
        write_events(conn, missing)
    return len(missing)



# Reads, for the dashboard, the API and the CLI: SQLAlchemy on a session.

def run_with_events(session: Session, message_id: str) -> tuple[Run, list[RunEventRow]] | None:
    run = session.get(Run, message_id)
    if run is None:
        return None
    events = session.scalars(
        select(RunEventRow).where(RunEventRow.message_id == message_id).order_by(RunEventRow.at, RunEventRow.id)
    ).all()
    return run, list(events)


def search(session: Session, *, actor: str | None = None, status: str | None = None,
           since: datetime | None = None, until: datetime | None = None, message_id: str | None = None,
           limit: int = 50, offset: int = 0) -> list[Run]:
    """Runs newest first; `message_id` is a prefix."""
    query: Select[tuple[Run]] = select(Run)
    if actor:
        query = query.where(Run.actor == actor)
    if status:
        query = query.where(Run.status == status)
    if since:
        query = query.where(Run.status_at >= since)
    if until:
        query = query.where(Run.status_at <= until)
    if message_id:
        query = query.where(Run.message_id.startswith(message_id, autoescape=True))
    return list(session.scalars(query.order_by(Run.status_at.desc()).limit(limit).offset(offset)))


def by_ids(session: Session, message_ids: list[str]) -> dict[str, Run]:
    if not message_ids:
        return {}
    return {r.message_id: r for r in session.scalars(select(Run).where(Run.message_id.in_(message_ids)))}


def known_actors(session: Session) -> list[str]:
    return [a for a in session.scalars(select(Run.actor).distinct().order_by(Run.actor)) if a]


def children(session: Session, message_id: str) -> list[Run]:
    return list(session.scalars(select(Run).where(Run.parent_id == message_id).order_by(Run.enqueued_at)))


def status_counts(session: Session, since: datetime) -> dict[str, int]:
    rows = session.execute(select(Run.status, func.count()).where(Run.status_at >= since).group_by(Run.status))
    return {status: count for status, count in rows.all()}  # noqa: C416  (rows, not pairs, to the type checker)


def counts_by_actor(conn: Connection, since: datetime) -> list[tuple[str | None, str, int]]:
    """(actor, status, runs) of the runs whose status changed since `since`."""
    rows = conn.execute(select(Run.actor, Run.status, func.count()).where(Run.status_at > since)
                        .group_by(Run.actor, Run.status)).all()
    return [(actor, status, count) for actor, status, count in rows]


def latest_with_status(session: Session, statuses: tuple[str, ...], limit: int, *, oldest_first: bool = False
                       ) -> list[Run]:
    order = Run.status_at if oldest_first else Run.status_at.desc()
    return list(session.scalars(select(Run).where(Run.status.in_(statuses)).order_by(order).limit(limit)))
