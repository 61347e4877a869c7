"""Listing observations: one row per (source, listing id, day), however often it is seen that day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter

from sqlalchemy import text
from sqlalchemy.orm import Session

from pipeline.db import driver


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """A listing as seen on one day, classified for one figure."""

    minifigure_id: uuid.UUID
    source: str
    listing_id: str
    observed_on: date
    marketplace: str | None
    title: str
    price: Decimal
    currency: str
    shipping: Decimal | None
    shipping_currency: str | None
    shipping_type: str | None
    condition: str | None
    condition_id: str | None
    condition_text: str | None
    buying_options: str  # comma-joined: an array of arrays would not survive unnest
    bid_count: int | None
    seller: str | None
    url: str | None
    excluded_reason: str | None
    seen_at: datetime


COLUMNS = [f.name for f in fields(ObservationRow)]
_VALUES = attrgetter(*COLUMNS)
_STAGE_TYPES = {"minifigure_id": "uuid", "observed_on": "date", "price": "numeric", "shipping": "numeric",
                "bid_count": "integer", "seen_at": "timestamptz"}

_STAGE_TYPE_LIST = [_STAGE_TYPES.get(c, "text") for c in COLUMNS]

# A page goes by binary COPY into a temporary table of this connection, then one
# upsert moves it: COPY's speed, ON CONFLICT's idempotence. Three round trips a page.
_STAGE = f"""
CREATE TEMP TABLE IF NOT EXISTS observation_stage
    ({", ".join(f"{c} {t}" for c, t in zip(COLUMNS, _STAGE_TYPE_LIST, strict=True))}) ON COMMIT DELETE ROWS;
TRUNCATE observation_stage
"""
_COPY = f"COPY observation_stage ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"

# Rows are written in the order of their key, in every transaction: two messages whose
# figures share listings then lock them in the same order and wait for each other, where
# in the order of their searches they deadlocked.
# The listing's own facts take the latest sighting. The figure it counts for stays
# the first one's, unless that figure excluded it and this one includes it (a
# "wrong figure" listing found again by the search for the figure it really shows),
# so the outcome does not depend on which figure was fetched first.
_UPSERT = """
WITH written AS (
    INSERT INTO price_observations AS o (
        minifigure_id, source, listing_id, observed_on, marketplace, title, price, currency, shipping,
        shipping_currency, shipping_type, condition, condition_id, condition_text, buying_options, bid_count,
        seller, url, excluded_reason, first_seen_at, last_seen_at, times_seen)
    SELECT r.minifigure_id, r.source, r.listing_id, r.observed_on, r.marketplace, r.title, r.price, r.currency,
        r.shipping, r.shipping_currency, r.shipping_type, r.condition, r.condition_id, r.condition_text,
        string_to_array(r.buying_options, ','), r.bid_count, r.seller, r.url, r.excluded_reason,
        r.seen_at, r.seen_at, 1
    FROM observation_stage r
    ORDER BY r.source, r.listing_id, r.observed_on
    ON CONFLICT (source, listing_id, observed_on) DO UPDATE SET
        minifigure_id = CASE WHEN o.excluded_reason IS NOT NULL AND EXCLUDED.excluded_reason IS NULL
                             THEN EXCLUDED.minifigure_id ELSE o.minifigure_id END,
        excluded_reason = CASE WHEN o.minifigure_id = EXCLUDED.minifigure_id
                                 OR (o.excluded_reason IS NOT NULL AND EXCLUDED.excluded_reason IS NULL)
                               THEN EXCLUDED.excluded_reason ELSE o.excluded_reason END,
        marketplace = EXCLUDED.marketplace, title = EXCLUDED.title, price = EXCLUDED.price,
        currency = EXCLUDED.currency, shipping = EXCLUDED.shipping, shipping_currency = EXCLUDED.shipping_currency,
        shipping_type = EXCLUDED.shipping_type, condition = EXCLUDED.condition, condition_id = EXCLUDED.condition_id,
        condition_text = EXCLUDED.condition_text, buying_options = EXCLUDED.buying_options,
        bid_count = EXCLUDED.bid_count, seller = EXCLUDED.seller, url = EXCLUDED.url,
        last_seen_at = GREATEST(o.last_seen_at, EXCLUDED.last_seen_at),
        times_seen = o.times_seen + 1
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FROM written
"""


@dataclass(frozen=True)
class Upserted:
    inserted: int
    updated: int


def upsert_observations(session: Session, rows: list[ObservationRow]) -> Upserted:
    """COPY the rows into the stage, upsert them in one statement; rows must not repeat a (source, listing, day)."""
    if not rows:
        return Upserted(0, 0)
    with driver(session).cursor() as cur:
        cur.execute(_STAGE)
        with cur.copy(_COPY) as copy:
            copy.set_types(_STAGE_TYPE_LIST)
            for row in rows:
                copy.write_row(_VALUES(row))
        counted = cur.execute(_UPSERT).fetchone()
        assert counted is not None  # an aggregate query has a row
        inserted, total = counted
    return Upserted(inserted, total - inserted)


def oldest_day(session: Session) -> date | None:
    return session.execute(text("SELECT min(observed_on) FROM price_observations")).scalar()
