"""Listing quality: condition mapping, classification before statistics, robust statistics.

Pure functions only: no I/O, no clock, no dramatiq. The caller stores the raw
eBay title and condition text; this package only decides what they mean.

- `condition.py`: eBay `conditionId` (+ title) -> NEW / USED / SEALED / None.
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
    condition_from_ebay,
    looks_sealed,
)
from pipeline.quality.numbers import FigureNumber, parse_figure_number
from pipeline.quality.stats import (
    METHOD_VERSION,
    THIN_DATA_N,
    Summary,
    is_thin,
    percentile_cont,
    summarize,
)

__all__ = [
    "ABSURD_PRICE",
    "CONDITIONS",
    "EXCLUSION_REASONS",
    "LISTING_KINDS",
    "METHOD_VERSION",
    "THIN_DATA_N",
    "Classification",
    "Condition",
    "ExclusionReason",
    "FigureFacts",
    "FigureNumber",
    "ListingFacts",
    "ListingKind",
    "Summary",
    "classify_listing",
    "condition_from_ebay",
    "exclusion_reasons",
    "is_thin",
    "looks_sealed",
    "parse_figure_number",
    "percentile_cont",
    "summarize",
]
