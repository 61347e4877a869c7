"""The pipeline end to end: a real worker, RabbitMQ, PostgreSQL, Redis, and the sandbox over a socket."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from pipeline.quality import fence
from sandbox import SandboxServer
from tests.support.pipeline import (
    clear_pipeline_tables,
    dump,
    execute,
    mark_start,
    rows,
    run_of,
    sandbox_worker,
    settle,
)
from tests.support.worker import ROOT, wait_for

pytestmark = pytest.mark.usefixtures("services")

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def worker(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # One search thread: the sandbox's expire_token fault kills every token, so a refused figure's
    # search would also fail the searches running beside it.
    # JSON log lines: a test reads which message each line names.
    with sandbox_worker(sandbox, tmp_path_factory.mktemp("worker") / "worker.log", FETCH_SEARCH_THREADS="1",
                        LOG_JSON="true") as log:
        yield log


@pytest.fixture()
def clean(broker, sandbox: SandboxServer) -> None:
    sandbox.reset()
    clear_pipeline_tables()
    mark_start()


def test_catalog_sync_prices_new_figures_and_snapshots_match_the_data(clean, worker: Path) -> None:
    from actors import sync_catalog_from_brickset

    message = sync_catalog_from_brickset.send(theme="Castle", year=2005, limit=4)
    result = message.get_result(block=True, timeout=60_000)
    assert result["source"] == "rebrickable" and result["created"] == result["taken"] > 0
    settle()
    figures = rows("SELECT id, rebrickable_id, last_priced_at FROM minifigures")
    assert len(figures) == result["created"] and all(f.last_priced_at for f in figures)
    life = run_of(message.message_id)
    assert life["status"] == "succeeded" and life["result"]["status"] == "succeeded"
    assert life["progress"] == {"done": len(figures), "total": len(figures)}
    snapshots = rows("SELECT * FROM price_snapshots")
    assert snapshots and {s.snapshot_date for s in snapshots} == {figures[0].last_priced_at.date()}
    for snap in snapshots:
        prices = [r.price for r in rows(
            "SELECT price FROM price_observations WHERE minifigure_id = :f AND observed_on = :d AND condition = :c "
            "AND currency = :cur AND excluded_reason IS NULL",
            f=snap.minifigure_id, d=snap.snapshot_date, c=snap.condition, cur=snap.currency)]
        fenced = fence(prices)
        assert snap.n == len(fenced.kept) and snap.excluded.get("outlier", 0) == len(fenced.outliers)
        prices = fenced.kept
        if prices:
            assert snap.median_price == Decimal(statistics.median(prices)).quantize(CENT, ROUND_HALF_EVEN)
            assert snap.min_price == min(prices) and snap.max_price == max(prices)



def _sync(limit: int) -> dict:
    from actors import sync_catalog_from_brickset

    message = sync_catalog_from_brickset.send(theme="Castle", year=2005, limit=limit)
    result = message.get_result(block=True, timeout=60_000)
    settle()
    return result


def _same_message_again(message_id: str) -> None:
    """What RabbitMQ does after a worker dies between commit and ack: the same message, delivered again."""
    from dramatiq import Message

    import actors

    run = rows("SELECT actor, queue, args, kwargs, options FROM runs WHERE message_id = :m", m=message_id)[0]
    actors.broker.enqueue(Message(queue_name=run.queue, actor_name=run.actor, args=tuple(run.args),
                                  kwargs=run.kwargs, options={}, message_id=message_id))


def test_redelivery_double_sends_and_a_second_callback_change_nothing(clean, worker: Path) -> None:
    from actors import (
        aggregate_daily_snapshots,
        aggregate_snapshot_for_minifigure,
        fetch_prices_for_minifigure,
    )
    from actors.batches import finish_batch

    sync = _sync(limit=2)
    before = dump()
    member = rows("SELECT key, message_id FROM batch_members WHERE batch_id = :b LIMIT 1", b=sync["prices_batch"])[0]
    today = rows("SELECT max(observed_on) AS d FROM price_observations")[0].d.isoformat()

    _same_message_again(member.message_id)
    finish_batch.send(sync["prices_batch"])
    finish_batch.send(sync["prices_batch"])
    for _ in range(2):
        aggregate_snapshot_for_minifigure.send(member.key)
        aggregate_daily_snapshots.send(target_date=today)
    settle()
    assert dump() == before
    assert run_of(member.message_id)["attempts"] == 2

    # A second, distinct fetch the same day sees the same listings again: only the sighting counters move.
    fetch_prices_for_minifigure.send(member.key).get_result(block=True, timeout=30_000)
    settle()
    after = dump()
    moving = {"minifigures": {"last_priced_at"}, "price_observations": {"last_seen_at", "times_seen"}}
    for table, old_rows in before.items():
        columns = [r[0] for r in rows("SELECT column_name FROM information_schema.columns "
                                      f"WHERE table_name = '{table}' ORDER BY ordinal_position")]
        keep = [i for i, c in enumerate(columns) if c not in moving.get(table, set())]
        assert [[r[i] for i in keep] for r in after[table]] == [[r[i] for i in keep] for r in old_rows], table
    seen = rows("SELECT times_seen FROM price_observations WHERE minifigure_id = :f", f=member.key)
    assert seen and {r.times_seen for r in seen} == {2}


BAD_INPUTS = [
    ("fetch_prices_for_minifigure", ["not-a-uuid"], {}, "is not a minifigure id"),
    ("fetch_prices_for_minifigure", ["6f1c1f7e-8a43-4c53-9d8b-0b1f7a0e0c11"], {}, "is not in the catalog"),
    ("fetch_prices_for_minifigure", ["{figure}"], {"condition": "MINT"}, "condition 'MINT' is unknown"),
    ("fetch_prices_for_minifigures", [[]], {}, "must be a list of 1 to 100 minifigure ids"),
    ("fetch_prices_for_minifigures", ["{figure}"], {}, "must be a list of 1 to 100 minifigure ids"),
    ("fetch_prices_for_minifigures", [["{figure}", "not-a-uuid"]], {}, "is not a minifigure id"),
    ("fetch_prices_for_minifigures", [["{figure}", "{figure}"]], {}, "repeats a figure"),
    ("fetch_prices_for_set_number", ["sw9999z"], {}, "is not in the catalog"),
    ("fetch_prices_for_set_number", ["???"], {}, "is not a minifigure number"),
    ("aggregate_daily_snapshots", [], {"target_date": "2026-02-30"}, "is not a date"),
    ("aggregate_daily_snapshots", [], {"target_date": "2999-01-01"}, "is in the future"),
    ("aggregate_snapshot_for_minifigure", ["{figure}"], {"target_date": "01/02/2026"}, "is not a date"),
    ("cleanup_old_listings", [], {"days_to_keep": 0}, "out of range"),
    ("cleanup_old_listings", [], {"days_to_keep": -5}, "out of range"),
    ("cleanup_old_listings", [], {"days_to_keep": "90"}, "is not a whole number"),
    ("backfill_snapshots", ["2026-01-10", "2026-01-01"], {}, "is after end_date"),
    ("backfill_snapshots", ["2024-01-01", "2025-06-01"], {}, "at most 366 per backfill"),
    ("backfill_snapshots", ["2026-01-01", "soon"], {}, "is not a date"),
    ("update_all_prices", [], {"batch_size": 0}, "out of range"),
    ("sync_catalog_from_brickset", [], {"year": 2005}, "a year needs a theme"),
    ("sync_catalog_from_brickset", [], {"theme": "Atlantis of Nowhere"}, "is not a Rebrickable theme"),
    ("sync_catalog_from_brickset", [], {"theme": "Castle", "limit": -1}, "out of range"),
]


def test_bad_input_fails_at_once_is_recorded_and_writes_nothing(clean, worker: Path) -> None:
    import actors

    _sync(limit=1)
    figure = str(rows("SELECT id FROM minifigures")[0].id)
    before = dump()
    sent = []
    for name, args, kwargs, expected in BAD_INPUTS:
        args = [[figure if v == "{figure}" else v for v in a] if isinstance(a, list) else figure if a == "{figure}"
                else a for a in args]
        sent.append((actors.broker.get_actor(name).send(*args, **kwargs), expected))
    settle()
    for message, expected in sent:
        life = run_of(message.message_id)
        assert life["status"] == "failed", (life["actor"], life["error"])
        events = [e["event"] for e in life["events"]]
        assert "enqueued" in events and events.count("running") == 1 and "retrying" not in events, life["actor"]
        assert life["attempts"] == 1 and "InvalidInput" in life["error"] and expected in life["error"], life["error"]
    assert dump() == before


def test_a_member_that_fails_for_good_leaves_a_visible_partially_failed_batch(
        clean, worker: Path, sandbox: SandboxServer) -> None:
    from urllib.parse import urlencode

    from actors import update_all_prices
    from pipeline.db import session_scope
    from pipeline.services import prices

    _sync(limit=3)
    execute("DELETE FROM price_snapshots")
    doomed = rows("SELECT id FROM minifigures ORDER BY id LIMIT 1")[0].id
    with session_scope() as session:
        query = prices.browse_query(prices.load_figure(session, doomed), None, "19001")
    # Every search for this one figure meets an expired token, twice: eBay refuses it for good (HTTP 401).
    sandbox.inject("ebay", "expire_token", count=None, path_contains=f"?{urlencode({'q': query.q})}&")

    message = update_all_prices.send(batch_size=3)
    assert message.get_result(block=True, timeout=30_000)["total"] == 3
    parent = wait_for(lambda: (r := run_of(message.message_id)) and r["status"] == "partially_failed" and r,
                      timeout=60, what="the batch to end partially failed")
    settle()
    outcome = parent["result"]
    assert outcome["succeeded"] == 2 and outcome["failed"] == 1
    assert [f["key"] for f in outcome["failures"]] == [str(doomed)] and "401" in outcome["failures"][0]["error"]
    assert parent["progress"] == {"done": 3, "total": 3}
    assert "batch_finished" in [e["event"] for e in parent["events"]]

    members = rows("SELECT r.message_id, r.status AS run, r.attempts, r.group_id, r.parent_id, r.result, m.key, "
                   "m.status, m.error FROM batch_members m JOIN runs r USING (message_id) WHERE m.batch_id = :b",
                   b=message.message_id)
    assert {(m.key, m.status) for m in members} == {(str(doomed), "failed")} | {
        (m.key, "succeeded") for m in members if m.key != str(doomed)}
    # The three figures went in one message (FETCH_FIGURES_PER_MESSAGE): the doomed one failed alone,
    # at once (a 401 is not retried), and the message went on with the others.
    (_chunk,) = {m.message_id for m in members}
    run = members[0]
    assert run.run == "succeeded" and run.attempts == 1 and run.group_id and run.parent_id == message.message_id
    assert set(run.result["figures"]) == {m.key for m in members} - {str(doomed)}
    doomed_error = next(m.error for m in members if m.key == str(doomed))
    assert "401" in run.result["failed"][str(doomed)] and "401" in doomed_error

    # The fan-in still aggregated today's snapshots for the two that succeeded.
    aggregated = {r.minifigure_id for r in rows("SELECT DISTINCT minifigure_id FROM price_snapshots")}
    assert aggregated == {r.id for r in rows("SELECT id FROM minifigures")} - {doomed}
    assert rows("SELECT status FROM batches WHERE id = :b", b=message.message_id)[0].status == "partially_failed"


def test_a_message_of_several_figures_keeps_what_it_stored_and_its_retry_searches_only_the_rest(
        clean, worker: Path, sandbox: SandboxServer) -> None:
    import uuid
    from urllib.parse import urlencode

    from actors import fetch_prices_for_minifigures
    from pipeline.db import session_scope
    from pipeline.services import prices
    from tests.support.pipeline import check_observations_once

    _sync(limit=3)
    execute("TRUNCATE price_observations, price_snapshots, applied_messages")
    first, second, third = [str(r.id) for r in rows("SELECT id FROM minifigures ORDER BY id")]
    unknown = str(uuid.uuid4())

    def search_of(figure: str) -> str:
        with session_scope() as session:
            query = prices.browse_query(prices.load_figure(session, uuid.UUID(figure)), None, "19001")
        return f"?{urlencode({'q': query.q})}&"

    # The second figure's first four searches fail (all of one call's attempts): the message stores what the
    # other searches fetched, then retries.
    sandbox.inject("ebay", "503", count=4, path_contains=search_of(second))
    message = fetch_prices_for_minifigures.send([first, unknown, second, third])
    wait_for(lambda: (r := run_of(message.message_id)) and "retrying" in [e["event"] for e in r["events"]],
             timeout=30, what="the message to be retried")
    (receipt,) = rows("SELECT result FROM applied_messages WHERE message_id = :m", m=message.message_id)
    stored_already = set(receipt.result["figures"])
    assert first in stored_already and second not in stored_already  # the third, if its search had begun
    # From now on eBay refuses the stored figures' searches for good: the retry (two seconds later at
    # least) must not search them again, or they would fail.
    for figure in stored_already:
        sandbox.inject("ebay", "expire_token", count=None, path_contains=search_of(figure))
    faults = sandbox.stats()["ebay"]["faults"]  # the four 503s

    result = message.get_result(block=True, timeout=60_000)
    settle()
    assert set(result["figures"]) == {first, second, third}
    assert result["failed"] == {unknown: f"minifigure_id {unknown} is not in the catalog"}
    life = run_of(message.message_id)
    assert life["status"] == "succeeded" and life["attempts"] == 2
    assert "503" in next(e["error"] for e in life["events"] if e["event"] == "retrying")
    assert sandbox.stats()["ebay"]["faults"] == faults  # no stored figure was searched again

    today = rows("SELECT max(observed_on) AS d FROM price_observations")[0].d
    assert check_observations_once(today) == sum(f["listings"] for f in result["figures"].values())
    stored = {str(r.minifigure_id) for r in rows("SELECT DISTINCT minifigure_id FROM price_observations")}
    assert stored <= {first, second, third} and all(r.last_priced_at for r in rows(
        "SELECT last_priced_at FROM minifigures"))

    before = dump()
    _same_message_again(message.message_id)  # delivered again: its receipt answers, nothing is written
    settle()
    assert dump() == before and run_of(message.message_id)["attempts"] == 3


def _listings_on(*days_ago: int) -> list:
    """One catalog figure, with the sandbox's listings of past days stored through the real ingest path."""
    from datetime import UTC, datetime, timedelta

    from sandbox import catalog
    from tests.support.pipeline import observe_day

    _sync(limit=1)
    execute("TRUNCATE price_observations, price_snapshots")  # keep the figure, not today's prices
    figure = rows("SELECT id, rebrickable_id FROM minifigures")[0]
    number = catalog(42).minifig_by_fig_num[figure.rebrickable_id].number
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in days_ago]
    for day in days:
        assert observe_day(figure.id, number, day) > 0
    return days


def _stonks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from actors.cli import main; main()", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_backfill_shows_progress_and_dry_run_lists_the_days(clean, worker: Path) -> None:
    first, _, last = days = _listings_on(3, 2, 1)
    dry = _stonks("backfill", first.isoformat(), last.isoformat(), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [line.split()[0] for line in dry.stdout.splitlines()[:3]] == [d.isoformat() for d in days]
    assert "nothing sent (--dry-run)" in dry.stdout
    backfills = "FROM runs WHERE actor = 'backfill_snapshots' AND args ->> 0 = :first"
    assert not rows(f"SELECT 1 {backfills}", first=first.isoformat())
    assert not rows("SELECT 1 FROM price_snapshots WHERE snapshot_date < :d", d=last + timedelta(days=1))

    done = _stonks("backfill", first.isoformat(), last.isoformat())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "days aggregated" in done.stderr and "succeeded: 3 of 3 days aggregated" in done.stdout
    settle()
    run = rows(f"SELECT message_id, status, progress_done, progress_total {backfills}", first=first.isoformat())
    assert [(r.status, r.progress_done, r.progress_total) for r in run] == [("succeeded", 3, 3)]
    progress = [e["event"] for e in run_of(run[0].message_id)["events"]].count("progress")
    assert progress >= 2  # the start (0 of 3) and the days as they finished
    assert {r.snapshot_date for r in rows("SELECT DISTINCT snapshot_date FROM price_snapshots")} == set(days)
    assert {r.day for r in rows("SELECT day FROM snapshot_days")} == set(days)


def test_daily_job_fills_every_missing_day_and_converges(clean, worker: Path) -> None:
    from actors import aggregate_daily_snapshots

    six, four, yesterday = _listings_on(6, 4, 1)
    result = aggregate_daily_snapshots.send().get_result(block=True, timeout=60_000)
    assert result["target_date"] == yesterday.isoformat()
    assert result["filled"] == [six.isoformat(), four.isoformat()] and result["days"] == 3
    assert {r.snapshot_date for r in rows("SELECT DISTINCT snapshot_date FROM price_snapshots")} == {
        six, four, yesterday}
    settle()
    before = dump()
    again = aggregate_daily_snapshots.send().get_result(block=True, timeout=60_000)
    assert again["filled"] == [] and again["days"] == 1 and again["snapshots"] == 0
    settle()
    assert dump() == before


def test_cleanup_deletes_old_listings_and_keeps_their_snapshots(clean, worker: Path) -> None:
    from actors import aggregate_daily_snapshots, cleanup_old_listings

    oldest, old, recent = _listings_on(12, 11, 2)
    counts = {r.observed_on: r.n for r in rows("SELECT observed_on, count(*) AS n FROM price_observations GROUP BY 1")}
    result = cleanup_old_listings.send(days_to_keep=5).get_result(block=True, timeout=60_000)
    assert result["deleted"] == counts[oldest] + counts[old]
    assert result["aggregated_first"] == [oldest.isoformat(), old.isoformat()]
    assert [r.observed_on for r in rows("SELECT DISTINCT observed_on FROM price_observations")] == [recent]
    assert {r.snapshot_date for r in rows("SELECT DISTINCT snapshot_date FROM price_snapshots")} == {oldest, old}
    settle()
    before = dump()
    skipped = aggregate_daily_snapshots.send(target_date=old.isoformat()).get_result(block=True, timeout=30_000)
    assert "cleaned up" in skipped["skipped"]
    assert cleanup_old_listings.send(days_to_keep=5).get_result(block=True, timeout=30_000)["deleted"] == 0
    settle()
    assert dump() == before


def test_a_search_threads_log_lines_name_the_message_they_work_for(
        clean, worker: Path, sandbox: SandboxServer) -> None:
    import json

    from actors import update_all_prices

    _sync(limit=1)
    # The next search meets an expired token: the search thread mints a new one, and logs it.
    sandbox.inject("ebay", "expire_token", count=1)
    batch = update_all_prices.send(batch_size=1)
    wait_for(lambda: (r := run_of(batch.message_id)) and r["status"] == "succeeded", timeout=60,
             what="the batch to succeed")
    (fetch,) = rows("SELECT message_id FROM runs WHERE parent_id = :p AND actor = 'fetch_prices_for_minifigures'",
                    p=batch.message_id)
    records = [json.loads(line) for line in worker.read_text().splitlines() if line.startswith("{")]
    minted = [r for r in records if "new application token" in r["message"] and r.get("message_id") == fetch.message_id]
    assert minted, "no log line of the search names its message"
    assert all(r["thread"].startswith("ebay-search") and r["actor"] == "fetch_prices_for_minifigures" for r in minted)
    # Lines outside any message name none.
    assert any("Worker process is ready" in r["message"] and "message_id" not in r for r in records)


def test_a_second_price_batch_of_the_day_reports_its_snapshots_as_unchanged(clean, worker: Path) -> None:
    from actors import update_all_prices

    _sync(limit=2)
    outcomes = []
    for _ in range(2):  # the sandbox lists the same items all day: the second batch changes no snapshot
        batch = update_all_prices.send(batch_size=2)

        def succeeded(message_id: str = batch.message_id) -> object:
            b = rows("SELECT status, result FROM batches WHERE id = :b", b=message_id)
            return b and b[0].status == "succeeded" and b[0]

        done = wait_for(succeeded, timeout=60, what="the batch to succeed")
        outcomes.append(done.result)
        settle()
    today = rows("SELECT day FROM batches WHERE id = :b", b=batch.message_id)[0].day
    (day_snapshots,) = rows("SELECT count(*) FROM price_snapshots WHERE snapshot_date = :d", d=today)[0]
    first, second = outcomes
    assert day_snapshots > 0 and first["snapshots"] + first["snapshots_unchanged"] == day_snapshots
    assert second["snapshots"] == 0 and second["snapshots_unchanged"] == day_snapshots


def test_an_ebay_429_with_quota_left_is_a_rate_limit_retried_not_a_day_deferred(
        clean, worker: Path, sandbox: SandboxServer) -> None:
    from actors import fetch_prices_for_minifigure

    _sync(limit=1)
    (figure,) = [str(r.id) for r in rows("SELECT id FROM minifigures")]
    sandbox.inject("ebay", "429", count=None, path_contains="/item_summary/search")
    message = fetch_prices_for_minifigure.send(figure)

    def ended(*statuses: str):
        return lambda: (r := run_of(message.message_id)) and r["status"] in statuses and r

    life = wait_for(ended("retrying", "delayed", "failed", "dead_lettered", "succeeded"), timeout=60,
                    what="the fetch to be retried")
    sandbox.clear_faults()
    assert life["status"] == "retrying" and "RateLimited" in life["error"] and "error 2001" in life["error"]
    assert not [e for e in life["events"] if e["event"] == "deferred"]
    done = wait_for(ended("succeeded", "failed", "dead_lettered"), timeout=90, what="the retried fetch to succeed")
    assert done["status"] == "succeeded"
