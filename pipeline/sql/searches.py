"""The figure_searches table: which figures were searched on a day, and how many listings each found.

Written with the figures' `last_priced_at`, in one statement, when a fetch stores its listings.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.db import driver
from pipeline.models import FigureSearch

# Rows as one array per column; a second search of the day replaces the first one's counts.
_RECORD = """
WITH searched AS (
    INSERT INTO figure_searches AS s (minifigure_id, searched_on, marketplace, listings, included, searched_at)
    SELECT r.minifigure_id, %(day)s, %(marketplace)s, r.listings, r.included, %(at)s
    FROM unnest(%(figures)s::uuid[], %(listings)s::int[], %(included)s::int[]) AS r (minifigure_id, listings, included)
    ORDER BY r.minifigure_id
    ON CONFLICT (minifigure_id, searched_on, marketplace) DO UPDATE SET
        listings = EXCLUDED.listings, included = EXCLUDED.included, searched_at = EXCLUDED.searched_at
)
UPDATE minifigures SET last_priced_at = %(at)s WHERE id = ANY(%(figures)s::uuid[])
"""


def record(session: Session, found: dict[uuid.UUID, tuple[int, int]], day: date, marketplace: str,
           at: datetime) -> None:
    """Each figure searched: (listings found, of which included); the figures are priced at `at`."""
    if not found:
        return
    figures = sorted(found)
    driver(session).execute(_RECORD, {"day": day, "marketplace": marketplace, "at": at, "figures": figures,
                                      "listings": [found[f][0] for f in figures],
                                      "included": [found[f][1] for f in figures]})


_PRICED = "UPDATE minifigures SET last_priced_at = %s WHERE id = ANY(%s)"


def mark_priced(session: Session, figures: list[uuid.UUID], at: datetime) -> None:
    """Priced at `at`, without a search record (a search for one condition is not the day's search)."""
    if figures:
        driver(session).execute(_PRICED, (at, figures))


def latest(session: Session, figure_id: uuid.UUID) -> FigureSearch | None:
    """The figure's latest search, on any marketplace."""
    query = (select(FigureSearch).where(FigureSearch.minifigure_id == figure_id)
             .order_by(FigureSearch.searched_on.desc(), FigureSearch.searched_at.desc()).limit(1))
    return session.scalars(query).first()
