"""Helpers for the pipeline's end-to-end tests: sandbox settings for a worker, table dumps, settling, invariants."""

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
from sandbox import SANDBOX_CREDENTIALS, SandboxServer
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
    from pipeline.history.reads import get_run

    actors.stack.writer.flush()
    with session_scope() as session:
        found = get_run(session, message_id)
        return found.as_dict() if found else None


def observe_day(figure_id: uuid.UUID, number: str, day: date, seed: int = 42) -> int:
    """Store the sandbox's listings of `number` on `day` through the real ingest path; the rows written."""
    from pipeline.services import prices
    from pipeline.sources.ebay_listings import parse_item_summary
    from sandbox import listings_for
    from sandbox.ebay import item_summary

    items = [parse_item_summary(item_summary(listing, "EBAY_US", "http://sandbox"))
             for listing in listings_for(number, day, seed=seed)]
    with session_scope() as session:
        figure = prices.load_figure(session, figure_id)
        query = prices.browse_query(figure, None, "19001")
        seen = datetime.combine(day, clock(12, 0), UTC)
        return prices.store_listings(session, figure, query, items, "EBAY_US", seen)["listings"]


# What one delivery of a message can end in (a skipped or cancelled one never runs).
OUTCOMES = ("succeeded", "failed", "dead_lettered", "retrying", "deferred", "skipped", "cancelled")
AGAIN = ("retrying", "deferred")  # outcomes after which the message comes back
DEAD = ("failed", "dead_lettered")  # nacked: in the queue's .XQ, with the reason in the history


def message_tree(root_id: str) -> dict[str, dict[str, Any]]:
    """The run history of `root_id` and of every message sent while handling it, and so on down."""
    import actors
    from pipeline.history.reads import get_run

    actors.stack.writer.flush()
    with session_scope() as session:
        ids = session.execute(text(
            "WITH RECURSIVE tree AS (SELECT message_id FROM runs WHERE message_id = :root UNION "
            "SELECT r.message_id FROM runs r JOIN tree t ON r.parent_id = t.message_id) SELECT message_id FROM tree"),
            {"root": root_id}).scalars().all()
        return {mid: get_run(session, mid).as_dict() for mid in ids}


def check_life(life: dict[str, Any], waiting: tuple[str, ...] = ()) -> None:
    """One message's history is whole, and its last outcome is its status.

    Every delivery came from a send, a retry or a redelivery, and ended or was
    interrupted (its worker died, and the next delivery says so). A message may
    be sent more than once under one id (a group's completion callback, when a
    member passes the barrier again after a redelivery). A message of a
    `waiting` actor may still wait, unstarted.
    """
    events = [e["event"] for e in life["events"]]
    where = f"{life['actor']} {life['message_id']} ({life['status']}): {events}"
    sends, interrupted = events.count("enqueued"), events.count("interrupted")
    assert sends >= 1, where
    if life["actor"] in waiting and life["status"] in ("enqueued", "delayed"):
        assert life["attempts"] == 0 and sends == 1, where
        return
    outcomes = [e for e in events if e in OUTCOMES]
    deliveries = events.count("running") + events.count("skipped") + events.count("cancelled")
    assert events.count("running") == life["attempts"], where
    assert deliveries <= sends + sum(e in AGAIN for e in outcomes) + interrupted, f"a delivery from nowhere: {where}"
    assert deliveries - len(outcomes) <= interrupted, f"a delivery that never ended: {where}"
    final = "succeeded" if "batch_finished" in events else life["status"]  # a batch's sender ends as its batch
    assert outcomes and outcomes[-1] == final, where
    assert all(e["error"] for e in life["events"] if e["event"] in ("retrying", *DEAD)), where
    if life["status"] in DEAD:
        assert life["error"] and "dead_letter" in events, where


def check_history_accounts_for(root_id: str, waiting: tuple[str, ...] = ("check_batch",)) -> dict[str, dict[str, Any]]:
    """Every message of a run (its batch members included) has a whole history; RabbitMQ holds no other.

    Nothing is left ready in a queue, and each queue's .XQ holds exactly the
    messages the history says were dead-lettered (or failed for good). Returns the lives by message id.
    """
    import actors

    lives = message_tree(root_id)
    members = {r.message_id for r in rows("SELECT message_id FROM batch_members WHERE batch_id = :b", b=root_id)}
    assert members <= set(lives), f"batch members with no run history: {members - set(lives)}"
    for life in lives.values():
        check_life(life, waiting)
    for queue in {life["queue"] for life in lives.values()}:
        ready, _, dead = actors.broker.get_queue_message_counts(queue)
        assert ready == 0, f"{ready} messages still ready in {queue}"
        assert dead == sum(life["queue"] == queue and life["status"] in DEAD for life in lives.values()), queue
    return lives


def check_observations_once(day: date) -> int:
    """No listing stored twice for `day`, and sighted exactly as often as the applied fetches saw it.

    Every fetch that committed left a receipt with its listing count (a message of
    several figures, one count a figure): a fetch applied twice (a redelivery that
    wrote again) shows as extra sightings. Holds when every fetch of the day ran as
    a message. Returns the day's rows.
    """
    stored = rows("SELECT count(*) AS n, count(DISTINCT (source, listing_id)) AS listings, "
                  "COALESCE(sum(times_seen), 0) AS seen FROM price_observations WHERE observed_on = :d", d=day)[0]
    fetched = rows(
        "SELECT COALESCE(sum(CAST(result ->> 'listings' AS int)), 0) AS listings FROM applied_messages "
        "WHERE actor = 'fetch_prices' AND result ->> 'observed_on' = :d "
        "UNION ALL SELECT COALESCE(sum(CAST(f.value ->> 'listings' AS int)), 0) FROM applied_messages a, "
        "jsonb_each(a.result -> 'figures') f WHERE a.actor = 'fetch_prices_for_minifigures' "
        "AND f.value ->> 'observed_on' = :d", d=day.isoformat())
    fetched_listings = sum(r.listings for r in fetched)
    assert stored.n == stored.listings, f"{stored.n - stored.listings} observations of {day} duplicated"
    assert stored.seen == fetched_listings, f"{day}: {stored.seen} sightings stored, the fetches saw {fetched_listings}"
    return stored.n
