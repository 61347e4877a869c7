"""Robust price statistics over the included listings of one figure, day, condition, currency.

`percentile_cont` follows PostgreSQL's ordered-set aggregate exactly: position
q*(n-1) computed in double precision as PostgreSQL does, then linear
interpolation between the two nearest ranks. The interpolation itself is done in
Decimal, so Python and SQL agree to within float8 noise (about 1e-15 relative).

Money is rounded once, at the end, to 2 places with ROUND_HALF_EVEN; every
intermediate (the sum, the interpolated quartiles) keeps full precision, so a
snapshot never carries a rounding of a rounding. PostgreSQL's `round(numeric, 2)`
rounds half away from zero: SQL that must match `summarize` to the cent should
round in Python or with an explicit half-even expression.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import pairwise

METHOD_VERSION = 2  # stored on every snapshot; bump when a rule here changes (2: the outlier fence)
THIN_DATA_N = 5  # fewer included listings than this and the snapshot is flagged thin

# The outlier fence. Around the median of a group's included listings (rounded to the cent),
# a listing priced above OUTLIER_FENCE times it, or below it divided by OUTLIER_FENCE, is
# left out of the statistics and counted as an `outlier`: a relative fence, as statistical
# offices clean price quotes, symmetric in ratio (1/3x and 3x are as far from the median).
# Groups with fewer than FENCED_FROM_N included listings are not fenced: their median says
# too little. One listing can then move the mean by at most a factor of three of the median's
# share, and never the min or max beyond the fence.
OUTLIER = "outlier"
OUTLIER_FENCE = Decimal(3)
FENCED_FROM_N = 3

_CENT = Decimal("0.01")
_WORKING = Context(prec=40)  # ample for 2-decimal prices; independent of the caller's context


def is_thin(n: int) -> bool:
    return n < THIN_DATA_N


def percentile_cont(sorted_values: Sequence[Decimal], q: float) -> Decimal:
    """PostgreSQL's `percentile_cont(q) WITHIN GROUP (ORDER BY v)` over ascending values."""
    if not 0.0 <= q <= 1.0:  # also rejects NaN, as PostgreSQL does
        raise ValueError(f"percentile {q!r} is not between 0 and 1")
    if not sorted_values:
        raise ValueError("percentile_cont of no values")
    if any(a > b for a, b in pairwise(sorted_values)):
        raise ValueError("percentile_cont needs values in ascending order")
    position = q * (len(sorted_values) - 1)  # a float, exactly as PostgreSQL computes it
    lower, upper = math.floor(position), math.ceil(position)
    low = sorted_values[lower]
    if upper == lower:
        return low
    with localcontext(_WORKING):
        return low + Decimal(position - lower) * (sorted_values[upper] - low)


@dataclass(frozen=True)
class Summary:
    n: int
    min: Decimal
    max: Decimal
    mean: Decimal
    median: Decimal
    p25: Decimal
    p75: Decimal

    @property
    def thin(self) -> bool:
        return is_thin(self.n)


def summarize(values: Iterable[Decimal]) -> Summary:
    """Count, extremes, mean and quartiles of prices, each rounded to the cent at the end.

    Raises ValueError for no values or a non-finite one: a day with no included
    listing has no statistics, and the caller records only its count.
    """
    prices = list(values)
    if not prices:
        raise ValueError("no prices to summarize")
    if not all(price.is_finite() for price in prices):  # NaN would not even sort
        raise ValueError("prices must be finite numbers")
    ordered = sorted(prices)
    with localcontext(_WORKING):
        mean = sum(ordered, Decimal(0)) / len(ordered)
    return Summary(
        n=len(ordered),
        min=_to_cents(ordered[0]),
        max=_to_cents(ordered[-1]),
        mean=_to_cents(mean),
        median=_to_cents(percentile_cont(ordered, 0.5)),
        p25=_to_cents(percentile_cont(ordered, 0.25)),
        p75=_to_cents(percentile_cont(ordered, 0.75)),
    )


@dataclass(frozen=True)
class Fenced:
    kept: list[Decimal]  # ascending
    outliers: list[Decimal]  # ascending


def fence(values: Iterable[Decimal]) -> Fenced:
    """The prices within the outlier fence around their median, and those outside it."""
    ordered = sorted(values)
    if len(ordered) < FENCED_FROM_N:
        return Fenced(ordered, [])
    mid = _to_cents(percentile_cont(ordered, 0.5))
    kept = [p for p in ordered if p * OUTLIER_FENCE >= mid and p <= mid * OUTLIER_FENCE]
    return Fenced(kept, [p for p in ordered if not (p * OUTLIER_FENCE >= mid and p <= mid * OUTLIER_FENCE)])


def _to_cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN, context=_WORKING)
