"""The condition vocabularies: the seed's NEW / USED / SEALED, eBay condition ids, BrickLink N/U (API_REFERENCE §5).

eBay's condition ids are the same on every site; BrickLink's price guide knows
only N and U. eBay has no "sealed" condition for loose figures: id 1000 means
new, unused and unopened in general. SEALED is therefore 1000 *and* a title
that says so. The raw `condition` text is the caller's to store; only the id
decides here.
"""

from __future__ import annotations

from typing import Literal

from pipeline.quality.titles import compile_all, matches_any, normalize_title

Condition = Literal["NEW", "USED", "SEALED"]
CONDITIONS: tuple[Condition, ...] = ("NEW", "USED", "SEALED")

_BY_CONDITION_ID: dict[str, Literal["NEW", "USED"]] = {
    "1000": "NEW",  # New; SEALED when the title agrees
    "1500": "NEW",  # New other: open box, no box
    "1750": "NEW",  # New with defects
    "2750": "USED",  # Like New: arguable, but for a minifigure it means played with
    "3000": "USED",
    "4000": "USED",  # Very Good
    "5000": "USED",  # Good
    "6000": "USED",  # Acceptable
}
# Excluded (None), so classification gives reason "condition":
#   2000, 2010, 2020, 2030, 2500  refurbished grades: no price a collector would pay for a figure
#   7000                          for parts or not working
#   missing or unknown ids        we cannot say which market the price belongs to

# What asks eBay Browse for a condition (`conditionIds:{…}`); SEALED's listings are told by their titles.
_BROWSE_IDS: dict[Condition, tuple[str, ...]] = {
    "SEALED": ("1000",),
    "NEW": ("1000", "1500"),
    "USED": ("3000", "4000", "5000", "6000"),
}

# Spellings of "not opened" rewritten to one word first, so that UNSEALED_SIGNS'
# "opened" and "built" do not fire on "never opened" or "not built".
_UNOPENED_SPELLINGS = compile_all(r"\b(?:un[\s-]|never\s+|not\s+(?:been\s+)?)(?:opened|built|assembled)\b")
SEALED_SIGNS = compile_all(
    r"\bsealed\b",  # "sealed", "factory sealed", "new sealed"; not "unsealed" nor "resealed"
    r"\bpoly\s?bag(?:ged)?\b",
    r"\bunopened\b",
    r"\b(?:misb|nisb|misp|nisp|mosc)\b",  # mint/new in sealed box/package, mint on sealed card
)  # not "new in bag": sellers say it of opened figures kept in a bag
UNSEALED_SIGNS = compile_all(
    r"\b(?:un|re)[\s-]sealed\b",  # "un-sealed", "re-sealed"
    r"\b(?:not|no\s+longer)\s+(?:factory\s+)?sealed\b",
    r"\bopened\b",
    r"\bopen\s+(?:bag|box|polybag|package|packet|pack)\b",
    r"\b(?:no|without|w/o)\s+(?:the\s+)?(?:original\s+)?(?:poly\s?)?(?:bag|box|package|packaging)\b",
    # "from polybag 30611": a loose figure that once came in a polybag
    r"\b(?:out\s+of|removed\s+from|from)\s+(?:the\s+|a\s+|its\s+)?(?:original\s+)?(?:blind\s+|poly\s?)?"
    r"(?:bag|polybag|package|packaging)\b",
    r"\b(?:loose|built|assembled)\b",
)


def parse_condition(value: str) -> Condition:
    """A seed condition in any case; ValueError names the allowed ones."""
    for condition in CONDITIONS:
        if value.strip().upper() == condition:
            return condition
    raise ValueError(f"unknown condition {value!r}; expected one of {', '.join(CONDITIONS)}")


def browse_condition_ids(condition: Condition) -> tuple[str, ...]:
    """The `conditionIds:{…}` values that ask eBay Browse for `condition`."""
    return _BROWSE_IDS[condition]


def bricklink_new_or_used(condition: Condition) -> Literal["N", "U"]:
    """BrickLink's price guide cannot tell sealed from new: SEALED and NEW are N."""
    return "U" if condition == "USED" else "N"


def looks_sealed(title: str) -> bool:
    """The title claims an unopened bag or box, and nothing in it says otherwise."""
    text = normalize_title(title)
    for spelling in _UNOPENED_SPELLINGS:
        text = spelling.sub("unopened", text)
    return matches_any(SEALED_SIGNS, text) and not matches_any(UNSEALED_SIGNS, text)


def condition_of_listing(condition_id: str | None) -> Literal["NEW", "USED"] | None:
    """NEW or USED from an eBay `conditionId` alone; None for excluded or unknown ids."""
    return _BY_CONDITION_ID.get((condition_id or "").strip())


def condition_from_ebay(condition_id: str | None, title: str) -> Condition | None:
    """NEW, USED or SEALED from an eBay `conditionId`; None when the condition is excluded."""
    key = (condition_id or "").strip()
    if key == "1000" and looks_sealed(title):
        return "SEALED"
    return condition_of_listing(key)


def listing_matches(condition: Condition, condition_id: str | None, title: str) -> bool:
    """Whether an eBay listing counts as `condition` (SEALED: id 1000 and a sealed-looking title).

    A sealed listing is also a NEW one: this answers "may it stand for `condition`?".
    """
    if condition == "SEALED":
        return condition_from_ebay(condition_id, title) == "SEALED"
    return condition_of_listing(condition_id) == condition
