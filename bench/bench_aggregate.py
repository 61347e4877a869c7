"""Daily aggregation and listing ingest at scale, against hand-written SQL and a plain COPY.

    .venv/bin/python -m bench.bench_aggregate [--listings 2000000] [--figures 10000] [--days 30]

In a scratch database (created, migrated, dropped at the end) it builds the
listings of `--figures` figures over `--days` days, then prints:

- ingest: the system's upsert (`pipeline.sql.observations.upsert_observations`:
  binary COPY into a temporary stage, then one INSERT … SELECT … ON CONFLICT)
  against one COPY of the same rows into the same table, indexes included.
  The system's batch is a fetch (all of a figure's listings, at most 1,000);
  the rate is shown for a full fetch, an eBay page (200, on a third of the
  days) and this data set's figure-day (a few listings, on two days). Each
  commits once a day's rows are in, as the COPY commits once.
- aggregation: the system's daily aggregation (`pipeline.services.snapshots.aggregate_day`:
  statistics, excluded counts by reason, half-even cents, upsert, cleanup
  guard, the day marked complete) against hand-written SQL, one INSERT … SELECT
  … GROUP BY a day into price_snapshots: the same snapshots, and the included
  statistics only. Best of two runs of all the days each.

Prints figures; asserts nothing (targets: aggregation ratio <= 1.3, ingest >= 0.5 of COPY).
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pipeline import db
from pipeline.db import libpq_dsn
from pipeline.quality import EXCLUSION_REASONS
from pipeline.services.snapshots import aggregate_day
from pipeline.settings import get_settings
from pipeline.sql.catalog import CatalogEntry, upsert_figures
from pipeline.sql.observations import COLUMNS, ObservationRow, upsert_observations

PAGE = 200  # eBay Browse's largest page
FETCH = 1_000  # pipeline.services.prices.MAX_LISTINGS: the most one fetch writes at once
FIRST_DAY = date(2026, 1, 1)
NOW = datetime(2026, 3, 1, tzinfo=UTC)

# By hand, two ways: the included listings' statistics only, and the same snapshots
# as the system's (excluded listings counted by reason too), each the direct way:
# one INSERT … SELECT … GROUP BY per day into price_snapshots, no rounding, no upsert.
HAND_STATS_ONLY = """
INSERT INTO price_snapshots (minifigure_id, snapshot_date, condition, currency, n, min_price, max_price,
    mean_price, median_price, p25_price, p75_price, method_version)
SELECT minifigure_id, observed_on, condition, currency, count(*), min(price), max(price), avg(price),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY price), percentile_cont(0.25) WITHIN GROUP (ORDER BY price),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY price), 1
FROM price_observations
WHERE observed_on = %(day)s AND condition IS NOT NULL AND excluded_reason IS NULL
GROUP BY minifigure_id, observed_on, condition, currency
"""
# The same snapshots as the system's: the outlier fence (3x around the median of the included
# listings, in groups of three or more), the statistics of the listings kept, the excluded ones by reason.
_OK = "FILTER (WHERE excluded_reason IS NULL AND NOT outlier)"
HAND_SAME_SNAPSHOTS = f"""
INSERT INTO price_snapshots (minifigure_id, snapshot_date, condition, currency, n, min_price, max_price,
    mean_price, median_price, p25_price, p75_price, excluded, excluded_total, thin, method_version)
SELECT minifigure_id, observed_on, condition, currency, count(*) {_OK}, min(price) {_OK}, max(price) {_OK},
       avg(price) {_OK}, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) {_OK},
       percentile_cont(0.25) WITHIN GROUP (ORDER BY price) {_OK},
       percentile_cont(0.75) WITHIN GROUP (ORDER BY price) {_OK},
       jsonb_strip_nulls(jsonb_build_object({", ".join(
           f"'{r}', NULLIF(count(*) FILTER (WHERE excluded_reason = '{r}'), 0)" for r in EXCLUSION_REASONS)},
           'outlier', NULLIF(count(*) FILTER (WHERE outlier), 0))),
       count(*) FILTER (WHERE excluded_reason IS NOT NULL OR outlier), count(*) {_OK} < 5, 2
FROM (
    SELECT o.*, COALESCE(o.price > m.mid * 3 OR o.price * 3 < m.mid, false) AS outlier
    FROM price_observations o
    LEFT JOIN (SELECT minifigure_id, condition, currency, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS mid
               FROM price_observations
               WHERE observed_on = %(day)s AND condition IS NOT NULL AND excluded_reason IS NULL
               GROUP BY minifigure_id, condition, currency HAVING count(*) >= 3) m
        USING (minifigure_id, condition, currency)
    WHERE o.observed_on = %(day)s AND o.condition IS NOT NULL
) o
GROUP BY minifigure_id, observed_on, condition, currency
"""


def scratch_url() -> str:
    url = make_url(get_settings().database_url)
    return url.set(database=f"stonks_aggbench_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)


def admin(url: str, sql: str) -> None:
    with psycopg.connect(libpq_dsn(str(make_url(url).set(database="postgres").render_as_string(False))),
                         autocommit=True) as conn:
        conn.execute(sql)


def day_rows(figures: list[uuid.UUID], day: date, per_figure_day: float, rng: random.Random) -> list[ObservationRow]:
    """A day's listings: a few per figure, a third of them excluded, some without a mappable condition."""
    rows = []
    seen = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    for figure in figures:
        for n in range(int(per_figure_day) + (rng.random() < per_figure_day % 1)):
            reason = rng.choice(EXCLUSION_REASONS) if rng.random() < 0.3 else None
            rows.append(ObservationRow(
                figure, "ebay", f"v1|{rng.getrandbits(48)}|0", day, "EBAY_US", f"LEGO minifigure {n}",
                Decimal(rng.randint(99, 9999)) / 100, "USD" if rng.random() < 0.9 else "GBP",
                Decimal(rng.randint(0, 800)) / 100, "USD", "FIXED", rng.choice(["NEW", "USED", "SEALED", None]),
                "1000", "New", "FIXED_PRICE", None, "seller", "https://www.ebay.com/itm/1", reason, seen))
    return rows


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def ingest_system(
    url: str, days: list[list[ObservationRow]], chunk: Callable[[list[ObservationRow]], Iterator]
) -> float:
    total = 0.0
    for rows in days:
        def write(rows: list[ObservationRow] = rows) -> None:
            with db.session_scope(url) as session:
                for part in chunk(rows):
                    upsert_observations(session, part)
        total += timed(write)
    return total


def ingest_copy(url: str, days: list[list[ObservationRow]]) -> float:
    columns = [c for c in COLUMNS if c not in ("seen_at", "buying_options")]
    copy_sql = (f"COPY price_observations ({', '.join(columns)}, buying_options, first_seen_at, last_seen_at) "
                "FROM STDIN")
    with psycopg.connect(libpq_dsn(url)) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for rows in days:
                for r in rows:
                    copy.write_row([*(getattr(r, c) for c in columns), [r.buying_options], r.seen_at, r.seen_at])
        conn.commit()
        return time.perf_counter() - started


def chunks(size: int) -> Callable[[list[ObservationRow]], Iterator[list[ObservationRow]]]:
    def split(rows: list[ObservationRow]) -> Iterator[list[ObservationRow]]:
        for start in range(0, len(rows), size):
            yield rows[start:start + size]

    return split


def per_figure(rows: list[ObservationRow]) -> Iterator[list[ObservationRow]]:
    by_figure: dict[uuid.UUID, list[ObservationRow]] = {}
    for row in rows:
        by_figure.setdefault(row.minifigure_id, []).append(row)
    yield from by_figure.values()


def truncate(url: str, *tables: str) -> None:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)}")


def aggregate_system(url: str, days: list[date]) -> float:
    truncate(url, "price_snapshots", "snapshot_days")
    total = 0.0
    for day in days:
        def run(day: date = day) -> None:
            with db.session_scope(url) as session:
                aggregate_day(session, day, NOW)
        total += timed(run)
    return total


def aggregate_by_hand(url: str, days: list[date], statement: str) -> float:
    truncate(url, "price_snapshots", "snapshot_days")
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute("SET work_mem = '32MB'")  # as the system does
        total = 0.0
        for day in days:
            with conn.transaction():
                total += timed(lambda day=day: conn.execute(statement, {"day": day}))
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=2_000_000)
    parser.add_argument("--figures", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    url = scratch_url()
    name = make_url(url).database
    admin(url, f'CREATE DATABASE "{name}"')
    try:
        db.upgrade(url)
        rng = random.Random(2026)
        entries = [CatalogEntry(f"bn{n:05d}", None, f"Bench figure {n}", "Bench", None, None, None, "brickset")
                   for n in range(args.figures)]
        with db.session_scope(url) as session:
            figures = upsert_figures(session, entries, NOW).created
        calendar = [FIRST_DAY + timedelta(days=d) for d in range(args.days)]
        per_figure_day = args.listings / args.figures / args.days
        print(f"building {args.listings:,} listings: {args.figures:,} figures x {args.days} days ...", flush=True)
        days = [day_rows(figures, day, per_figure_day, rng) for day in calendar]
        count = sum(map(len, days))

        copy_s = ingest_copy(url, days)
        copy_rate = count / copy_s
        print(f"ingest     {count:,} listings")
        print(f"  one COPY                               {copy_s:6.1f} s  {copy_rate:9,.0f} listings/s")
        third, two = days[: max(1, len(days) // 3)], days[:2]
        for label, chunk, share in (("a figure-day", per_figure, two), (f"{PAGE}, an eBay page", chunks(PAGE), third),
                                    (f"{FETCH:,}, a full fetch", chunks(FETCH), days)):
            truncate(url, "price_observations")
            rows = sum(map(len, share))
            rate = rows / ingest_system(url, share, chunk)
            print(f"  system, {label + ' a statement':<30} {rows / rate:6.1f} s  {rate:9,.0f} listings/s"
                  f"  = {rate / copy_rate:.2f}x COPY" + ("" if share is days else f"  ({rows:,} listings)"))
        print(f"  (a figure-day is ~{count / args.figures / args.days:.1f} listings; target >= 0.5x COPY)")

        with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE price_observations")
        stats_only = min(aggregate_by_hand(url, calendar, HAND_STATS_ONLY) for _ in range(2))
        same = min(aggregate_by_hand(url, calendar, HAND_SAME_SNAPSHOTS) for _ in range(2))
        system = min(aggregate_system(url, calendar) for _ in range(2))
        with db.session_scope(url) as session:
            snapshots = session.execute(text("SELECT count(*) FROM price_snapshots")).scalar_one()
        print(f"aggregate  {args.days} days, {snapshots:,} snapshots (best of two runs each)")
        stats_only_ms = stats_only / args.days * 1000
        print(f"  by hand, included statistics only {stats_only:7.2f} s  ({stats_only_ms:4.0f} ms a day)")
        print(f"  by hand, the same snapshots       {same:7.2f} s  ({same / args.days * 1000:4.0f} ms a day)")
        print(f"  system daily aggregation          {system:7.2f} s  ({system / args.days * 1000:4.0f} ms a day)"
              f"  = {system / same:.2f}x the same snapshots by hand (target <= 1.3x), "
              f"{system / stats_only:.2f}x statistics only")
    finally:
        db.get_engine(url).dispose()
        admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
