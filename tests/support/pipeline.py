"""Helpers for the pipeline's end-to-end tests: sandbox settings for a worker, table dumps, settling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pipeline.db import session_scope
from pipeline.sources.sandbox import SANDBOX_CREDENTIALS, SandboxServer
from tests.support.worker import running_worker

PIPELINE_TABLES = {
    "minifigures": "id",
    "price_observations": "source, listing_id, observed_on",
    "price_snapshots": "minifigure_id, snapshot_date, condition, currency",
    "snapshot_days": "day",
    "batches": "id",
    "batch_members": "batch_id, key",
}
OPEN_STATUSES = ("enqueued", "delayed", "running", "retrying")
_since: datetime | None = None  # settle() looks at runs from here on: other tests leave runs open in the shared history


def mark_start() -> None:
    """From now on (the database's clock), the runs that settle() waits for."""
    global _since
    _since = rows("SELECT now() AS now")[0].now


def sandbox_env(server: SandboxServer, **extra: str) -> dict[str, str]:
    """What a worker needs to talk to `server` instead of the real APIs."""
    urls = server.base_urls()
    env = {f"{name.upper()}_API_BASE": url for name, url in urls.items()}
    env.update({key.upper(): value for key, value in SANDBOX_CREDENTIALS.items()})
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A sandbox for the module's worker (import this fixture into the test module)."""
    server = SandboxServer(host="127.0.0.1", port=0, seed=42).start()
    yield server
    server.stop()


@contextmanager
def sandbox_worker(server: SandboxServer, log: Path, *, processes: int = 1, threads: int = 1,
                   **settings: str) -> Iterator[Path]:
    """A real worker whose sources are the sandbox, with extra settings as environment variables."""
    import actors  # noqa: F401  (the broker first: the worker declares the same queues)

    with running_worker(processes=processes, threads=threads, env=sandbox_env(server, **settings), log=log):
        yield log


def dump(*tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the pipeline's tables, in key order: equal dumps mean nothing changed."""
    with session_scope() as session:
        return {t: [tuple(r) for r in session.execute(text(f"SELECT * FROM {t} ORDER BY {PIPELINE_TABLES[t]}"))]
                for t in tables or PIPELINE_TABLES}


def rows(sql: str, **params: Any) -> list[Any]:
    with session_scope() as session:
        return list(session.execute(text(sql), params))


def execute(sql: str, **params: Any) -> None:
    with session_scope() as session:
        session.execute(text(sql), params)


def clear_pipeline_tables() -> None:
    with session_scope() as session:
        session.execute(text("TRUNCATE minifigures, price_observations, price_snapshots, snapshot_days, batches, "
                             "batch_members, applied_messages CASCADE"))


_RECENT = "WHERE (CAST(:since AS timestamptz) IS NULL OR COALESCE(enqueued_at, started_at, status_at) >= :since)"


def settle(timeout: float = 60, quiet_s: float = 1.5, ignore: tuple[str, ...] = ("check_batch",)) -> None:
    """Wait until no message is waiting or running (per the run history) for `quiet_s` in a row."""
    import actors

    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    last: Any = None
    while time.monotonic() < deadline:
        actors.stack.writer.flush()
        state = rows("SELECT count(*) FILTER (WHERE status = ANY(:open) AND actor <> ALL(:ignore)), count(*), "
                     f"max(updated_at) FROM runs {_RECENT}", open=list(OPEN_STATUSES), ignore=list(ignore),
                     since=_since)[0]
        if state[0] == 0 and state[1:] == last:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        last = state[1:]
        time.sleep(0.2)
    open_runs = rows(f"SELECT actor, status, message_id FROM runs {_RECENT} AND status = ANY(:open)",
                     open=list(OPEN_STATUSES), since=_since)
    events = rows("SELECT message_id, event, at FROM run_events WHERE message_id = ANY(:ids) ORDER BY id",
                  ids=[r.message_id for r in open_runs])
    raise AssertionError(f"the pipeline did not settle within {timeout} s: {open_runs}; events: {events}")


def run_of(message_id: str) -> dict[str, Any] | None:
    import actors
    from pipeline.runs import get_run

    actors.stack.writer.flush()
    with session_scope() as session:
        found = get_run(session, message_id)
        return found.as_dict() if found else None


def observe_day(figure_id: uuid.UUID, number: str, day: date, seed: int = 42) -> int:
    """Store the sandbox's listings of `number` on `day` through the real ingest path; the rows written."""
    from pipeline.services import prices
    from pipeline.sources.ebay_listings import parse_item_summary
    from pipeline.sources.sandbox import listings_for
    from pipeline.sources.sandbox.ebay import item_summary

    items = [parse_item_summary(item_summary(listing, "EBAY_US", "http://sandbox"))
             for listing in listings_for(number, day, seed=seed)]
    with session_scope() as session:
        figure = prices.load_figure(session, figure_id)
        query = prices.browse_query(figure, None, "19001")
        seen = datetime.combine(day, clock(12, 0), UTC)
        return prices.store_listings(session, figure, query, items, "EBAY_US", seen)["listings"]
