"""Classify an eBay listing before any statistics: one figure at an asking price, or why not.

Checks run in this order, and when several apply the first one is the primary
`reason` (`EXCLUSION_REASONS` is the order):

1. `price`        price not positive, not finite, at or above ABSURD_PRICE, or no currency
2. `auction`      AUCTION without FIXED_PRICE, or any bid placed: a current bid is not a price
3. `condition`    conditionId excluded (for parts, refurbished) or missing/unknown
4. `custom`       not a genuine LEGO figure (custom, MOC, replica, "fits lego", clone brands)
5. `lot`          more than one figure (lot, bundle, "x3", "set of", two different numbers
                  of the target's family, a listing in Complete Sets & Packs...)
6. `part`         less than a whole loose figure: a part or accessory (torso only, helmet, weapon,
                  display stand, "<name> legs <number>"), an incomplete figure ("incomplete",
                  "missing ...", "no head", "without legs"), or merchandise built around one
                  (keychain, magnet, book); the figure's own number does not make it a figure
7. `wrong_figure` the title names another number of the target's family (sw0002 for sw0001a)

Structured fields (1-3) are facts and come first; title heuristics (4-7) are
guesses, ordered from "not even LEGO" to "another genuine figure". A title with
no figure number is never a wrong figure. The heuristics favour precision: a
doubtful listing is excluded rather than allowed to move the median.

`Classification.kind` is what the title says the listing is (custom, else lot,
else part, else single), whatever the primary reason: an auctioned lot is
excluded as `auction` and is still of kind `lot`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pipeline.quality import titles
from pipeline.quality.condition import Condition, condition_from_ebay
from pipeline.quality.numbers import FigureNumber, numbers_in_title, parse_figure_number

ExclusionReason = Literal["price", "auction", "condition", "custom", "lot", "part", "wrong_figure"]
EXCLUSION_REASONS: tuple[ExclusionReason, ...] = (
    "price", "auction", "condition", "custom", "lot", "part", "wrong_figure",
)  # fmt: skip
ListingKind = Literal["single", "lot", "custom", "part"]
LISTING_KINDS: tuple[ListingKind, ...] = ("single", "lot", "custom", "part")

# No genuine minifigure is listed at this asking price in any eBay marketplace
# currency; sellers use 99,999 as a "not for sale" placeholder.
ABSURD_PRICE = Decimal("50000")
# eBay's "LEGO Complete Sets & Packs" (the UK id, API_REFERENCE §3.2): a set with
# its figures, not one figure.
_SET_CATEGORY_IDS = frozenset({"19006"})


@dataclass(frozen=True)
class ListingFacts:
    """What classification needs from one eBay item summary."""

    title: str
    condition_id: str | None
    buying_options: tuple[str, ...]  # FIXED_PRICE, AUCTION, BEST_OFFER, CLASSIFIED_AD
    price: Decimal  # `price.value`: the asking price, shipping not included
    currency: str
    has_current_bid: bool = False  # `currentBidPrice` present
    bid_count: int = 0
    category_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class FigureFacts:
    """The figure searched for. Name and theme are context; numbers decide wrong_figure."""

    bricklink_no: str | None  # "sw0001a"
    rebrickable_id: str | None  # "fig-000123"
    name: str
    theme: str | None = None


@dataclass(frozen=True)
class Classification:
    included: bool
    reason: ExclusionReason | None  # the primary reason; None when included
    condition: Condition | None  # mapped even when excluded for another reason
    kind: ListingKind  # what the title says the listing is, whatever the reason


def classify_listing(listing: ListingFacts, figure: FigureFacts) -> Classification:
    condition = condition_from_ebay(listing.condition_id, listing.title)
    reasons = _reasons(listing, figure, condition)
    kind: ListingKind = next((r for r in ("custom", "lot", "part") if r in reasons), "single")
    return Classification(included=not reasons, reason=reasons[0] if reasons else None, condition=condition,
                          kind=kind)


def exclusion_reasons(listing: ListingFacts, figure: FigureFacts) -> tuple[ExclusionReason, ...]:
    """Every reason that applies, in precedence order; empty when the listing is included."""
    return _reasons(listing, figure, condition_from_ebay(listing.condition_id, listing.title))


def _reasons(listing: ListingFacts, figure: FigureFacts, condition: Condition | None) -> tuple[ExclusionReason, ...]:
    found: set[ExclusionReason] = _title_reasons(listing, figure)
    if not _price_is_usable(listing):
        found.add("price")
    if _is_auction(listing):
        found.add("auction")
    if condition is None:
        found.add("condition")
    return tuple(reason for reason in EXCLUSION_REASONS if reason in found)


@functools.lru_cache(maxsize=4096)
def _targets(bricklink_no: str | None, rebrickable_id: str | None) -> tuple[FigureNumber, ...]:
    """The figure's own numbers (read once per figure, not once per listing)."""
    return tuple(n for n in map(parse_figure_number, (bricklink_no, rebrickable_id)) if n)


@functools.lru_cache(maxsize=4096)
def _own_part_nouns(figure_name: str) -> frozenset[str]:
    """The accessory nouns of the figure's own name ("Batman - Black Cape"): not a sign of a part."""
    return frozenset(titles.WEAK_PART_NOUN.findall(titles.normalize_title(figure_name)))


@functools.lru_cache(maxsize=4096)
def _own_body_parts(figure_name: str) -> frozenset[str]:
    """The body parts the figure's own name holds ("Zombie - Dual Molded Legs"): not a sign of a part."""
    return frozenset(re.findall(r"\b(?:torso|legs|heads?|hips)\b", titles.normalize_title(figure_name)))


def _title_reasons(listing: ListingFacts, figure: FigureFacts) -> set[ExclusionReason]:
    text = titles.normalize_title(listing.title)
    targets = _targets(figure.bricklink_no, figure.rebrickable_id)
    named = numbers_in_title(text, {target.family for target in targets})
    found: set[ExclusionReason] = set()
    if _is_custom(text):
        found.add("custom")
    if _is_lot(text, named) or _SET_CATEGORY_IDS.intersection(listing.category_ids):
        found.add("lot")
    if _is_part(text, figure.name, names_figure=any(n.matches(t) for n in named for t in targets)):
        found.add("part")
    if any(not any(n.matches(t) for t in targets if t.family == n.family) for n in named):
        found.add("wrong_figure")
    return found


def _price_is_usable(listing: ListingFacts) -> bool:
    price = listing.price
    has_currency = len(listing.currency) == 3 and listing.currency.isalpha()
    return price.is_finite() and Decimal(0) < price < ABSURD_PRICE and has_currency


def _is_auction(listing: ListingFacts) -> bool:
    # An auction that still offers Buy It Now has an asking price, until the first
    # bid: eBay then withdraws Buy It Now and `price` may be the bid.
    bid_placed = listing.has_current_bid or listing.bid_count > 0
    has_ask = "FIXED_PRICE" in listing.buying_options or "CLASSIFIED_AD" in listing.buying_options
    return ("AUCTION" in listing.buying_options or bid_placed) and (bid_placed or not has_ask)


def _is_custom(text: str) -> bool:
    for negation in titles.CUSTOM_NEGATIONS:
        text = negation.sub(" ", text)
    return titles.matches_any(titles.CUSTOM_SIGNS, text)


def _is_lot(text: str, named: list[FigureNumber]) -> bool:
    distinct_figures = any(not a.matches(b) for i, a in enumerate(named) for b in named[i + 1 :])
    return distinct_figures or titles.matches_any(titles.LOT_SIGNS, text)


def _is_part(text: str, figure_name: str, names_figure: bool) -> bool:
    for negation in titles.PART_NEGATIONS:
        text = negation.sub(" ", text)
    if titles.matches_any(titles.PART_SIGNS, text):
        return True
    before_with = titles.WITH_CLAUSE.split(text, maxsplit=1)[0]
    if titles.MERCHANDISE_NOUN.search(before_with):
        return True
    own_body_parts = _own_body_parts(figure_name)
    for named in titles.BODY_PART_NOUN.finditer(before_with):
        described = named["before"] is not None and titles.DESCRIPTOR.fullmatch(named["before"])
        if not described and named["part"] not in own_body_parts:
            return True
    if names_figure or titles.FIGURE_WORD.search(text):
        return False
    own_words = _own_part_nouns(figure_name)
    return any(noun not in own_words for noun in titles.WEAK_PART_NOUN.findall(before_with))
