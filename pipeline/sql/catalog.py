"""The minifigure catalog: set-wise upserts keyed by the BrickLink number, else the Rebrickable id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from pipeline.db import driver
from pipeline.models import Minifigure


@dataclass(frozen=True)
class CatalogEntry:
    """A figure as a catalog source describes it; ids are lower-cased."""

    bricklink_id: str | None
    rebrickable_id: str | None
    name: str
    theme: str | None
    year: int | None
    category: str | None
    image_url: str | None
    source: str

    @property
    def key(self) -> str:
        return self.bricklink_id or self.rebrickable_id or ""


_COLUMNS = ("bricklink_id", "rebrickable_id", "name", "theme", "year", "category", "image_url", "source")
_TYPES = {"year": "integer[]"}
_KEEP = ("name", "theme", "year", "category", "image_url", "bricklink_id", "rebrickable_id")

# A rename is an update of the same key. Known facts are not erased by a source
# that lacks them (a Rebrickable figure has no year: we keep the earliest seen).
# Only a real change rewrites the row, so a second sync leaves it untouched.
_UPSERT = f"""
WITH written AS (
    INSERT INTO minifigures AS m (id, {", ".join(_COLUMNS)}, created_at, updated_at)
    SELECT gen_random_uuid(), {", ".join(f"r.{c}" for c in _COLUMNS)}, :now, :now
    FROM unnest({", ".join(f"CAST(:{c} AS {_TYPES.get(c, 'text[]')})" for c in _COLUMNS)}) AS r({", ".join(_COLUMNS)})
    ON CONFLICT ({{key}}) DO UPDATE SET
        name = EXCLUDED.name,
        theme = COALESCE(EXCLUDED.theme, m.theme),
        year = LEAST(m.year, EXCLUDED.year),
        category = COALESCE(EXCLUDED.category, m.category),
        image_url = COALESCE(EXCLUDED.image_url, m.image_url),
        bricklink_id = COALESCE(m.bricklink_id, EXCLUDED.bricklink_id),
        rebrickable_id = COALESCE(m.rebrickable_id, EXCLUDED.rebrickable_id),
        updated_at = EXCLUDED.updated_at
    WHERE ({", ".join(f"m.{c}" for c in _KEEP)}) IS DISTINCT FROM
          (EXCLUDED.name, COALESCE(EXCLUDED.theme, m.theme), LEAST(m.year, EXCLUDED.year),
           COALESCE(EXCLUDED.category, m.category), COALESCE(EXCLUDED.image_url, m.image_url),
           COALESCE(m.bricklink_id, EXCLUDED.bricklink_id), COALESCE(m.rebrickable_id, EXCLUDED.rebrickable_id))
    RETURNING m.id, (xmax = 0) AS inserted
)
SELECT id, inserted FROM written
"""


@dataclass(frozen=True)
class Upserted:
    created: list[uuid.UUID]
    updated: int


def upsert_figures(session: Session, entries: list[CatalogEntry], now: datetime) -> Upserted:
    """Two statements at most: figures with a BrickLink number, then Rebrickable-only ones."""
    created: list[uuid.UUID] = []
    updated = 0
    by_bricklink = [e for e in entries if e.bricklink_id]
    by_rebrickable = [e for e in entries if not e.bricklink_id and e.rebrickable_id]
    for key, chunk in (("bricklink_id", by_bricklink), ("rebrickable_id", by_rebrickable)):
        if not chunk:
            continue
        params: dict[str, object] = {c: [getattr(e, c) for e in chunk] for c in _COLUMNS}
        params["now"] = now
        for figure_id, inserted in session.execute(text(_UPSERT.replace("{key}", key)), params):
            if inserted:
                created.append(figure_id)
            else:
                updated += 1
    return Upserted(created, updated)


# A figure as pricing reads it: id, BrickLink number, Rebrickable id, name, theme.
_FIGURE = "SELECT id, bricklink_id, rebrickable_id, name, theme FROM minifigures"
_BY_ID = f"{_FIGURE} WHERE id = %s"
_BY_IDS = f"{_FIGURE} WHERE id = ANY(%s)"
_BY_NUMBER = f"{_FIGURE} WHERE lower(bricklink_id) = %(n)s OR rebrickable_id = %(n)s ORDER BY bricklink_id LIMIT 1"
_BY_FAMILY = f"{_FIGURE} WHERE lower(bricklink_id) LIKE %s ORDER BY bricklink_id"
_STALEST = "SELECT id FROM minifigures ORDER BY last_priced_at ASC NULLS FIRST, id LIMIT %s"

FigureRow = tuple[uuid.UUID, str | None, str | None, str, str | None]


def figure_row(session: Session, figure_id: uuid.UUID) -> FigureRow | None:
    """Plain SQL: one runs for every figure a worker prices."""
    return driver(session).execute(_BY_ID, (figure_id,)).fetchone()


def figure_rows(session: Session, ids: list[uuid.UUID]) -> list[FigureRow]:
    return list(driver(session).execute(_BY_IDS, (ids,)))


def figure_numbered(session: Session, number: str) -> FigureRow | None:
    """The figure whose BrickLink number (lower-cased) or Rebrickable id is `number`."""
    return driver(session).execute(_BY_NUMBER, {"n": number}).fetchone()


def figures_of_family(session: Session, family: str) -> list[FigureRow]:
    """Figures whose BrickLink number starts with `family` (lower-case letters and digits only)."""
    return list(driver(session).execute(_BY_FAMILY, (f"{family}%",)))


def stalest(session: Session, limit: int) -> list[uuid.UUID]:
    """The figures priced longest ago, never-priced ones first."""
    return [row[0] for row in driver(session).execute(_STALEST, (limit,))]


def get(session: Session, figure_id: uuid.UUID) -> Minifigure | None:
    return session.get(Minifigure, figure_id)


def search(session: Session, text: str, limit: int = 50) -> list[Minifigure]:
    """Figures whose name, BrickLink number, Rebrickable id or theme contain `text` (any case)."""
    query = select(Minifigure)
    text = text.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Minifigure.name.ilike(pattern), Minifigure.bricklink_id.ilike(pattern),
                                Minifigure.rebrickable_id.ilike(pattern), Minifigure.theme.ilike(pattern)))
    query = query.order_by(Minifigure.theme, Minifigure.bricklink_id, Minifigure.name).limit(limit)
    return list(session.scalars(query))
