"""The Browse API's search language: `q` keywords and the `filter` parameter.

Keywords match whole words of the title, without regard to case; words and the
title are both cut at anything that is not a letter or a digit, so "Obi-Wan"
asks for "obi" and "wan". Space means AND; `(a, b)` means a OR b, and an
alternative of several words needs them all. Filters are `name:value` terms
joined by commas, a value being `{a|b}`, a range `[lo..hi]`, `[..hi]`, `[lo..]`
or `[v]`, or a plain word.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from .listings import Listing, day_listings

_WORD = re.compile(r"[a-z0-9]+")
_GROUP = re.compile(r"\(([^()]*)\)")

Clause = tuple[tuple[str, ...], ...]  # alternatives, each a run of words that must all appear


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def parse_keywords(q: str) -> list[Clause]:
    clauses: list[Clause] = []
    position = 0
    for group in _GROUP.finditer(q):
        clauses += [((word,),) for word in words(q[position:group.start()])]
        alternatives = tuple(tuple(words(a)) for a in group.group(1).split(",") if words(a))
        if alternatives:
            clauses.append(alternatives)
        position = group.end()
    clauses += [((word,),) for word in words(q[position:])]
    return clauses


class ListingIndex:
    """The listings one marketplace shows on one day, with an inverted index of title words."""

    def __init__(self, listings: list[Listing]) -> None:
        self.listings = listings
        self._postings: dict[str, set[int]] = {}
        for position, listing in enumerate(listings):
            for word in words(listing.title):
                self._postings.setdefault(word, set()).add(position)

    def search(self, clauses: list[Clause]) -> list[Listing]:
        if not clauses:
            return list(self.listings)
        found: set[int] | None = None
        for clause in clauses:
            matched: set[int] = set()
            for alternative in clause:
                matched |= set.intersection(*(self._postings.get(word, set()) for word in alternative))
            found = matched if found is None else found & matched
        return [self.listings[position] for position in sorted(found or ())]


@functools.lru_cache(maxsize=16)
def market_index(seed: int, day: date, marketplace: str) -> ListingIndex:
    return ListingIndex([listing for listing in day_listings(seed, day) if listing.visible_on(marketplace)])


@dataclass(frozen=True)
class Range:
    low: Decimal | None
    high: Decimal | None

    def __contains__(self, value: object) -> bool:
        number = Decimal(str(value))
        return (self.low is None or number >= self.low) and (self.high is None or number <= self.high)


FilterValue = tuple[str, ...] | Range | str


def parse_filter(text: str) -> dict[str, FilterValue]:
    """Raises ValueError for a term that is not `name:value`."""
    parsed: dict[str, FilterValue] = {}
    for term in _split_terms(text):
        name, colon, value = term.partition(":")
        if not colon or not name.strip() or not value.strip():
            raise ValueError(f"The filter term '{term}' is not in the form name:value.")
        parsed[name.strip()] = _parse_value(value.strip(), term)
    return parsed


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term.strip() for term in terms if term.strip()]


def _parse_value(value: str, term: str) -> FilterValue:
    if value.startswith("{"):
        if not value.endswith("}"):
            raise ValueError(f"The filter term '{term}' has an unclosed '{{'.")
        return tuple(v.strip() for v in value[1:-1].split("|") if v.strip())
    if value.startswith("["):
        if not value.endswith("]"):
            raise ValueError(f"The filter term '{term}' has an unclosed '['.")
        inner = value[1:-1]
        low, dots, high = inner.partition("..")
        try:
            low_value = Decimal(low) if low.strip() else None
            # eBay's filter reference: `[10]` means "10 or more", the same as `[10..]`.
            high_value = Decimal(high) if dots and high.strip() else None
        except InvalidOperation:
            raise ValueError(f"The filter term '{term}' has a range that is not numeric.") from None
        return Range(low_value, high_value)
    return value
