"""Prices: search, a figure's asking-price history and chart, 7/30/90-day changes, CSV export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from pipeline.models import PriceSnapshot
from pipeline.web.app import create_app
from pipeline.web.chart import ChartPoint, nice_ticks, price_chart
from pipeline.web.prices import change_pct
from tests.support.web import RecordingDispatcher, insert_figure, settings_with

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture(scope="module")
def http() -> TestClient:
    return TestClient(create_app(settings_with(dashboard_token=None), RecordingDispatcher()))


@pytest.fixture(scope="module")
def figure() -> uuid.UUID:
    return insert_figure("Luke Skywalker (Tatooine)", bricklink_id=f"sw{uuid.uuid4().hex[:5]}")


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [(12.3, 31.7, [10, 15, 20, 25, 30, 35]), (0.0, 1.0, [0, 0.25, 0.5, 0.75, 1.0]),
     (99.0, 101.0, [99.0, 99.5, 100.0, 100.5, 101.0]), (5.0, 5.0, [5.0, 5.25, 5.5, 5.75, 6.0])],
)
def test_axis_ticks_are_round_and_cover_the_values(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == ticks


def test_the_chart_draws_the_band_the_median_and_a_point_per_day() -> None:
    days = [date(2031, 1, 1) + timedelta(days=i) for i in range(5)]
    points = [ChartPoint(d, 10.0 + i, 9.0 + i, 12.0 + i, 10, thin=i == 0) for i, d in enumerate(days)]
    svg = price_chart(points, "Boba <Fett>: asking prices, USED", "EUR")
    assert svg.count('class="band"') == 1 and svg.count('class="median"') == 1
    assert svg.count("<circle") == 5 and 'fill="#fff"' in svg  # a thin day is an open circle
    assert "Boba &lt;Fett&gt;" in svg and "<Fett>" not in svg
    assert "2031-01-03: median 12.00 EUR (p25 11.00 – p75 14.00), n=10" in svg
    gap = [*points[:2], ChartPoint(days[2], None, None, None, 0), *points[3:]]
    assert price_chart(gap, "t", "USD").count('class="median"') == 2  # a day without prices breaks the line
    single = price_chart(points[:1], "t", "USD")
    assert '<line class="band"' in single and single.count("<circle") == 1
    assert "No prices for" in price_chart([], "t", "USD")


def snapshots(medians: dict[int, float | None]) -> list[PriceSnapshot]:
    start = date(2031, 1, 1)
    return [PriceSnapshot(snapshot_date=start + timedelta(days=d), median_price=None if m is None else Decimal(str(m)))
            for d, m in sorted(medians.items())]


@pytest.mark.parametrize(
    ("medians", "days", "expected"),
    [({0: 10.0, 7: 11.0}, 7, 10.0), ({0: 10.0, 7: 9.0}, 7, -10.0), ({0: 10.0, 6: 11.0}, 7, None),
     ({0: 20.0, 3: 10.0, 10: 12.0}, 7, 20.0),  # the last day at least 7 days back: day 3
     ({0: 10.0, 30: 15.0}, 30, 50.0), ({0: 10.0, 5: None}, 5, None), ({}, 7, None)],
)
def test_change_compares_the_latest_median_with_the_last_day_far_enough_back(
        medians: dict[int, float | None], days: int, expected: float | None) -> None:
    assert change_pct(snapshots(medians), days) == expected


def test_search_by_name_number_and_theme(http: TestClient, figure: uuid.UUID) -> None:
    other = insert_figure("Ninjago Kai", theme="Ninjago", days=3)
    bricklink = http.get("/v1/minifigures?q=luke").json()
    assert str(figure) in {f["id"] for f in bricklink} and str(other) not in {f["id"] for f in bricklink}
    number = next(f["bricklink_id"] for f in bricklink if f["id"] == str(figure))
    assert [f["id"] for f in http.get(f"/v1/minifigures?q={number.upper()}").json()] == [str(figure)]
    assert str(other) in {f["id"] for f in http.get("/v1/minifigures?q=ninjago").json()}
    assert http.get("/v1/minifigures", params={"q": "%"}).json() == []  # LIKE wildcards are taken literally
    page = http.get("/prices", params={"q": "Tatooine"}).text
    assert "Luke Skywalker (Tatooine)" in page and f"/prices/{figure}" in page


def test_a_figure_page_charts_asking_prices_per_condition_with_changes_and_exclusions(
        http: TestClient, figure: uuid.UUID) -> None:
    page = http.get(f"/prices/{figure}").text
    assert "Asking prices of live listings, not sold prices" in page
    assert page.count('<svg class="chart"') == 2  # NEW and USED
    assert "Luke Skywalker (Tatooine): asking prices, NEW" in page and "asking prices, USED" in page
    assert page.count('class="median"') == 2 and page.count('class="band"') == 2
    data = http.get(f"/v1/minifigures/{figure}/snapshots").json()
    new = next(s for s in data["series"] if s["condition"] == "NEW")
    medians = {date.fromisoformat(s["snapshot_date"]): float(s["median_price"]) for s in new["snapshots"]}
    latest = max(medians)
    for days in (7, 30, 90):
        expected = round((medians[latest] / medians[latest - timedelta(days=days)] - 1) * 100, 1)
        assert new["change_pct"][str(days)] == expected
        assert f"{days} d: {expected:+.1f} %" in page
    assert "lot 3" in page and "custom 1" in page  # why listings were excluded, per day


def test_csv_export_holds_every_snapshot(http: TestClient, figure: uuid.UUID) -> None:
    response = http.get(f"/prices/{figure}/snapshots.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "asking-price-snapshots.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 200 and {r["condition"] for r in rows} == {"NEW", "USED"}
    assert rows[0]["price_kind"] == "asking" and rows[0]["snapshot_date"] == "2031-01-01"
    assert json.loads(rows[3]["excluded"]) == {"custom": 1, "lot": 3}


def test_unknown_or_malformed_figure_ids(http: TestClient) -> None:
    assert http.get(f"/prices/{uuid.uuid4()}").status_code == 404
    assert http.get(f"/v1/minifigures/{uuid.uuid4()}/snapshots").status_code == 404
    assert http.get("/prices/not-a-uuid").status_code == 422
    assert "No minifigure matches" in http.get("/prices", params={"q": "zzz-nothing-zzz"}).text


def test_the_sandbox_banner_says_the_data_is_sandbox_data() -> None:
    sandbox = TestClient(create_app(settings_with(stonks_sandbox=True), RecordingDispatcher()))
    assert "Sandbox data" in sandbox.get("/prices").text
    real = TestClient(create_app(settings_with(stonks_sandbox=False), RecordingDispatcher()))
    assert "Sandbox data" not in real.get("/prices").text


def test_a_search_that_found_nothing_says_no_live_listings_not_never_priced(http: TestClient) -> None:
    import subprocess
    import sys
    from datetime import UTC, datetime

    from pipeline.db import session_scope
    from pipeline.services import prices
    from pipeline.sources.ebay import BrowseQuery

    number = f"sw{uuid.uuid4().hex[:5]}"
    searched = insert_figure("Searched Nobody", days=0, bricklink_id=number)
    never = insert_figure("Never Searched", days=0)
    now = datetime.now(UTC)
    with session_scope() as session:
        figure = prices.load_figure(session, searched)
        prices.store_listings(session, figure, BrowseQuery(q=number, category_id="19001"), [], "EBAY_US", now)
    answer = http.get(f"/v1/minifigures/{searched}/snapshots").json()
    assert answer["series"] == [] and answer["search"] == {
        "state": "no_live_listings", "text": f"no live listings on {now.date()}", "day": now.date().isoformat(),
        "marketplace": "EBAY_US", "listings": 0, "included": 0}
    assert http.get(f"/v1/minifigures/{never}/snapshots").json()["search"]["state"] == "never_priced"
    assert f"no live listings on {now.date()}" in http.get(f"/prices/{searched}").text
    assert "never priced" in http.get(f"/prices/{never}").text
    cli = subprocess.run([sys.executable, "-m", "actors.cli", "prices", number], capture_output=True, text=True,
                         timeout=60)
    assert cli.returncode == 0 and cli.stdout.strip() == f"Searched Nobody ({number}): no live listings on {now.date()}"
