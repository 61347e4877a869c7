"""Faults survived by the real pipeline: a worker killed mid-batch, and a sandbox that fails 30% of requests.

After each fault, every message of the batch has finished or is dead-lettered
with its reason, no observation is stored or counted twice, and the run history
accounts for every message (see the checks in tests/support/pipeline.py).
"""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from pipeline.history.events import TERMINAL
from sandbox import SandboxServer, catalog, listings_for
from tests.support.pipeline import (
    check_history_accounts_for,
    check_observations_once,
    clear_pipeline_tables,
    mark_start,
    rows,
    run_of,
    sandbox_env,
    sandbox_worker,
    settle,
)
from tests.support.worker import start_worker, stop_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")

SEARCH = "/item_summary/search"


@pytest.fixture()
def clean(broker, sandbox: SandboxServer) -> None:
    sandbox.reset()
    clear_pipeline_tables()
    mark_start()


def seed_figures(count: int) -> dict[str, str]:
    """The first `count` sandbox figures with listings today, in the catalog: figure id -> BrickLink number."""
    from pipeline.db import session_scope
    from pipeline.sql.catalog import CatalogEntry, upsert_figures

    today, cat = datetime.now(UTC).date(), catalog(42)
    figures = [f for f in cat.minifigs if listings_for(f, today)][:count]
    entries = [CatalogEntry(f.number, f.fig_num, f.name, cat.theme_by_id[f.theme_id].name, f.year, None, None,
                            "rebrickable") for f in figures]
    with session_scope() as session:
        upsert_figures(session, entries, datetime.now(UTC))
    return {str(r.id): r.bricklink_id for r in rows("SELECT id, bricklink_id FROM minifigures")}


def search_of(figure_id: str) -> str:
    """What the URL of an eBay search for this figure, and no other, contains."""
    from pipeline.db import session_scope
    from pipeline.services import prices

    with session_scope() as session:
        query = prices.browse_query(prices.load_figure(session, uuid.UUID(figure_id)), None, "19001")
    return f"?{urlencode({'q': query.q})}&"


def members(batch_id: str) -> list[Any]:
    """Each member of the batch: its key, message id, its state in the batch and in the run history."""
    return rows("SELECT m.key, m.message_id, m.status AS member, r.status AS run FROM batch_members m "
                "LEFT JOIN runs r USING (message_id) WHERE m.batch_id = :b ORDER BY m.key", b=batch_id)


def finished_batch(batch_id: str) -> dict[str, Any]:
    """Wait for the batch's outcome in its sender's run history, then for the pipeline to go quiet."""
    life = wait_for(lambda: (r := run_of(batch_id)) and "batch_finished" in [e["event"] for e in r["events"]] and r,
                    timeout=60, interval=0.3, what=f"batch {batch_id} to finish")
    settle(timeout=30)
    return life


def day_of(batch_id: str) -> date:
    return rows("SELECT day FROM batches WHERE id = :b", b=batch_id)[0].day


def check_snapshots(day: date) -> set[str]:
    """The day's snapshots cover exactly the figures with listings of a known condition; their ids."""
    snapped = {str(r.minifigure_id) for r in rows(
        "SELECT DISTINCT minifigure_id FROM price_snapshots WHERE snapshot_date = :d", d=day)}
    priced = {str(r.minifigure_id) for r in rows(
        "SELECT DISTINCT minifigure_id FROM price_observations WHERE observed_on = :d AND condition IS NOT NULL",
        d=day)}
    assert snapped == priced
    return snapped


def test_a_worker_killed_mid_batch_loses_nothing_and_writes_nothing_twice(
        clean, sandbox: SandboxServer, tmp_path: Path) -> None:
    from actors import update_all_prices

    figures = seed_figures(12)
    # Slow searches keep four messages of two figures (two processes of two threads) under way at any moment.
    sandbox.inject("ebay", "slow", count=None, delay_s=1.5, path_contains=SEARCH)
    first = start_worker(processes=2, threads=2, env=sandbox_env(sandbox, FETCH_FIGURES_PER_MESSAGE="2"),
                         log=tmp_path / "first.log")
    try:
        message = update_all_prices.send(batch_size=len(figures))
        batch = message.message_id
        assert message.get_result(block=True, timeout=30_000)["total"] == len(figures)
        # Some messages over, others under way with nothing committed (a message commits its figures at its end).
        wait_for(lambda: (now := members(batch)) and sum(m.run == "succeeded" for m in now) >= 2
                 and any(m.run == "running" and m.member == "pending" for m in now), timeout=45,
                 what="a batch half done")
    finally:
        stop_worker(first, sig=signal.SIGKILL)  # the node dies: the dramatiq parent and its processes at once
    at_kill = members(batch)
    # Running with nothing committed: the kill interrupted them. Running in the history but
    # committed: finished just before the kill, their outcome still in the worker's journal.
    killed = {m.message_id for m in at_kill if m.run == "running" and m.member == "pending"}
    finishing = {m.message_id for m in at_kill if m.run == "running" and m.member == "succeeded"}
    assert killed
    assert rows("SELECT finished_at FROM batches WHERE id = :b", b=batch)[0].finished_at is None

    sandbox.clear_faults()
    with sandbox_worker(sandbox, tmp_path / "second.log", threads=2):
        sender = finished_batch(batch)
        lives = check_history_accounts_for(batch)

    total = len(figures)
    assert sender["status"] == "succeeded" and sender["progress"] == {"done": total, "total": total}
    assert sender["result"]["succeeded"] == total and sender["result"]["failed"] == 0
    after = members(batch)
    assert {(m.key, m.member, m.run) for m in after} == {(key, "succeeded", "succeeded") for key in figures}
    for message_id in killed:  # the interrupted attempt is in the history, then the one that finished
        life = lives[message_id]
        events = [e["event"] for e in life["events"]]
        assert life["attempts"] == 2 and events.index("interrupted") > events.index("running"), events
        assert len({e["worker"] for e in life["events"] if e["event"] == "running"}) == 2
    for message_id in finishing:  # recovered from the journal, or redelivered and answered by its receipt
        assert lives[message_id]["status"] == "succeeded" and lives[message_id]["attempts"] in (1, 2)
    callbacks = [life for life in lives.values() if life["actor"] == "finish_batch"]
    assert callbacks and all(life["status"] == "succeeded" for life in callbacks)

    today = day_of(batch)
    assert check_observations_once(today) > 0
    receipts = {r.message_id for r in rows(
        "SELECT message_id FROM applied_messages WHERE actor = 'fetch_prices_for_minifigures'")}
    assert receipts == {m.message_id for m in after}  # each fetch applied once, the killed ones included
    snapped = check_snapshots(today)
    assert snapped and snapped <= set(figures) and sender["result"]["snapshots"] == len(rows(
        "SELECT 1 FROM price_snapshots WHERE snapshot_date = :d", d=today))


def test_a_sandbox_failing_30_percent_of_requests_still_finishes_every_message(
        clean, sandbox: SandboxServer, tmp_path: Path) -> None:
    from actors import update_all_prices

    figures = seed_figures(15)
    doomed, stubborn = sorted(figures)[:2]
    # Faults strike in the order armed. The doomed figure's searches all meet an expired token: a 401,
    # refused for good. The stubborn one's first four searches fail: one message-level retry, certain.
    sandbox.inject("ebay", "expire_token", count=None, path_contains=search_of(doomed))
    sandbox.inject("ebay", "503", count=4, path_contains=search_of(stubborn))
    sandbox.inject("ebay", "503", count=None, probability=0.3)  # tokens and searches alike
    # One thread, one search thread: an expired token hurts no other fetch. Three figures a message: the doomed and the
    # stubborn figure (the first two by id, so the first two picked) share one, with a third.
    with sandbox_worker(sandbox, tmp_path / "worker.log", FETCH_FIGURES_PER_MESSAGE="3", FETCH_SEARCH_THREADS="1"):
        message = update_all_prices.send(batch_size=len(figures))
        batch = message.message_id
        sender = finished_batch(batch)
        lives = check_history_accounts_for(batch)

    ebay, sure = sandbox.stats()["ebay"], 4 + 2  # the stubborn figure's four 503s, the doomed figure's two 401s
    assert 0.1 < (ebay["faults"] - sure) / (ebay["requests"] - sure) < 0.6, ebay  # the 30% did strike
    outcome = sender["result"]
    after = {m.key: m for m in members(batch)}
    failed = {key for key, m in after.items() if m.member == "failed"}
    assert doomed in failed and after[doomed].run == "succeeded"  # it failed alone: its message went on
    assert {key for key, m in after.items() if m.member == "succeeded"} == set(figures) - failed
    for m in after.values():  # a message that failed for good keeps what it stored; the rest failed with it
        assert m.run == "succeeded" or (m.run in ("failed", "dead_lettered") and any(
            o.member == "failed" for o in after.values() if o.message_id == m.message_id)), m
    assert sender["status"] == outcome["status"] == "partially_failed"
    assert outcome["succeeded"] == len(figures) - len(failed) and outcome["failed"] == len(failed)
    assert {f["key"] for f in outcome["failures"]} == failed and all(f["error"] for f in outcome["failures"])
    assert "401" in next(f["error"] for f in outcome["failures"] if f["key"] == doomed)
    assert rows("SELECT status FROM batches WHERE id = :b", b=batch)[0].status == "partially_failed"

    retried = lives[after[stubborn].message_id]
    assert retried["status"] == "succeeded" and retried["retries"] >= 1
    assert "503" in next(e["error"] for e in retried["events"] if e["event"] == "retrying")
    assert all(life["status"] in TERMINAL for life in lives.values() if life["actor"] != "check_batch")

    today = day_of(batch)
    assert check_observations_once(today) > 0
    receipts = rows("SELECT result FROM applied_messages WHERE actor = 'fetch_prices_for_minifigures'")
    assert {key for r in receipts for key in r.result["figures"]} == set(figures) - failed
    assert doomed in {key for r in receipts for key in r.result["failed"]}
    snapped = check_snapshots(today)
    assert snapped and snapped <= set(figures) - failed
