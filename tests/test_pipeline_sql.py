"""The set-wise SQL on the real PostgreSQL: statistics equal quality.summarize, upsert rules, cleanup batches."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from pipeline.db import session_scope
from pipeline.quality import EXCLUSION_REASONS, METHOD_VERSION, fence, summarize
from pipeline.sql.catalog import CatalogEntry, upsert_figures
from pipeline.sql.observations import ObservationRow, upsert_observations
from pipeline.sql.snapshots import aggregate_day
from tests.support.pipeline import clear_pipeline_tables, dump, rows

pytestmark = pytest.mark.usefixtures("services")

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
DAY = NOW.date()


@pytest.fixture(autouse=True)
def _clean() -> None:
    clear_pipeline_tables()


def figures(*names: str) -> list[uuid.UUID]:
    entries = [CatalogEntry(f"tst{i:04d}", None, name, "Test", None, None, None, "brickset")
               for i, name in enumerate(names, 1)]
    with session_scope() as session:
        return upsert_figures(session, entries, NOW).created


def row(figure: uuid.UUID, listing: str, price: str, *, condition: str | None = "NEW", currency: str = "USD",
        reason: str | None = None, day: date = DAY, seen: datetime = NOW) -> ObservationRow:
    return ObservationRow(figure, "ebay", listing, day, "EBAY_US", f"LEGO figure {listing}", Decimal(price), currency,
                          None, None, None, condition, "1000", "New", "FIXED_PRICE", None, "seller", None, reason, seen)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_snapshots_equal_quality_summarize_to_the_cent(seed: int) -> None:
    rng = random.Random(seed)
    ids = figures("A", "B", "C")
    observations = []
    for n in range(400):
        # Prices on a coarse grid make ties and half-cent medians common: the rounding cases that matter.
        price = f"{rng.choice([rng.randint(1, 40) * 0.25, rng.randint(100, 9999) / 100]):.2f}"
        observations.append(row(rng.choice(ids), f"L{n}", price, condition=rng.choice(["NEW", "USED", "SEALED", None]),
                                currency=rng.choice(["USD", "USD", "GBP"]),
                                reason=rng.choice([None, None, None, *EXCLUSION_REASONS])))
    with session_scope() as session:
        upsert_observations(session, observations)
        written = aggregate_day(session, DAY).written
    groups: dict[tuple, list[ObservationRow]] = defaultdict(list)
    for obs in observations:
        if obs.condition is not None:
            groups[(obs.minifigure_id, obs.condition, obs.currency)].append(obs)
    snapshots = rows("SELECT * FROM price_snapshots")
    assert written == len(snapshots) == len(groups)
    for snap in snapshots:
        group = groups[(snap.minifigure_id, snap.condition, snap.currency)]
        fenced = fence(o.price for o in group if o.excluded_reason is None)
        included = fenced.kept
        reasons = Counter(o.excluded_reason for o in group if o.excluded_reason)
        assert snap.excluded == dict(reasons, **({"outlier": len(fenced.outliers)} if fenced.outliers else {}))
        assert snap.excluded_total == len(group) - len(included) and snap.n == len(included)
        assert snap.thin == (len(included) < 5) and snap.method_version == METHOD_VERSION
        assert snap.price_kind == "asking"
        if included:
            s = summarize(included)
            assert (snap.min_price, snap.max_price, snap.mean_price, snap.median_price, snap.p25_price,
                    snap.p75_price) == (s.min, s.max, s.mean, s.median, s.p25, s.p75)
        else:
            assert snap.median_price is None
    assert any("outlier" in snap.excluded for snap in snapshots)  # the fence is exercised
    before = dump("price_snapshots")
    with session_scope() as session:
        assert aggregate_day(session, DAY).written == 0  # nothing changed, nothing rewritten
    assert dump("price_snapshots") == before


@pytest.mark.parametrize("shown_first", [True, False])
def test_a_listing_seen_twice_is_one_row_and_goes_to_the_figure_that_includes_it(shown_first: bool) -> None:
    # A "wrong figure" listing of Other (its title names Shown's number) is found by both searches.
    shown, other = figures("Shown", "Other")
    sightings = [(shown, None), (other, "wrong_figure")]
    if not shown_first:
        sightings.reverse()
    later = NOW + timedelta(hours=1)
    with session_scope() as session:
        upsert_observations(session, [row(sightings[0][0], "L1", "10.00", reason=sightings[0][1])])
        upsert_observations(session, [row(sightings[1][0], "L1", "11.00", reason=sightings[1][1], seen=later)])
    (kept,) = rows("SELECT minifigure_id, excluded_reason, price, times_seen, first_seen_at, last_seen_at "
                   "FROM price_observations")
    assert (kept.minifigure_id, kept.excluded_reason, kept.price, kept.times_seen) == (shown, None, 11, 2)
    assert (kept.first_seen_at, kept.last_seen_at) == (NOW, later)


def test_catalog_upsert_follows_renames_keeps_facts_and_is_idempotent() -> None:
    entry = CatalogEntry("sw0001a", None, "Battle Droid", "Star Wars", 2001, "Star Wars / Episode 1", None, "brickset")
    with session_scope() as session:
        assert len(upsert_figures(session, [entry], NOW).created) == 1
    renamed = CatalogEntry("sw0001a", None, "Battle Droid (Tan)", None, 1999, None, None, "brickset")
    with session_scope() as session:
        result = upsert_figures(session, [renamed], NOW + timedelta(days=1))
    assert (result.created, result.updated) == ([], 1)
    (figure,) = rows("SELECT name, theme, year, category FROM minifigures")
    assert tuple(figure) == ("Battle Droid (Tan)", "Star Wars", 1999, "Star Wars / Episode 1")
    before = dump("minifigures")
    with session_scope() as session:
        result = upsert_figures(session, [replace(entry, name=renamed.name)], NOW + timedelta(days=2))
    assert (result.created, result.updated) == ([], 0)
    assert dump("minifigures") == before


def test_cleanup_deletes_in_batches_of_the_given_size_and_keeps_snapshots() -> None:
    from pipeline.services.cleanup import cleanup_listings

    (figure,) = figures("Old")
    with session_scope() as session:
        for age in (40, 39, 1):
            day = DAY - timedelta(days=age)
            upsert_observations(session, [row(figure, f"L{age}-{n}", f"{n + 1}.00", day=day) for n in range(12)])
    result = cleanup_listings(session_scope, days_to_keep=30, now=NOW, batch_rows=5)
    assert result["deleted"] == 24 and result["batches"] == 5  # ids 1..24 in ranges of five
    assert result["aggregated_first"] == [
        (DAY - timedelta(days=40)).isoformat(), (DAY - timedelta(days=39)).isoformat()]
    assert {r.snapshot_date for r in rows("SELECT snapshot_date FROM price_snapshots")} == {
        DAY - timedelta(days=40), DAY - timedelta(days=39)}
    assert rows("SELECT count(*) AS n FROM price_observations")[0].n == 12
    assert cleanup_listings(session_scope, days_to_keep=30, now=NOW, batch_rows=5)["deleted"] == 0


def test_several_figures_stored_in_one_transaction_equal_storing_them_one_by_one() -> None:
    """store_fetched (a message of several figures) against store_listings in turn: the same rows, even
    for a listing that two of the figures' searches found; again under the same message id, nothing."""
    from pipeline.services import prices
    from pipeline.sources.ebay_listings import parse_item_summary
    from sandbox import catalog, listings_for
    from sandbox.ebay import item_summary

    cat = catalog(42)
    found = [f for f in cat.minifigs if listings_for(f, DAY)][:3]
    entries = [CatalogEntry(f.number, f.fig_num, f.name, cat.theme_by_id[f.theme_id].name, f.year, None, None,
                            "rebrickable") for f in found]
    with session_scope() as session:
        ids = upsert_figures(session, entries, NOW).created
        figures_ = [prices.load_figure(session, i) for i in ids]
    items = {f.id: [parse_item_summary(item_summary(listing, "EBAY_US", "http://sandbox"))
                    for listing in listings_for(number.number, DAY)] for f, number in zip(figures_, found, strict=True)}
    shared = items[figures_[0].id][0]
    items[figures_[2].id].append(shared)  # the third figure's search finds one of the first figure's listings
    fetched = [prices.Fetched(f, prices.browse_query(f, None, "19001"), items[f.id]) for f in figures_]

    def stored() -> tuple[list[tuple], list[tuple]]:  # the observations without their serial id
        tables = dump("price_observations", "minifigures")
        return [r[1:] for r in tables["price_observations"]], tables["minifigures"]

    for f in fetched:
        with session_scope() as session:
            prices.store_listings(session, f.figure, f.query, f.items, "EBAY_US", NOW)
    one_by_one = stored()
    with session_scope() as session:
        session.execute(text("TRUNCATE price_observations"))
        session.execute(text("UPDATE minifigures SET last_priced_at = NULL"))
    message = str(uuid.uuid4())
    with session_scope() as session:
        summary = prices.store_fetched(session, fetched, {"x": "refused"}, "EBAY_US", NOW, message, None)
    assert stored() == one_by_one
    assert sum(r.times_seen for r in rows("SELECT times_seen FROM price_observations")) == sum(map(len, items.values()))
    assert set(summary["figures"]) == {str(i) for i in ids} and summary["failed"] == {"x": "refused"}
    assert [summary["figures"][str(f.figure.id)]["listings"] for f in fetched] == [len(f.items) for f in fetched]

    with session_scope() as session:  # a second delivery, with all its figures stored already
        again = prices.store_fetched(session, fetched, {}, "EBAY_US", NOW + timedelta(hours=1), message, None)
    assert stored() == one_by_one
    assert again["figures"] == summary["figures"] and (again["inserted"], again["updated"]) == (0, 0)


def test_two_transactions_upserting_shared_listings_in_opposite_orders_wait_rather_than_deadlock() -> None:
    """A holds L1 and will want L2; B upserts L2 then L1. Written in the order given, B would take L2
    and wait for L1, and A's L2 would close the cycle: PostgreSQL would abort one with a deadlock."""
    import threading

    import psycopg

    (figure,) = figures("Shared")
    errors: list[BaseException] = []
    with session_scope() as a:
        upsert_observations(a, [row(figure, "L1", "10.00")])  # A holds L1 until it commits

        def b() -> None:
            try:
                with session_scope() as session:
                    upsert_observations(session, [row(figure, "L2", "11.00"), row(figure, "L1", "12.00")])
            except psycopg.Error as exc:
                errors.append(exc)
            except Exception as exc:
                errors.append(exc)

        other = threading.Thread(target=b)
        other.start()
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not rows("SELECT 1 FROM pg_locks WHERE NOT granted") and datetime.now(UTC) < deadline:
            pass  # until B waits for A
        upsert_observations(a, [row(figure, "L2", "13.00")])
    other.join(timeout=30)
    assert not errors, errors
    assert {(r.listing_id, r.times_seen) for r in rows("SELECT listing_id, times_seen FROM price_observations")} == {
        ("L1", 2), ("L2", 2)}


def test_a_batch_starts_once_with_its_members_a_second_start_returns_the_first_and_progress_counts_keys() -> None:
    from pipeline.services import batches
    from pipeline.services.prices import stalest_figures

    ids = figures("A", "B", "C")
    with session_scope() as session:
        assert stalest_figures(session, 2) == sorted(ids)[:2]  # none priced yet: by id
        session.execute(text("UPDATE minifigures SET last_priced_at = :t WHERE id = :f"), {"t": NOW, "f": min(ids)})
        assert stalest_figures(session, 3) == [*sorted(ids)[1:], min(ids)]  # the priced one last
        assert batches.load(session, "b-1") is None
        first = batches.start(session, "b-1", "prices", DAY, [("k1", "m1"), ("k2", "m1"), ("k3", "m2")], NOW)
    assert (first.kind, first.day, first.total, first.sent, first.finished) == ("prices", DAY, 3, False, False)
    assert first.members == {"k1": "m1", "k2": "m1", "k3": "m2"}
    with session_scope() as session:
        again = batches.start(session, "b-1", "prices", DAY, [("k9", "m9")], NOW + timedelta(hours=1))
        batches.mark_sent(session, "b-1", NOW)
    assert again == first
    assert rows("SELECT count(*) AS n FROM batch_members")[0].n == 3
    assert rows("SELECT created_at FROM batches")[0].created_at == NOW
    with session_scope() as session:
        assert batches.load(session, "b-1").sent
        assert batches.progress(session, "b-1") == batches.Progress("b-1", 0, 3)
        batches.member_succeeded(session, "m1", NOW)  # its two keys
        assert batches.progress(session, "b-1") == batches.Progress("b-1", 2, 3)
        assert batches.progress(session, "b-2") is None


def test_one_listing_cannot_move_a_days_mean_min_or_max_beyond_the_fence() -> None:
    (figure,) = figures("Fenced")
    prices = ["10.00", "11.00", "12.00", "13.00", "99999.00", "0.50"]  # a placeholder and a bait price
    with session_scope() as session:
        upsert_observations(session, [row(figure, f"L{i}", p) for i, p in enumerate(prices)])
        aggregate_day(session, DAY)
    (snap,) = rows("SELECT * FROM price_snapshots")
    assert (snap.n, snap.min_price, snap.max_price, snap.mean_price) == (4, Decimal("10.00"), Decimal("13.00"),
                                                                         Decimal("11.50"))
    assert snap.excluded == {"outlier": 2} and snap.excluded_total == 2 and snap.method_version == METHOD_VERSION == 2


def test_a_day_complete_by_an_older_method_is_recomputed_only_by_an_explicit_backfill() -> None:
    from pipeline.services.snapshots import aggregate_day as aggregate_whole_day
    from pipeline.services.snapshots import days_to_converge

    (figure,) = figures("Old")
    earlier, missing = DAY - timedelta(days=2), DAY - timedelta(days=1)
    with session_scope() as session:
        upsert_observations(session, [row(figure, f"{d}-{i}", p, day=d) for d in (earlier, missing)
                                      for i, p in enumerate(["10.00", "11.00", "500.00"])])
        session.execute(text("INSERT INTO snapshot_days (day, aggregated_at, method_version, listings, snapshots) "
                             "VALUES (:day, :at, 1, 3, 1)"), {"day": earlier, "at": NOW})
        assert days_to_converge(session, DAY) == [missing, DAY]  # the older method's day is left as it is
        aggregate_whole_day(session, earlier, NOW)  # what `stonks backfill` does for each day
    (snap,) = rows("SELECT * FROM price_snapshots")
    assert snap.method_version == METHOD_VERSION and snap.excluded == {"outlier": 1}
    (marked,) = rows("SELECT method_version FROM snapshot_days")
    assert marked.method_version == METHOD_VERSION
