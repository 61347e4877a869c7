"""Figure numbers in catalog ids and in titles, and when two name the same figure.

BrickLink numbers are a family prefix, a number and an optional variant letter:
sw0001a and sw0001b are different figures. Sellers drop the letter ("sw0001")
and BrickLink has re-padded families over the years (sh092 became sh0092), so the
number compares as an integer and a missing letter matches any letter.
Rebrickable ids ("fig-000123") are the family "fig" with no letters.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_CATALOG_ID = re.compile(r"([a-z]{2,7})-?(\d{2,6})([a-z]?)")
# In a title: letters glued to digits, a word on its own ("(sw0001a)", "sw0001a/b" too).
_IN_TITLE = re.compile(r"\b([a-z]{2,7})-?(\d{2,6})([a-z]?)\b")


@dataclass(frozen=True)
class FigureNumber:
    family: str  # "sw", "sh", "njo", "col"...; "fig" for Rebrickable
    number: int
    variant: str  # "" when none is named

    def matches(self, other: FigureNumber) -> bool:
        """Same family and number, and the variants agree or one of them is unnamed."""
        return (
            self.family == other.family
            and self.number == other.number
            and (not self.variant or not other.variant or self.variant == other.variant)
        )


def parse_figure_number(catalog_id: str | None) -> FigureNumber | None:
    """A BrickLink number ("sw0001a") or Rebrickable id ("fig-000123"); None if neither."""
    match = _CATALOG_ID.fullmatch((catalog_id or "").strip().casefold())
    if match is None:
        return None
    return FigureNumber(match[1], int(match[2]), match[3])


def numbers_in_title(text: str, families: Collection[str]) -> list[FigureNumber]:
    """Figure numbers of `families` named in a normalised title.

    Other families are ignored: "ct7567" (Captain Rex's clone number), "arc170" or
    "fn2187" look like figure numbers but are names in Star Wars titles.
    """
    found = (FigureNumber(m[1], int(m[2]), m[3]) for m in _IN_TITLE.finditer(text))
    return [number for number in found if number.family in families]
