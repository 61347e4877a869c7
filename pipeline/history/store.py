"""Writing a batch of run events, and keeping the ones the database refuses.

A value the database cannot store (a `DataError`) is refused the same way on every
retry: the batch is written one event at a time, and a refused event is kept in
`rejected-{key}.jsonl` in the spool directory, so one bad value neither blocks the
history for good nor vanishes. Any other error (an unreachable database) raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from pipeline.db import libpq_dsn
from pipeline.history.events import RunEvent
from pipeline.settings import Settings
from pipeline.sql.runs import write_events

logger = logging.getLogger(__name__)

# What the database says of a value it cannot store: the same on every retry. Anything
# else (a lost connection, a server shutting down) is worth retrying.
REFUSALS = (psycopg.DataError, psycopg.IntegrityError)
Write = Callable[[psycopg.Connection[Any], list[RunEvent]], Any]


def write_batch(conn: psycopg.Connection[Any], events: list[RunEvent], spool_dir: Path | None, key: str,
                write: Write = write_events) -> int:
    """Write a batch with `write`; if the database refuses it, one event at a time.

    Returns how many events were refused. A refused event is logged and kept in
    `rejected-{key}.jsonl` in the spool directory, so that one bad value neither
    blocks the history for good (every retry would fail the same) nor vanishes.
    Any other error (an unreachable database) raises, for the caller to retry.
    """
    try:
        write(conn, events)
        return 0
    except REFUSALS as exc:
        logger.error("run history: a batch of %d events was refused (%s); writing them one by one",
                     len(events), exc)
    refused = 0
    for event in events:
        try:
            write(conn, [event])
        except REFUSALS as exc:
            refused += 1
            kept = "nowhere: no spool directory is set"
            if spool_dir is not None:
                spool_dir.mkdir(parents=True, exist_ok=True)
                path = spool_dir / f"rejected-{key}.jsonl"
                with path.open("a") as file:
                    file.write(event.to_json() + "\n")
                kept = str(path)
            logger.error("run history: event %s of message %s refused (%s); kept in %s",
                         event.event, event.message_id, exc, kept)
    return refused


RecordEvents = Callable[[list[RunEvent]], None]


def record_now(settings: Settings) -> RecordEvents:
    """Write run events now, in one transaction: an operator's action is on record before it happens."""

    def write(events: list[RunEvent]) -> None:
        with psycopg.connect(libpq_dsn(settings.database_url), connect_timeout=5, autocommit=True) as conn:
            write_events(conn, events)

    return write
