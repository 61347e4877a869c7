"""What eBay titles say: normalisation and the regex tables the classifier reads.

Every pattern runs on `normalize_title(...)` output (NFKC, casefolded, single
spaces), so patterns are lower case and lean on `\\b` word boundaries: "lot" must
not fire inside "Lothal", "Lotso" or "LOTR", nor "x2" inside "sw0x2".
A pattern is listed here only with the reason it is worth its false positives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_PUNCTUATION = str.maketrans({"×": "x", "–": "-", "—": "-", "‐": "-", "’": "'", "‘": "'"})


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).translate(_PUNCTUATION).casefold()
    return " ".join(text.split())


# What most patterns start with. The union takes each one out of its patterns once:
# `\b(?:a|b)` tries the alternatives only where a word starts, where `(?:\ba)|(?:\bb)`
# tries every alternative at every character. (re shares a prefix common to all the
# alternatives itself, but the lot signs start in three different ways.)
_LEADS = (r"\b", r"(?=\d)")


class Signs(tuple[re.Pattern[str], ...]):
    """Compiled patterns, and their union: one scan answers whether any of them matches."""

    union: re.Pattern[str]

    def __new__(cls, patterns: Iterable[str]) -> Signs:
        patterns = tuple(patterns)
        signs = super().__new__(cls, (re.compile(pattern) for pattern in patterns))
        by_lead: dict[str, list[str]] = {}  # "" for the patterns that start otherwise
        for pattern in patterns:
            lead = next((lead for lead in _LEADS if pattern.startswith(lead)), "")
            by_lead.setdefault(lead, []).append(pattern[len(lead):])
        signs.union = re.compile("|".join(lead + "(?:" + "|".join(f"(?:{rest})" for rest in rests) + ")"
                                          for lead, rests in by_lead.items()))
        return signs


def compile_all(*patterns: str) -> Signs:
    return Signs(patterns)


def matches_any(signs: Signs, text: str) -> bool:
    return signs.union.search(text) is not None


# A count of 2..99 standing alone ("75218 x-wing" is a set number, "4.5 cm" a size),
# not after a label ("series 5", "phase 2", "year 2") nor after "with" ("with 2
# heads" counts one figure's spare parts). The look-ahead for a digit comes first: it
# fails at once where no number starts, before the look-behinds are tried.
_COUNT = (
    r"(?=\d)(?<!series )(?<!wave )(?<!season )(?<!episode )(?<!phase )(?<!part )(?<!mark )(?<!mk )(?<!year )"
    r"(?<!with )(?<!w/ )(?<!w/)(?<!#)(?<![\d.,])\b(?:[2-9]|[1-9]\d)(?!\d)"
)
# "2 battle droids", "3 clone troopers": a count, two words at most, a plural noun.
# Not "41st elite corps" (\b after the count), "business" (ends in ss), nor the
# plurals that describe one figure: its time, its body, its accessories.
_ONE_FIGURES_PLURALS = (
    r"(?:days|weeks|months|years|hours|inches|arms|legs|hands|heads|faces|sides|eyes|"
    r"weapons|blasters|swords|lightsabers|sabers|guns|pistols|accessories|axes|spears|wands|tools)"
)
_PLURAL_THINGS = r"\b\s?(?:[a-z'-]+\s+){0,2}?(?!" + _ONE_FIGURES_PLURALS + r"\b)[a-z-]*[a-rt-z]s\b"
_FIGURE = r"(?:mini[\s-]?)?fig(?:ure|urine)?"
_FIGURES = _FIGURE + r"s\b"
_NUMBER_WORDS = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen)"

LOT_SIGNS = compile_all(
    r"\blots?\b",  # "lot", "job lot", "minifigure lot"; \b spares Lothal, Lotso, LOTR
    r"\bjob\s?lots?\b",  # "joblot" written as one word
    r"\bbundles?\b",
    r"\b(?:bulk|wholesale|assorted|random|mixed|various)\b",
    r"\bmultiple\b(?!\s+(?:available|in\s+stock|quantit))",  # "multiple available": stock, not a lot
    r"\b(?:set|pack|bundle)\s+of\b",  # "set of 4", "pack of 3"
    r"\b(?:complete|full|whole|entire)\s+(?:series|set|collection)\b",  # a whole CMF series
    r"\b(?:huge|large|big|massive|giant)\s+(?:\w+\s+){0,2}?collection\b",  # not "from my collection"
    r"\bcollection\s+of\b",  # bare "collection" also names products ("Disney 100 Collection")
    r"\ball\s+(?:[2-9]|[1-9]\d)\b",  # "all 16 figures"
    r"(?<![a-z0-9])x\s?(?:[2-9]|[1-9]\d)\b",  # "x3", "x 3"; the look-behind spares "sw0x2"
    _COUNT + r"\s?x\b(?!-)",  # "3x", "3 x"; not "2x4" nor "9 x-wing"
    _COUNT + r"\s?-?(?:pack|pk)\b",  # "3 pack", "5-pack"
    _COUNT + _PLURAL_THINGS,  # also "5 minifigures", "10 pcs"
    r"\b" + _NUMBER_WORDS + r"\s+(?:[\w'-]+\s+){0,3}?" + _FIGURES,  # "three battle droid figures"
    r"\b(?:qty|quantity)\s*:?\s*(?:[2-9]|[1-9]\d)\b",
    r"\bbattle\s?packs?\b",  # a LEGO product of four or five figures
    r"(?:\band|&|\+|\bplus)\s+more\b",
    # Multi-variation listings: one price per listing, many figures to pick from.
    r"\b(?:choose|pick|select)\s+(?:your|a|any|from|one|the)\b",
    r"\b(?:you|u)\s+(?:choose|pick|select)\b",
)

# Negated custom words are reassurances, removed before CUSTOM_SIGNS run:
# "genuine lego not custom" is a genuine figure.
CUSTOM_NEGATIONS = compile_all(
    r"\b(?:not|no|never)\s+(?:a\s+)?"
    r"(?:custom|fake|replica|cop(?:y|ies)|knock[\s-]?off|bootleg|clone|moc)s?\b",
    r"\bnon[\s-]?custom\b",
)
CUSTOM_SIGNS = compile_all(
    r"\bcustom(?:s|i[sz]ed)?\b",  # eBay requires customs to say so; "customer" is spared
    r"\bmocs?\b",  # "my own creation"
    r"\b(?:replica|reproduction|repro)s?\b",
    r"\bcompatible\b",  # "lego compatible" is how third-party figures are sold
    r"\bfits?\s+(?:with\s+)?(?:all\s+|major\s+)?(?:lego|brands?)\b",
    r"\bnon[\s-]?lego\b",
    r"\bnot\s+(?:genuine\s+|real\s+|original\s+)?lego\b",
    r"\b(?:bootleg|knock[\s-]?off|fakes?|counterfeit|unbranded|off[\s-]?brand)s?\b",
    r"\b(?:3rd|third)[\s-]?party\b",
    r"\bblock\s+figures?\b",  # the usual phrase of clone-brand sellers
    r"\bbuilding\s+blocks?\b",
    r"\b(?:uv|3d)[\s-]?print(?:ed|s)?\b",  # LEGO pad-prints; UV and 3D printing are custom work
    r"\blego[\s-]?style\b",
    r"\b(?:lepin|xinh|decool|koruit|kopf|pogo)\b",  # clone brands
    r"\b(?:brickarms|brickforge|brickwarriors|citizen\s+brick)\b",  # custom accessory makers
)

# Parts and accessories: never a whole figure.
_PART_NOUNS = (
    r"(?:torso|legs?|heads?|helmets?|hair(?:\s?piece)?|hats?|capes?|weapons?|accessor(?:y|ies)|body|"
    r"shields?|swords?|arms?|hands?|hips|jet\s?packs?|backpacks?|visors?|masks?|lightsabers?|blasters?|guns?|"
    r"stands?|box|instructions?|manual|stickers?|parts?|neck\s?bracket)"
)
PART_SIGNS = compile_all(
    r"\b" + _PART_NOUNS + r"\s+only\b",  # "torso only", "legs only", "helmet only"
    r"\bonly\s+(?:the\s+)?" + _PART_NOUNS + r"\b",
    r"\b(?:hair|helmet|head|torso|leg|cape|body)\s?(?:piece|part)s?\b",  # "hair piece", "hairpiece"
    r"\bno\s+(?:lego\s+)?" + _FIGURE + r"s?\b",  # "no minifigure": accessories
    r"\b" + _FIGURE + r"s?\s+not\s+included\b",
    r"\b(?:spare|replacement|loose)\s+parts?\b",
    r"\bfor\s+parts\b",
    r"\bheadgear\b",  # BrickLink's name for the hats-and-helmets part category
    r"\b(?:accessor(?:y|ies)|weapons?|guns?)\s+(?:packs?|sets?|kits?)\b",
    # "minifigure torso", "minifig stand": the figure word qualifies the part.
    r"\bmini[\s-]?fig(?:ure)?s?\s+(?:" + _PART_NOUNS + r"|utensils?)\b",
    r"\bdisplay\s+(?:stand|case|frame|box)s?\b",
    r"\bfor\s+(?:lego\s+)?" + _FIGURE + r"s?\b(?!\s+(?:collectors?|fans?|lovers?))",  # "cape for minifigures"
    # Less than a whole figure: an incomplete one is not priced like a complete one.
    r"\bincomplete\b",
    r"\bmissing\b",  # "missing legs", "missing cape", "arm missing"
    r"\b(?:no|without|w/o|w/out)\s+(?:a\s+|the\s+|lego\s+)?(?:heads?|torso|legs?|arms?|hands?|hips|body|face)\b",
    r"\bspares?\s+(?:or|and|&)\s+repairs?\b",
)

# Reassurances, removed before PART_SIGNS run: "complete, nothing missing" is a whole figure.
PART_NEGATIONS = compile_all(
    r"\b(?:nothing|none|not|never|zero)(?:'s)?\s+(?:is\s+|are\s+)?missing\b",
    r"\b(?:no|zero)\s+(?:missing\s+)?(?:parts?|pieces?|bits?)\s+(?:are\s+|is\s+)?missing\b",
    r"\b(?:no|zero)\s+missing\b",
    r"\bmissing\s*:?\s*(?:nothing|none|no|0)\b",
    r"\bnot\s+incomplete\b",
    r"\bhead\s+to\s+(?:toe|foot)\b",
)

# A body part named in the head of a title is what is sold, even beside the figure's number
# ("Zombie Legs col012"): unless a word describes it, before ("short legs", "dual-sided head",
# "black head", "dark bluish gray hips": how sellers and BrickLink name variants) or after ("legs
# short", "head variant"), or the figure's own name holds it ("Skeleton - Pirate Legs").
_COLOURS = (
    "black|white|tan|red|blue|yellow|green|gray|grey|brown|orange|pink|purple|lime|azure|magenta|flesh|"
    "nougat|silver|gold|pearl|trans|metallic|chrome|bluish|reddish|dark|light|medium|bright|sand|olive|"
    "maroon|teal|two-tone|dual-colou?red|multicolou?red|colou?red|glow"
)
_DESCRIPTORS = (
    "short|long|printed|print|plain|molded|moulded|sided|faced|alternate|alternative|spare|extra|second|2nd|"
    "reversible|double|dual|hinged|posable|articulated|standard|" + _COLOURS
)
BODY_PART_NOUN = re.compile(
    r"\b(?:(?P<before>[a-z0-9'-]+)\s+)?(?P<part>torso|legs|heads?|hips)\b"
    r"(?!\s+(?:" + _DESCRIPTORS + r"|variant|version)\b)"
)
DESCRIPTOR = re.compile(_DESCRIPTORS)

# Weaker: an accessory noun in a title that names no figure, neither by a word nor
# by its number ("LEGO Stormtrooper Helmet"). It counts only in the head of the
# title ("Batman with cape" is a figure) and when the figure's own name does not
# contain it ("Batman - Black Cape").
# Descriptors such as "short legs", "dual-sided head", "brown hair" are left out.
WEAK_PART_NOUN = re.compile(
    r"\b(?:helmets?|capes?|weapons?|accessor(?:y|ies)|lightsabers?|blasters?|swords?|jet\s?packs?|guns?|"
    r"instructions?|stickers?)\b"
)
# Merchandise built around a figure, when the head of the title names it:
# "Battle Droid Key Chain" is not priced like a figure; "Revan from Character
# Encyclopedia" is the figure alone.
MERCHANDISE_NOUN = re.compile(
    r"\b(?:key\s?chains?|key\s?rings?|magnets?|(?:alarm\s+)?clocks?|pens?|books?|encyclopedia)\b"
)
# Where the head of a title ends: what follows is what comes with the figure, what it
# lacks ("no blaster") or where it is from ("from 7101 Lightsaber Duel").
WITH_CLAUSE = re.compile(r"\b(?:with|incl(?:\.|uding|udes)?|plus|and|no|without|missing|from)\b|\bw/|[+&]")
FIGURE_WORD = re.compile(r"\b" + _FIGURE + r"s?\b")
