"""Price fetch: search eBay for a figure, classify every listing, store the day's observations.

The search runs outside any transaction (`search_listings`), the writes in one
(`store_listings`): a slow API never holds a database transaction open.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.errors import InvalidInput
from pipeline.quality import (
    Condition,
    FigureFacts,
    ListingFacts,
    browse_condition_ids,
    classify_listing,
    parse_figure_number,
)
from pipeline.services import batches
from pipeline.sources.ebay import BrowseQuery, EbayClient, ItemSummary
from pipeline.sql import catalog, receipts, searches
from pipeline.sql.observations import ObservationRow, upsert_observations

SOURCE = "ebay"
MAX_LISTINGS = 1_000  # five pages of 200: a bound on the daily quota one figure can spend
_QUERY_NOISE = re.compile(r"[^\w']+")  # eBay reads "(a, b)" as OR, "-word" as NOT, and refuses "*"


@dataclass(frozen=True)
class Figure:
    id: uuid.UUID
    bricklink_id: str | None
    rebrickable_id: str | None
    name: str
    theme: str | None

    @property
    def facts(self) -> FigureFacts:
        return FigureFacts(self.bricklink_id, self.rebrickable_id, self.name, self.theme)


def load_figure(session: Session, minifigure_id: uuid.UUID) -> Figure:
    row = catalog.figure_row(session, minifigure_id)
    if row is None:
        raise InvalidInput(f"minifigure_id {minifigure_id} is not in the catalog")
    return Figure(*row)


def load_figures(session: Session, ids: list[uuid.UUID]) -> tuple[list[Figure], list[uuid.UUID]]:
    """The figures of `ids` that are in the catalog, in the order given, and the ids that are not."""
    found = {row[0]: Figure(*row) for row in catalog.figure_rows(session, ids)}
    return [found[i] for i in ids if i in found], [i for i in ids if i not in found]


def find_figure(session: Session, number: str) -> Figure:
    """The figure with this BrickLink number or Rebrickable id; "sw0001" finds sw0001a if it is the only one."""
    exact = catalog.figure_numbered(session, number)
    if exact is not None:
        return Figure(*exact)
    wanted = parse_figure_number(number)
    candidates = [] if wanted is None or wanted.variant else catalog.figures_of_family(session, wanted.family)
    variants = [row for row in candidates if wanted is not None
                and (parsed := parse_figure_number(row[1])) is not None and parsed.matches(wanted)]
    if len(variants) == 1:
        return Figure(*variants[0])
    if variants:
        names = ", ".join(sorted(str(row[1]) for row in variants))
        raise InvalidInput(f"set_number {number!r} matches {names}; name the variant")
    raise InvalidInput(f"set_number {number!r} is not in the catalog; sync the catalog first")


def search_status(session: Session, figure_id: uuid.UUID) -> dict[str, Any]:
    """What the figure's latest search found: never priced, no live listings, none counted, or priced."""
    last = searches.latest(session, figure_id)
    if last is None:
        return {"state": "never_priced", "text": "never priced: no search of this figure yet"}
    found = {"day": last.searched_on.isoformat(), "marketplace": last.marketplace, "listings": last.listings,
             "included": last.included}
    if last.listings == 0:
        return {"state": "no_live_listings", "text": f"no live listings on {last.searched_on}", **found}
    if last.included == 0:
        return {"state": "none_counted",
                "text": f"{last.listings} listings on {last.searched_on}, none counted (every one excluded)", **found}
    return {"state": "priced", "text": f"{last.included} of {last.listings} listings counted on {last.searched_on}",
            **found}


def browse_query(figure: Figure, condition: Condition | None, category_id: str) -> BrowseQuery:
    """The BrickLink number (with and without its variant letter) when known, else the name and "lego"."""
    number = parse_figure_number(figure.bricklink_id)
    if number is not None and figure.bricklink_id:
        known = figure.bricklink_id.casefold()
        q = f"({known}, {known[:-1]})" if number.variant else known  # sellers often drop the letter
    else:
        q = f"{_keywords(figure.name, 94)} lego".strip()
    return BrowseQuery(q=q, category_id=category_id, condition_ids=browse_condition_ids(condition) if condition else ())


def _keywords(name: str, limit: int) -> str:
    """The name's words, up to `limit` characters, without eBay's operators."""
    query = ""
    for word in _QUERY_NOISE.sub(" ", name).split():
        if len(query) + len(word) + 1 > limit:
            break
        query = f"{query} {word}".strip()
    return query


def search_listings(client: EbayClient, query: BrowseQuery) -> list[ItemSummary]:
    return client.search(query, max_items=MAX_LISTINGS)


def observation_rows(figure: Figure, items: list[ItemSummary], marketplace: str, now: datetime) -> list[ObservationRow]:
    """Each listing once, classified for `figure`, stamped with today's date (UTC)."""
    rows: dict[str, ObservationRow] = {}
    for item in items:
        verdict = classify_listing(ListingFacts(
            title=item.title,
            condition_id=item.condition_id,
            buying_options=item.buying_options,
            price=item.price.value,
            currency=item.price.currency,
            has_current_bid=item.current_bid_price is not None,
            bid_count=item.bid_count or 0,
            category_ids=item.category_ids,
        ), figure.facts)
        shipping = item.shipping_options[0] if item.shipping_options else None
        rows[item.item_id] = ObservationRow(
            minifigure_id=figure.id, source=SOURCE, listing_id=item.item_id, observed_on=now.date(),
            marketplace=marketplace, title=item.title, price=item.price.value, currency=item.price.currency,
            shipping=shipping.cost if shipping else None, shipping_currency=shipping.currency if shipping else None,
            shipping_type=shipping.cost_type if shipping else None, condition=verdict.condition,
            condition_id=item.condition_id, condition_text=item.condition,
            buying_options=",".join(item.buying_options), bid_count=item.bid_count,
            seller=item.seller_username, url=item.item_web_url, excluded_reason=verdict.reason, seen_at=now,
        )
    return list(rows.values())


def store_listings(session: Session, figure: Figure, query: BrowseQuery, items: list[ItemSummary],
                   marketplace: str, now: datetime, message_id: str | None = None,
                   condition: Condition | None = None) -> dict[str, Any]:
    """Upsert the observations (one statement), mark the figure priced; a small summary of counts."""
    earlier = receipts.claim(session, message_id, "fetch_prices", now)
    if earlier is not None:
        return earlier
    rows = observation_rows(figure, items, marketplace, now)
    written = upsert_observations(session, rows)
    summary = {"minifigure_id": str(figure.id), "query": query.q, "condition": condition,
               "observed_on": now.date().isoformat(), **_counts(rows),
               "inserted": written.inserted, "updated": written.updated}
    _searched(session, {figure.id: _found(rows)}, marketplace, now, condition)
    if message_id:
        batches.member_succeeded(session, message_id, now)
        receipts.record(session, message_id, summary)
    return summary


def _searched(session: Session, found: dict[uuid.UUID, tuple[int, int]], marketplace: str, now: datetime,
              condition: Condition | None) -> None:
    """The figures are priced; a search of every condition is also the day's search record."""
    if condition is None:
        searches.record(session, found, now.date(), marketplace, now)
    else:
        searches.mark_priced(session, list(found), now)


def _found(rows: list[ObservationRow]) -> tuple[int, int]:
    """A search's listings and those of them included: what the day's search record keeps."""
    return len(rows), sum(row.excluded_reason is None for row in rows)


def _counts(rows: list[ObservationRow]) -> dict[str, Any]:
    """A figure's listings, those included, and the excluded ones by reason."""
    excluded = Counter(row.excluded_reason for row in rows if row.excluded_reason)
    return {"listings": len(rows), "included": len(rows) - sum(excluded.values()),
            "excluded": dict(sorted(excluded.items()))}


@dataclass(frozen=True)
class Fetched:
    """One figure's search, done: what `store_fetched` writes."""

    figure: Figure
    query: BrowseQuery
    items: list[ItemSummary]


CHUNK_ACTOR = "fetch_prices_for_minifigures"


def chunk_receipt(session: Session, message_id: str | None) -> dict[str, Any]:
    """What earlier deliveries of this message stored: {"figures": {id: summary}, "failed": {id: error}}."""
    earlier = receipts.claimed_result(session, message_id) or {}
    return {"figures": earlier.get("figures", {}), "failed": earlier.get("failed", {})}


def store_fetched(session: Session, fetched: list[Fetched], failed: dict[str, str], marketplace: str,
                  now: datetime, message_id: str | None, condition: Condition | None) -> dict[str, Any]:
    """Store several figures' searches in this transaction: the observations set-wise, each figure
    priced, each batch member settled, and the message's receipt merged with what it already held.

    `failed` maps figure ids to the reason they cannot be fetched (not in the catalog, a search
    eBay refuses): their members fail, and no delivery of this message tries them again. Figures
    that an earlier delivery of the message stored are skipped (the receipt's row lock makes a
    concurrent delivery wait): nothing is counted twice. Returns the receipt, merged.
    """
    done: dict[str, Any] = {"figures": {}, "failed": {},
                            **(receipts.held(session, message_id, CHUNK_ACTOR, now) if message_id else {})}
    seen = done["figures"].keys() | done["failed"].keys()
    fetched = [f for f in fetched if str(f.figure.id) not in seen]
    failed = {key: error for key, error in failed.items() if key not in seen}
    rows = {f.figure.id: observation_rows(f.figure, f.items, marketplace, now) for f in fetched}
    written = [upsert_observations(session, part) for part in _apart(rows)]
    inserted, updated = sum(w.inserted for w in written), sum(w.updated for w in written)
    for f in fetched:
        done["figures"][str(f.figure.id)] = {"query": f.query.q, "observed_on": now.date().isoformat(),
                                             **_counts(rows[f.figure.id])}
    done["failed"].update(failed)
    _searched(session, {f.figure.id: _found(rows[f.figure.id]) for f in fetched}, marketplace, now, condition)
    if message_id:
        batches.keys_settled(session, message_id, [str(f.figure.id) for f in fetched], failed, now)
        receipts.record(session, message_id, done)
    return {**done, "condition": condition, "inserted": inserted, "updated": updated}


def _apart(rows: dict[uuid.UUID, list[ObservationRow]]) -> list[list[ObservationRow]]:
    """The rows in statements that never repeat a listing: its first sighting in the first, the next in the
    second... as if each figure were stored in turn (one statement, unless two figures found a listing)."""
    parts: list[dict[str, ObservationRow]] = []
    for figure_rows in rows.values():
        for row in figure_rows:
            part = next((p for p in parts if row.listing_id not in p), None)
            if part is None:
                parts.append(part := {})
            part[row.listing_id] = row
    return [list(part.values()) for part in parts]


def stalest_figures(session: Session, limit: int) -> list[uuid.UUID]:
    """The figures priced longest ago, never-priced ones first."""
    return catalog.stalest(session, limit)
