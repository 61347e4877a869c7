"""Daily snapshots, computed set-wise in PostgreSQL: one INSERT … SELECT … GROUP BY per day.

Statistics cover the listings kept of one figure, day, condition and currency:
those classification included (no `excluded_reason`) and within the outlier fence
around their median (`pipeline.quality.fence`); the others are counted by reason,
outliers as `outlier`. Quartiles are
PostgreSQL's `percentile_cont`; every money value is rounded once, to the cent,
half to even, as `pipeline.quality.summarize` does, so SQL and Python agree.
Listings whose condition maps to none of NEW/USED/SEALED (refurbished, for
parts, missing) belong to no condition's snapshot; they stay in
price_observations with their reason.

A snapshot is rewritten only when a value changed, so aggregating again leaves
rows (and `computed_at`) as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from pipeline.models import PriceSnapshot
from pipeline.quality import EXCLUSION_REASONS, FENCED_FROM_N, METHOD_VERSION, OUTLIER, OUTLIER_FENCE, THIN_DATA_N


def _cents(hundredths: str) -> str:
    """A positive price given in hundredths (times 100), rounded to the cent, half to even.

    PostgreSQL's round() goes half away from zero, so a tie on an even cent steps back one.
    """
    return (f"(round({hundredths}) - CASE WHEN {hundredths} - trunc({hundredths}) = 0.5 "
            f"AND mod(trunc({hundredths}), 2) = 0 THEN 1 ELSE 0 END) * 0.01")


_KEPT = "FILTER (WHERE o.excluded_reason IS NULL AND NOT o.outlier)"
_EXCLUDED_BY_REASON = ", ".join(
    f"'{reason}', NULLIF(count(*) FILTER (WHERE o.excluded_reason = '{reason}'), 0)" for reason in EXCLUSION_REASONS
) + f", '{OUTLIER}', NULLIF(count(*) FILTER (WHERE o.outlier), 0)"
_STATS = ("n", "min_price", "max_price", "mean_price", "median_price", "p25_price", "p75_price", "excluded",
          "excluded_total", "thin", "method_version", "price_kind")

# The day's rows; each group's fence midpoint, the median of its included listings in cents (as
# `quality.fence` has it), when it has enough of them; each row marked an outlier or not. Then the
# groups, over the rows kept (mean and quartiles in hundredths, then rounded to the cent).
_GROUPS = f"""
WITH day_rows AS MATERIALIZED (
    SELECT o.minifigure_id, o.condition, o.currency, o.price, o.excluded_reason
    FROM price_observations o
    WHERE o.observed_on = CAST(:day AS date) AND o.condition IS NOT NULL {{figures}}
        AND NOT EXISTS (SELECT 1 FROM snapshot_days d
                        WHERE d.day = CAST(:day AS date) AND d.listings_deleted_at IS NOT NULL)
),
mids AS (
    SELECT r.minifigure_id, r.condition, r.currency,
        {_cents("CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.price) AS numeric) * 100")} AS mid
    FROM day_rows r WHERE r.excluded_reason IS NULL
    GROUP BY r.minifigure_id, r.condition, r.currency HAVING count(*) >= :fenced_from
),
marked AS (
    SELECT r.*, COALESCE(r.price > m.mid * :fence OR r.price * :fence < m.mid, false) AS outlier
    FROM day_rows r LEFT JOIN mids m
        ON (m.minifigure_id, m.condition, m.currency) = (r.minifigure_id, r.condition, r.currency)
        AND r.excluded_reason IS NULL
)
SELECT g.minifigure_id, g.condition, g.currency, g.n, g.lo, g.hi, g.excluded, g.excluded_total,
    {_cents("g.mean")} AS mean, {_cents("g.p50")} AS median, {_cents("g.p25")} AS p25, {_cents("g.p75")} AS p75
FROM (
    SELECT o.minifigure_id, o.condition, o.currency,
        count(*) {_KEPT} AS n,
        min(o.price) {_KEPT} AS lo,
        max(o.price) {_KEPT} AS hi,
        avg(o.price) {_KEPT} * 100 AS mean,
        CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY o.price) {_KEPT} AS numeric) * 100 AS p50,
        CAST(percentile_cont(0.25) WITHIN GROUP (ORDER BY o.price) {_KEPT} AS numeric) * 100 AS p25,
        CAST(percentile_cont(0.75) WITHIN GROUP (ORDER BY o.price) {_KEPT} AS numeric) * 100 AS p75,
        count(*) FILTER (WHERE o.excluded_reason IS NOT NULL OR o.outlier) AS excluded_total,
        jsonb_strip_nulls(jsonb_build_object({_EXCLUDED_BY_REASON})) AS excluded
    FROM marked o
    GROUP BY o.minifigure_id, o.condition, o.currency
) g
"""
_AGGREGATE = f"""
WITH c AS MATERIALIZED ({_GROUPS}),
written AS (
    INSERT INTO price_snapshots AS s (minifigure_id, snapshot_date, condition, currency, price_kind, n, min_price,
        max_price, mean_price, median_price, p25_price, p75_price, excluded, excluded_total, thin, method_version,
        computed_at)
    SELECT c.minifigure_id, CAST(:day AS date), c.condition, c.currency, 'asking', c.n, c.lo, c.hi, c.mean,
        c.median, c.p25, c.p75, c.excluded, c.excluded_total, c.n < :thin_n, :method_version, now()
    FROM c
    {{conflict}}
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), count(*), COALESCE(sum(c.n + c.excluded_total), 0) FROM c
"""
# A day (or a figure's day) that has snapshots already is upserted; one that has
# none yet is a plain insert, which spares ON CONFLICT's speculative insertion.
_UPSERT = f"""
    ON CONFLICT (minifigure_id, snapshot_date, condition, currency) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _STATS)}, computed_at = EXCLUDED.computed_at
    WHERE ({", ".join(f"s.{c}" for c in _STATS)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _STATS)})
"""
_FOR_FIGURES = "AND o.minifigure_id = ANY(CAST(:figures AS uuid[]))"
_HAS_SNAPSHOTS = "SELECT EXISTS (SELECT 1 FROM price_snapshots o WHERE o.snapshot_date = :day {figures})"
_DAY_LOCK = 7461627  # with the day's ordinal: aggregations of one day take turns (migrations use 7461626)


@dataclass(frozen=True)
class DayAggregate:
    written: int  # snapshots inserted or changed
    snapshots: int  # the day's snapshots (of the figures asked for)
    listings: int  # the listings counted in them, included or excluded


def counts(*done: DayAggregate) -> dict[str, int]:
    """What a result reports: `snapshots`, the rows inserted or changed (a second run of a day
    writes none), and `snapshots_unchanged`, those that were already right."""
    written = sum(d.written for d in done)
    return {"snapshots": written, "snapshots_unchanged": sum(d.snapshots for d in done) - written}


def aggregate_day(session: Session, day: date, figures: list[uuid.UUID] | None = None) -> DayAggregate:
    """Snapshots of `day` for every figure, or for `figures`.

    A day whose listings cleanup has started to delete is left alone: its
    snapshots were computed from all of them and are kept.
    """
    only = _FOR_FIGURES if figures is not None else ""
    params: dict[str, object] = {"day": day, "thin_n": THIN_DATA_N, "method_version": METHOD_VERSION,
                                 "fence": OUTLIER_FENCE, "fenced_from": FENCED_FROM_N}
    if figures is not None:
        params["figures"] = figures
    session.execute(text("SELECT pg_advisory_xact_lock(:lock, :day)"), {"lock": _DAY_LOCK, "day": day.toordinal()})
    session.execute(text("SET LOCAL work_mem = '32MB'"))  # a day's sort stays in memory
    exists = session.execute(text(_HAS_SNAPSHOTS.replace("{figures}", only)), params).scalar_one()
    sql = _AGGREGATE.replace("{figures}", only)
    written, snapshots, listings = session.execute(
        text(sql.replace("{conflict}", _UPSERT if exists else "")), params).one()
    return DayAggregate(written, snapshots, listings)


_MARK_DAY = """
INSERT INTO snapshot_days AS d (day, aggregated_at, method_version, listings, snapshots)
VALUES (:day, :at, :method_version, :listings, :snapshots)
ON CONFLICT (day) DO UPDATE SET aggregated_at = EXCLUDED.aggregated_at, method_version = EXCLUDED.method_version,
    listings = EXCLUDED.listings, snapshots = EXCLUDED.snapshots
WHERE (d.method_version, d.listings, d.snapshots) IS DISTINCT FROM
      (EXCLUDED.method_version, EXCLUDED.listings, EXCLUDED.snapshots)
"""


def mark_day_complete(session: Session, day: date, at: datetime, done: DayAggregate) -> None:
    """Record that every listing of `day` went into its snapshots (the day is over)."""
    session.execute(text(_MARK_DAY), {"day": day, "at": at, "method_version": METHOD_VERSION,
                                      "listings": done.listings, "snapshots": done.snapshots})


def listings_deleted(session: Session, day: date) -> bool:
    sql = "SELECT listings_deleted_at IS NOT NULL FROM snapshot_days WHERE day = :day"
    return bool(session.execute(text(sql), {"day": day}).scalar())


# One index probe per calendar day: no scan of the listings, however many there are.
# A day aggregated in full by an earlier method version is complete too: recomputing it by
# today's method is an explicit backfill (`stonks backfill`), never a side effect of a release.
_DAYS_TO_AGGREGATE = """
SELECT d::date FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
WHERE EXISTS (SELECT 1 FROM price_observations o WHERE o.observed_on = d::date)
  AND NOT EXISTS (SELECT 1 FROM snapshot_days s WHERE s.day = d::date)
ORDER BY 1
"""


def days_to_aggregate(session: Session, first: date, last: date) -> list[date]:
    """Days from first to last that have listings but no complete aggregation (by any method version)."""
    if first > last:
        return []
    rows = session.execute(text(_DAYS_TO_AGGREGATE), {"first": first, "last": last})
    return list(rows.scalars())


_DAY_COUNTS = """
SELECT d::date,
    (SELECT count(*) FROM price_observations o WHERE o.observed_on = d::date),
    (SELECT count(*) FROM price_snapshots s WHERE s.snapshot_date = d::date)
FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d ORDER BY 1
"""


def day_counts(session: Session, first: date, last: date) -> list[tuple[date, int, int]]:
    """(day, listings, snapshots) for each day from first to last."""
    rows = session.execute(text(_DAY_COUNTS), {"first": first, "last": last})
    return [(day, listings, snapshots) for day, listings, snapshots in rows]


def of_figure(session: Session, figure_id: uuid.UUID) -> list[PriceSnapshot]:
    """A figure's snapshots, by condition, currency and day."""
    query = (select(PriceSnapshot).where(PriceSnapshot.minifigure_id == figure_id)
             .order_by(PriceSnapshot.condition, PriceSnapshot.currency, PriceSnapshot.snapshot_date))
    return list(session.scalars(query))


_FRESHNESS = text("""
SELECT
  (SELECT count(*) FROM minifigures) AS figures,
  (SELECT count(*) FROM minifigures m WHERE NOT EXISTS (
      SELECT 1 FROM price_snapshots s WHERE s.minifigure_id = m.id AND s.snapshot_date = :day)) AS stale,
  (SELECT max(snapshot_date) FROM price_snapshots) AS latest
""")


def freshness(conn: Connection, day: date) -> tuple[int, int, date | None]:
    """(figures in the catalog, figures with no snapshot of `day`, the newest snapshot's date)."""
    figures, stale, latest = conn.execute(_FRESHNESS, {"day": day}).one()
    return figures, stale, latest
