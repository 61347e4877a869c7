"""The minifigure catalog: set-wise upserts keyed by the BrickLink number, else the Rebrickable id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session


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
