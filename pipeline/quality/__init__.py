"""Listing quality: condition mapping, classification before statistics, robust statistics.

Pure functions only: no I/O, no clock, no dramatiq. The caller stores the raw
eBay title and condition text; this package only decides what they mean.

- `condition.py`: the condition vocabularies: seed conditions, eBay `conditionId` (+ title) -> NEW / USED /
  SEALED / None, the ids that ask Browse for a condition, BrickLink's N/U.
- `titles.py`: title normalisation and the regex tables, written as data.
- `numbers.py`: BrickLink / Rebrickable figure numbers and when two are the same figure.
- `classify.py`: `classify_listing`, the exclusion reasons and their precedence.
- `stats.py`: `percentile_cont` (PostgreSQL's semantics), `summarize`, thin data.
"""

from pipeline.quality.classify import (
    ABSURD_PRICE,
    EXCLUSION_REASONS,
    LISTING_KINDS,
    Classification,
    ExclusionReason,
    FigureFacts,
    ListingFacts,
    ListingKind,
    classify_listing,
    exclusion_reasons,
)
from pipeline.quality.condition import (
    CONDITIONS,
    Condition,
    bricklink_new_or_used,
    browse_condition_ids,
    condition_from_ebay,
    condition_of_listing,
    listing_matches,
    looks_sealed,
    parse_condition,
)
from pipeline.quality.numbers import FigureNumber, parse_figure_number
from pipeline.quality.stats import (
    FENCED_FROM_N,
    METHOD_VERSION,
    OUTLIER,
    OUTLIER_FENCE,
    THIN_DATA_N,
    Fenced,
    Summary,
    fence,
    is_thin,
    percentile_cont,
    summarize,
)

__all__ = [
    "ABSURD_PRICE",
    "CONDITIONS",
    "EXCLUSION_REASONS",
    "FENCED_FROM_N",
    "LISTING_KINDS",
    "METHOD_VERSION",
    "OUTLIER",
    "OUTLIER_FENCE",
    "THIN_DATA_N",
    "Classification",
    "Condition",
    "ExclusionReason",
    "Fenced",
    "FigureFacts",
    "FigureNumber",
    "ListingFacts",
    "ListingKind",
    "Summary",
    "bricklink_new_or_used",
    "browse_condition_ids",
    "classify_listing",
    "condition_from_ebay",
    "condition_of_listing",
    "exclusion_reasons",
    "fence",
    "is_thin",
    "listing_matches",
    "looks_sealed",
    "parse_condition",
    "parse_figure_number",
    "percentile_cont",
    "summarize",
]
