"""Catalog sync from the configured source (Rebrickable by default, or Brickset).

BrickLink numbers are the primary external key when a source gives them
(Brickset does); Rebrickable gives `fig-` ids only, stored as rebrickable_id.
A figure known to both sources under different ids stays two rows until a
mapping exists (API_REFERENCE §2.6).

Filters, honestly:
- Rebrickable: theme; theme and year (the figures of the theme's sets of that
  year; a figure's year is the earliest such year seen). A year without a theme
  is refused: minifigs carry no year, and asking every theme is not a sync.
- Brickset: theme (matched against Brickset's themes). A year is refused:
  Brickset minifigure records carry no year.
`limit` keeps the first figures by catalog id, so a repeated sync takes the same ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.errors import InvalidInput
from pipeline.sources.brickset import EVERY_NUMBER, BricksetClient, BricksetMinifig
from pipeline.sources.errors import RecordNotFound
from pipeline.sources.rebrickable import RebrickableClient
from pipeline.sql.catalog import CatalogEntry, upsert_figures

FIRST_YEAR = 1949  # LEGO's first plastic bricks; no figure is older


@dataclass(frozen=True)
class Found:
    entries: list[CatalogEntry]  # at most `limit`, ordered by key
    matched: int  # before the limit
    skipped: int  # records without any id


def check_year(year: Any, this_year: int) -> int | None:
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= this_year + 1:
        raise InvalidInput(f"year {year!r} is not a year from {FIRST_YEAR} to {this_year + 1}")
    return year


def collect(client: BricksetClient | RebrickableClient, theme: str | None, year: int | None, limit: int) -> Found:
    """Ask the source (HTTP only; no database) for the figures matching the filters."""
    if isinstance(client, BricksetClient):
        return _limited(_from_brickset(client, theme, year), limit)
    return _limited(_from_rebrickable(client, theme, year), limit)


def _limited(entries: Iterable[CatalogEntry | None], limit: int) -> Found:
    every = list(entries)
    keyed = {e.key: e for e in every if e is not None and e.key}
    ordered = [keyed[key] for key in sorted(keyed)]
    return Found(ordered[:limit], len(ordered), sum(1 for e in every if e is None or not e.key))


def _from_rebrickable(client: RebrickableClient, theme: str | None, year: int | None) -> list[CatalogEntry | None]:
    if theme is None:
        if year is not None:
            raise InvalidInput("with Rebrickable a year needs a theme too: minifigures carry no year, "
                               "so the year comes from the theme's sets")
        return [_rebrickable(f.fig_num, f.name, None, None, f.img_url) for f in client.get_minifigs()]
    try:
        root = client.theme_id(theme)
    except RecordNotFound:
        raise InvalidInput(f"theme {theme!r} is not a Rebrickable theme") from None
    name = next((t.name for t in client.get_themes() if t.id == root), theme)
    if year is None:
        return [_rebrickable(f.fig_num, f.name, name, None, f.img_url) for f in client.minifigs_by_theme(theme)]
    return [_rebrickable(f.fig_num, f.name, name, year, f.img_url)
            for f in client.minifigs_by_theme_and_year(theme, year)]


def _rebrickable(fig_num: str, name: str, theme: str | None, year: int | None, image: str | None) -> CatalogEntry:
    return CatalogEntry(None, fig_num.strip().casefold(), name, theme, year, None, image, "rebrickable")


def _from_brickset(client: BricksetClient, theme: str | None, year: int | None) -> list[CatalogEntry | None]:
    if year is not None:
        raise InvalidInput("Brickset minifigure records carry no year: leave year out, "
                           "or set CATALOG_SOURCE=rebrickable to filter by year")
    if theme is None:
        figures = [fig for query in EVERY_NUMBER for fig in client.get_minifig_collection(query=query)]
    else:
        known = {t.name.casefold(): t.name for t in client.get_themes()}
        if theme.casefold() not in known:
            raise InvalidInput(f"theme {theme!r} is not a Brickset theme")
        figures = client.minifigs_by_theme(known[theme.casefold()])
    return [_brickset(fig) for fig in figures]


def _brickset(fig: BricksetMinifig) -> CatalogEntry | None:
    if not fig.minifig_number:
        return None
    number = fig.minifig_number.strip().casefold()
    return CatalogEntry(number, None, fig.name or number, fig.theme, None, fig.category, None, "brickset")


def store(session: Session, found: Found, now: datetime) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """Upsert the figures (set-wise): a summary of counts, and the ids of the new figures."""
    written = upsert_figures(session, found.entries, now)
    summary = {
        "matched": found.matched, "taken": len(found.entries), "created": len(written.created),
        "updated": written.updated, "unchanged": len(found.entries) - len(written.created) - written.updated,
        "skipped_without_id": found.skipped,
    }
    return summary, written.created
