"""eBay condition ids to the seed's NEW / USED / SEALED (API_REFERENCE §5).

eBay has no "sealed" condition for loose figures: id 1000 means new, unused and
unopened in general. SEALED is therefore 1000 *and* a title that says so.
The raw `condition` text is the caller's to store; only the id decides here.
"""

from __future__ import annotations

from typing import Literal

from pipeline.quality.titles import compile_all, matches_any, normalize_title

Condition = Literal["NEW", "USED", "SEALED"]
CONDITIONS: tuple[Condition, ...] = ("NEW", "USED", "SEALED")

_BY_CONDITION_ID: dict[str, Condition] = {
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


def looks_sealed(title: str) -> bool:
    """The title claims an unopened bag or box, and nothing in it says otherwise."""
    text = normalize_title(title)
    for spelling in _UNOPENED_SPELLINGS:
        text = spelling.sub("unopened", text)
    return matches_any(SEALED_SIGNS, text) and not matches_any(UNSEALED_SIGNS, text)


def condition_from_ebay(condition_id: str | None, title: str) -> Condition | None:
    """NEW, USED or SEALED from an eBay `conditionId`; None when the condition is excluded."""
    key = (condition_id or "").strip()
    condition = _BY_CONDITION_ID.get(key)
    if key == "1000" and looks_sealed(title):
        return "SEALED"
    return condition
