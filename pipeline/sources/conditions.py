"""Condition vocabularies: seed conditions, eBay condition ids, BrickLink N/U (API_REFERENCE §5).

The seed speaks of NEW, USED and SEALED figures. eBay's condition ids are the
same on every site; BrickLink's price guide knows only N and U. Refurbished
grades (2000-2500) and "for parts" (7000) are no figure's condition here.
"""

from __future__ import annotations

import re
from typing import Literal

Condition = Literal["NEW", "USED", "SEALED"]
CONDITIONS: tuple[Condition, ...] = ("NEW", "USED", "SEALED")

_BROWSE_IDS: dict[Condition, tuple[str, ...]] = {
    "SEALED": ("1000",),
    "NEW": ("1000", "1500"),
    "USED": ("3000", "4000", "5000", "6000"),
}
_NEW_IDS = frozenset({"1000", "1500", "1750"})
_USED_IDS = frozenset({"2750", "3000", "4000", "5000", "6000"})  # 2750 Like New counts as used for minifigs
_SEALED_WORDS = re.compile(r"\b(factory[\s-]+sealed|sealed|polybag|unopened)\b", re.IGNORECASE)


def parse_condition(value: str) -> Condition:
    """A seed condition in any case; ValueError names the allowed ones."""
    for condition in CONDITIONS:
        if value.strip().upper() == condition:
            return condition
    raise ValueError(f"unknown condition {value!r}; expected one of {', '.join(CONDITIONS)}")


def browse_condition_ids(condition: Condition) -> tuple[str, ...]:
    """The `conditionIds:{…}` values that ask eBay Browse for `condition`."""
    return _BROWSE_IDS[condition]


def condition_of_listing(condition_id: str | None) -> Literal["NEW", "USED"] | None:
    """NEW or USED from an eBay `conditionId`; None for excluded or unknown ids."""
    if condition_id is None:
        return None
    condition_id = condition_id.strip()
    if condition_id in _NEW_IDS:
        return "NEW"
    if condition_id in _USED_IDS:
        return "USED"
    return None


def looks_sealed(title: str) -> bool:
    """The title heuristic for SEALED: "sealed", "factory sealed", "polybag", "unopened"."""
    return bool(_SEALED_WORDS.search(title))


def listing_matches(condition: Condition, condition_id: str | None, title: str) -> bool:
    """Whether an eBay listing counts as `condition` (SEALED: id 1000 and a sealed-looking title)."""
    if condition == "SEALED":
        return (condition_id or "").strip() == "1000" and looks_sealed(title)
    return condition_of_listing(condition_id) == condition


def bricklink_new_or_used(condition: Condition) -> Literal["N", "U"]:
    """BrickLink's price guide cannot tell sealed from new: SEALED and NEW are N."""
    return "U" if condition == "USED" else "N"
