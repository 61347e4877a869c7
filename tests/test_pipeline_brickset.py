"""CATALOG_SOURCE=brickset: BrickLink numbers as keys, prices by set number, and the fetch-then-aggregate pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import SandboxServer
from tests.support.pipeline import (
    clear_pipeline_tables,
    execute,
    mark_start,
    rows,
    run_of,
    sandbox_worker,
    settle,
)

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture(scope="module")
def worker(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("brickset-worker") / "worker.log"
    with sandbox_worker(sandbox, log, threads=2, CATALOG_SOURCE="brickset") as log:
        yield log


@pytest.fixture(scope="module")
def star_wars(worker: Path) -> dict:
    import actors
    from actors import sync_catalog_from_brickset

    for queue in actors.broker.get_declared_queues():
        actors.broker.flush(queue)
    clear_pipeline_tables()
    mark_start()
    result = sync_catalog_from_brickset.send(theme="star wars", limit=3).get_result(block=True, timeout=90_000)
    settle()
    return result


def test_brickset_sync_keys_figures_by_bricklink_number(star_wars: dict) -> None:
    assert star_wars["source"] == "brickset" and star_wars["created"] == 3
    figures = rows("SELECT bricklink_id, rebrickable_id, theme, source, year FROM minifigures ORDER BY bricklink_id")
    assert [f.bricklink_id for f in figures] == ["sw0001a", "sw0001b", "sw0004"]
    assert {(f.rebrickable_id, f.theme, f.source, f.year) for f in figures} == {(None, "Star Wars", "brickset", None)}


def test_brickset_has_no_year_filter(star_wars: dict) -> None:
    from actors import sync_catalog_from_brickset

    message = sync_catalog_from_brickset.send(theme="Star Wars", year=2005)
    settle()
    life = run_of(message.message_id)
    assert life["status"] == "failed" and "carry no year" in life["error"]


def test_prices_by_set_number_search_the_bricklink_number(star_wars: dict) -> None:
    from actors import fetch_prices_for_set_number

    execute("DELETE FROM price_observations")  # the sync's own fetches asked for every condition
    exact = fetch_prices_for_set_number.send("SW0001A", condition="new").get_result(block=True, timeout=30_000)
    assert exact["query"] == "(sw0001a, sw0001)" and exact["condition"] == "NEW" and exact["listings"] > 0
    only = fetch_prices_for_set_number.send("sw0004").get_result(block=True, timeout=30_000)
    assert only["query"] == "sw0004"
    ambiguous = fetch_prices_for_set_number.send("sw0001")
    settle()
    life = run_of(ambiguous.message_id)
    assert life["status"] == "failed" and "matches sw0001a, sw0001b; name the variant" in life["error"]
    conditions = {r.condition_id for r in rows(
        "SELECT DISTINCT o.condition_id FROM price_observations o JOIN minifigures m ON m.id = o.minifigure_id "
        "WHERE m.bricklink_id = 'sw0001a'")}
    assert conditions <= {"1000", "1500"}  # the NEW filter went to eBay


def test_fetch_then_aggregate_is_a_pipeline_ending_in_the_snapshot(star_wars: dict) -> None:
    from actors import fetch_then_aggregate

    figure = rows("SELECT id FROM minifigures WHERE bricklink_id = 'sw0004'")[0].id
    result = fetch_then_aggregate(str(figure)).get_result(block=True, timeout=30_000)
    assert result["minifigure_id"] == str(figure) and result["snapshots"] >= 0
    snapshots = rows("SELECT n, median_price FROM price_snapshots WHERE minifigure_id = :f", f=figure)
    assert snapshots and all(s.n == 0 or s.median_price is not None for s in snapshots)
