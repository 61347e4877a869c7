"""Listing classification, condition mapping and robust statistics (pipeline.quality)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.quality import (
    ABSURD_PRICE,
    EXCLUSION_REASONS,
    FENCED_FROM_N,
    OUTLIER_FENCE,
    THIN_DATA_N,
    FigureFacts,
    ListingFacts,
    classify_listing,
    condition_from_ebay,
    exclusion_reasons,
    fence,
    is_thin,
    parse_figure_number,
    percentile_cont,
    summarize,
)
from pipeline.quality.titles import Signs, normalize_title

# The figures searched for. Numbers are fixtures in BrickLink's shape, not catalogue claims.
BATTLE_DROID = FigureFacts("sw0001a", "fig-000123", "Battle Droid", "Star Wars")
CAPTAIN_REX = FigureFacts("sw0194", None, "Captain Rex", "Star Wars")
EZRA = FigureFacts("sw0574", None, "Ezra Bridger", "Star Wars")
XWING_PILOT = FigureFacts("sw0090", None, "Luke Skywalker - X-Wing Pilot", "Star Wars")
KAI = FigureFacts("njo001", None, "Kai", "Ninjago")
HARRY = FigureFacts("hp001", None, "Harry Potter", "Harry Potter")
ZOMBIE = FigureFacts("col012", None, "Zombie", "Collectible Minifigures")
SPIDER_MAN = FigureFacts("sh0092", None, "Spider-Man", "Super Heroes")  # once sh092 on BrickLink
BATMAN = FigureFacts("sh016a", None, "Batman - Black Cape", "Super Heroes")
TWO_FACE = FigureFacts("sh0127", None, "Two-Face", "Super Heroes")
POLICE = FigureFacts("cty0001", None, "Police Officer", "City")
SCUBA = FigureFacts(None, "fig-000456", "Scuba Diver", "City")  # no BrickLink number known
KNIGHT = FigureFacts("cas001", None, "Black Falcon Knight", "Castle")
GANDALF = FigureFacts("lor013", None, "Gandalf the Grey", "The Lord of the Rings")
LOTSO = FigureFacts("toy010", None, "Lotso", "Toy Story")
PIRATE_SKELETON = FigureFacts("col0123", None, "Skeleton - Pirate Legs", "Collectible Minifigures")


def listing(
    title: str,
    condition_id: str | None = "3000",
    options: tuple[str, ...] = ("FIXED_PRICE",),
    price: str = "9.99",
    currency: str = "USD",
    bids: int = 0,
    categories: tuple[str, ...] = ("19001",),
) -> ListingFacts:
    return ListingFacts(
        title=title,
        condition_id=condition_id,
        buying_options=options,
        price=Decimal(price),
        currency=currency,
        has_current_bid=bids > 0,
        bid_count=bids,
        category_ids=categories,
    )


TITLES = [
    # Star Wars
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a Minifigure 7101 Episode 1 1999", None),
    (BATTLE_DROID, "Lego Battle Droid Tan Minifig sw0001a Star Wars NEW", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001 Minifig", None),  # no variant letter
    (BATTLE_DROID, "LEGO STAR WARS BATTLE DROID SW0001A MINIFIGURE", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid (sw0001a) - Genuine, Not Custom", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Minifigure with Blaster 1999", None),
    (BATTLE_DROID, "LEGO Battle Droid sw0x2 Star Wars minifig", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a from my collection", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a - happy customers guaranteed", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid fig-000123 Minifigure", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a - Multiple Available", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid - No Blaster", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid from 7101 Lightsaber Duel", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid 2 Arms Bent 1999", None),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Helmet sw0001a", None),  # its number says "figure"
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001b Minifigure Red Markings", "wrong_figure"),
    (BATTLE_DROID, "LEGO Star Wars Security Battle Droid sw0002 Minifigure", "wrong_figure"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid fig-000124", "wrong_figure"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid x3 sw0001a", "lot"),
    (BATTLE_DROID, "LEGO Star Wars 3x Battle Droid Minifigures Trade Federation", "lot"),
    (BATTLE_DROID, "Job Lot LEGO Star Wars Minifigures Battle Droids Clones Jedi", "lot"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a sw0001b sw0001c", "lot"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droids Set of 4 sw0001a", "lot"),
    (BATTLE_DROID, "LEGO Star Wars 2 Battle Droids Tan 7101", "lot"),
    (BATTLE_DROID, "LEGO 75000 Star Wars Clone Troopers vs Droidekas Battle Pack", "lot"),
    (BATTLE_DROID, "LEGO Star Wars Minifigures - Choose Your Figure - Battle Droid Clone Jedi", "lot"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Custom Printed Minifigure", "custom"),
    (BATTLE_DROID, "Battle Droid Mini Figure Fits Lego Star Wars Building Blocks Toy", "custom"),
    (BATTLE_DROID, "Star Wars Battle Droid Block Figure Non Lego Brand New", "custom"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Torso Only sw0001a", "part"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Blaster Weapon Genuine", "part"),
    (BATTLE_DROID, "LEGO Star Wars Minifigure Weapon Pack Blasters Lightsabers", "part"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Key Chain Minifigure", "part"),
    (BATTLE_DROID, "LEGO Star Wars Character Encyclopedia with Exclusive Battle Droid Minifigure", "part"),
    (BATTLE_DROID, "LEGO Minifig Headgear Helmet Battle Droid Tan", "part"),
    (CAPTAIN_REX, "LEGO Star Wars Captain Rex CT-7567 sw0194 Minifigure Clone Wars", None),
    (CAPTAIN_REX, "LEGO Star Wars Clone Captain Rex CT7567 Phase 2 minifigure", None),
    (CAPTAIN_REX, "LEGO Star Wars Captain Rex sw0194 501st Legion with 2 Blasters", None),
    (CAPTAIN_REX, "LEGO Star Wars Captain Rex sw0194 + 2 x Clone Troopers", "lot"),
    (EZRA, "LEGO Star Wars Rebels Ezra Bridger sw0574 Lothal Minifigure", None),
    (XWING_PILOT, "LEGO Star Wars Luke Skywalker X-Wing Pilot sw0090 Minifigure 75218", None),
    # Ninjago
    (KAI, "LEGO Ninjago Kai Minifigure njo001 Masters of Spinjitzu 2011", None),
    (KAI, "LEGO Ninjago Kai njo0001 Red Ninja", None),  # zero padding differs
    (KAI, "LEGO NINJAGO Kai Fire Ninja Minifig from 2507 Fire Temple", None),
    (KAI, "LEGO Ninjago Minifigure Lot Kai Jay Cole Zane Lloyd", "lot"),
    (KAI, "LEGO Ninjago Kai Jay Cole Zane 4 Minifigures Ninjas", "lot"),
    (KAI, "LEGO Ninjago Kai Minifigure 10 pcs Bundle", "lot"),
    (KAI, "LEGO Ninjago Kai Golden Sword Weapon", "part"),
    (KAI, "LEGO Ninjago Kai Hair Piece Red Spiky", "part"),
    (KAI, "Ninjago Kai Minifigure Compatible Building Toy Gift", "custom"),
    (KAI, "LEGO Ninjago Jay njo002 Minifigure Blue Ninja", "wrong_figure"),
    # Harry Potter
    (HARRY, "LEGO Harry Potter hp001 Minifigure Gryffindor Chamber of Secrets", None),
    (HARRY, "LEGO Harry Potter Minifigure with Wand and Hedwig hp001", None),
    (HARRY, "LEGO Harry Potter 20 Years Anniversary Harry Potter hp001", None),
    (HARRY, "LEGO Harry Potter Minifigure Head Only Glasses Scar", "part"),
    (HARRY, "LEGO Harry Potter Black Cape Hogwarts Robe", "part"),
    (HARRY, "LEGO Harry Potter Minifigure Display Case Wall Mount", "part"),
    (HARRY, "LEGO Harry Potter and Hermione Granger Minifigures Bundle", "lot"),
    (HARRY, "LEGO Harry Potter Minifigures Set of 6 Hogwarts Students", "lot"),
    (HARRY, "LEGO Harry Potter hp001 hp002 hp003 Minifigures", "lot"),
    (HARRY, "Harry Potter Minifigure Custom UV Printed Lego Compatible", "custom"),
    (HARRY, "LEGO Harry Potter hp002 Minifigure Quidditch", "wrong_figure"),
    # Collectible Minifigures
    (ZOMBIE, "LEGO Minifigures Series 1 Zombie col012 8683 Complete", None),
    (ZOMBIE, "LEGO Collectible Minifigures Series 1 Zombie with Drumstick", None),
    (ZOMBIE, "LEGO Minifigures Series 10 Zombie 8683", None),  # "series 10 minifigures" is no count
    (ZOMBIE, "LEGO Minifigures Series 1 Complete Set of 16 8683", "lot"),
    (ZOMBIE, "LEGO Minifigures Series 1 Full Series 16 Figures 8683", "lot"),
    (ZOMBIE, "LEGO CMF Series 1 Zombie Skeleton Spaceman Random Mixed", "lot"),
    (ZOMBIE, "LEGO Minifigures Series 1 Zombie Legs Only", "part"),
    (ZOMBIE, "LEGO Minifigures Series 1 Zombie Minifigure Stand", "part"),
    (ZOMBIE, "LEGO Collectible Minifigures Series 1 Zombie col013", "wrong_figure"),
    # Super Heroes
    (SPIDER_MAN, "LEGO Marvel Super Heroes Spider-Man sh092 Minifigure", None),  # BrickLink rename
    (SPIDER_MAN, "LEGO Marvel Spider-Man Minifigure Short Legs Dual Sided Head", None),
    (SPIDER_MAN, "LEGO Marvel Spider-Man sh0093 Minifigure", "wrong_figure"),
    (SPIDER_MAN, "LEGO Marvel Avengers Minifigures Lot x5 Spider-Man Iron Man Hulk", "lot"),
    (SPIDER_MAN, "LEGO Spider-Man sh092 Torso and Legs Only", "part"),
    (SPIDER_MAN, "Spider-Man Minifigure Replica Marvel Figure", "custom"),
    (BATMAN, "LEGO DC Batman Minifigure with Cape and Batarang sh016a", None),
    (BATMAN, "LEGO DC Super Heroes Batman Black Cape sh016", None),  # "cape" is in the figure's name
    (BATMAN, "LEGO DC Batman Batarang Weapon", "part"),
    (TWO_FACE, "LEGO DC Two-Face sh0127 Minifigure Batman Villain", None),
    (TWO_FACE, "LEGO Two-Face and Joker 2 Minifigures Batman", "lot"),
    # City
    (POLICE, "LEGO City Police Officer Minifigure cty0001 Sunglasses", None),
    (POLICE, "LEGO Town City Policeman Minifig cty001 Used", None),
    (POLICE, "LEGO City Minifigures Bulk Lot 20 Figures Police Fire Construction", "lot"),
    (POLICE, "LEGO City Police Officers 2x Minifigures Handcuffs", "lot"),
    (POLICE, "LEGO City Police Officer Hat Only Black", "part"),
    (POLICE, "LEGO City Police Officer Minifigure cty1001", "wrong_figure"),
    (SCUBA, "LEGO City Scuba Diver Minifigure Flippers Air Tanks", None),
    (SCUBA, "LEGO City Scuba Diver fig-000456", None),
    (SCUBA, "LEGO City Scuba Diver fig-000457", "wrong_figure"),
    # Castle
    (KNIGHT, "LEGO Castle Black Falcon Knight cas001 Minifigure 1980s Vintage", None),
    (KNIGHT, "LEGO Castle Black Falcon Knight Minifigure with Sword and Shield cas001", None),
    (KNIGHT, "LEGO Castle Minifigure Lot of 8 Knights Forestmen Black Falcons", "lot"),
    (KNIGHT, "LEGO Castle Knights Army Builder MOC Minifigures", "custom"),
    (KNIGHT, "LEGO Castle Lion Knight Shield Only", "part"),
    (KNIGHT, "LEGO Castle Black Falcon Knight Helmet Visor Trans Black", "part"),
    (KNIGHT, "LEGO Castle Black Falcon Knight cas002 minifigure", "wrong_figure"),
    # Parts and incomplete figures, even beside the figure's own number
    (ZOMBIE, "LEGO Minifigures Series 1 Zombie Legs col012", "part"),
    (SPIDER_MAN, "LEGO Marvel Spider-Man Torso sh0092 Genuine", "part"),
    (BATTLE_DROID, "LEGO Star Wars Battle Droid Head sw0001a", "part"),
    (HARRY, "LEGO Harry Potter hp001 Minifigure Incomplete", "part"),
    (HARRY, "LEGO Harry Potter Minifigure hp001 - missing legs", "part"),
    (KNIGHT, "LEGO Castle Black Falcon Knight cas001 Minifigure, helmet missing", "part"),
    (KAI, "LEGO Ninjago Kai njo001 minifigure no head", "part"),
    (POLICE, "LEGO City Police Officer cty0001 without legs", "part"),
    (POLICE, "LEGO City Police Officer cty0001 Minifig w/o torso", "part"),
    (PIRATE_SKELETON, "LEGO Minifigures Skeleton Pirate Legs col0123", None),  # its own name holds the legs
    (ZOMBIE, "LEGO Minifigures Zombie Pirate Legs col012", "part"),  # another figure's name would not
    (BATTLE_DROID, "LEGO Star Wars Battle Droid sw0001a Black Head", None),  # colours describe a variant
    (SPIDER_MAN, "LEGO Spider-Man sh0092 Dark Bluish Gray Hips", None),
    (ZOMBIE, "LEGO Zombie col012 Legs Short", None),  # BrickLink's word order
    (KAI, "LEGO Ninjago Kai njo001 complete head to toe", None),
    (KAI, "LEGO Ninjago Kai njo001 - no parts are missing", None),
    (KAI, "LEGO Ninjago Kai njo001, Missing: None", None),
    (HARRY, "LEGO Harry Potter hp001 w/out legs", "part"),
    (HARRY, "LEGO Harry Potter hp001 spares or repair", "part"),
    (HARRY, "LEGO Harry Potter hp001 Minifigure Dual Sided Head", None),  # a descriptor
    (ZOMBIE, "LEGO Zombie col012 Minifigure with Short Legs", None),
    (POLICE, "LEGO City Police Officer cty0001 Complete - Nothing Missing", None),
    (KAI, "LEGO Ninjago Kai njo001 minifigure, no missing parts", None),
    (KAI, "LEGO Ninjago Kai njo001 minifigure - no parts missing", None),
    # Word boundaries
    (GANDALF, "LEGO Lord of the Rings LOTR Gandalf the Grey lor013 Minifigure", None),
    (LOTSO, "LEGO Toy Story Lotso Minifigure toy010 Strawberry Bear", None),
]


@pytest.mark.parametrize(("figure", "title", "reason"), TITLES, ids=[row[1] for row in TITLES])
def test_title_classification(figure: FigureFacts, title: str, reason: str | None) -> None:
    result = classify_listing(listing(title), figure)
    assert (result.included, result.reason) == (reason is None, reason)


def test_title_table_covers_every_title_reason() -> None:
    assert {reason for _, _, reason in TITLES} == {None, "lot", "custom", "part", "wrong_figure"}
    assert len(TITLES) >= 60


def _sign_tables() -> list[Signs]:
    from pipeline.quality import condition, titles

    tables = [v for module in (titles, condition) for v in vars(module).values() if isinstance(v, Signs)]
    assert len(tables) >= 6
    return tables


_WORDS = ["lot", "of", "3", "x2", "2x", "series", "5", "custom", "not", "lego", "torso", "only", "and", "more",
          "minifigure", "figures", "sealed", "opened", "qty", "pick", "your", "sw0001a", "battle", "packs", "w/", "#"]


def _union_agrees(text: str) -> None:
    for signs in _sign_tables():
        assert (signs.union.search(text) is not None) == any(p.search(text) for p in signs), (text, signs.union)


def test_each_sign_table_union_answers_as_its_patterns_do_on_the_table() -> None:
    """The union takes a common lead out of its patterns; whether any matches must not change."""
    for _, title, _ in TITLES:
        _union_agrees(normalize_title(title))


@given(st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join) | st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_each_sign_table_union_answers_as_its_patterns_do(text: str) -> None:
    _union_agrees(text)


SINGLE = "LEGO Star Wars Battle Droid sw0001a Minifigure 7101"


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (listing(SINGLE, options=("FIXED_PRICE", "BEST_OFFER")), None),
        (listing(SINGLE, options=("AUCTION",)), "auction"),
        (listing(SINGLE, options=("AUCTION",), bids=3), "auction"),
        (listing(SINGLE, options=("AUCTION", "FIXED_PRICE")), None),  # Buy It Now is an ask
        (listing(SINGLE, options=("AUCTION", "FIXED_PRICE"), bids=1), "auction"),
        (listing(SINGLE, price="0.01"), None),
        (listing(SINGLE, price="0"), "price"),
        (listing(SINGLE, price="-2.50"), "price"),
        (listing(SINGLE, price="NaN"), "price"),
        (listing(SINGLE, price=str(ABSURD_PRICE - Decimal("0.01"))), None),
        (listing(SINGLE, price="99999.00"), "price"),
        (listing(SINGLE, currency=""), "price"),
        (listing(SINGLE, condition_id="7000"), "condition"),
        (listing(SINGLE, condition_id="2500"), "condition"),
        (listing(SINGLE, condition_id=None), "condition"),
        (listing(SINGLE, categories=("19006",)), "lot"),  # Complete Sets & Packs
        (listing(SINGLE, categories=()), None),
    ],
)
def test_listing_field_classification(facts: ListingFacts, reason: str | None) -> None:
    result = classify_listing(facts, BATTLE_DROID)
    assert (result.included, result.reason) == (reason is None, reason)


@pytest.mark.parametrize(
    ("facts", "reason", "kind"),
    [
        (listing("LEGO Battle Droid sw0001a", price="0", options=("AUCTION",)), "price", "single"),
        (listing("Custom Battle Droid Minifigure", options=("AUCTION",)), "auction", "custom"),
        (listing("LEGO Star Wars Minifigure Lot", condition_id="7000"), "condition", "lot"),
        (listing("Custom Star Wars Minifigures Lot of 10"), "custom", "custom"),
        (listing("Lot of 10 LEGO Minifigure Heads Only"), "lot", "lot"),
        (listing("LEGO sw0002 Battle Droid Torso Only"), "part", "part"),
        (listing("LEGO Battle Droid sw0002 x3"), "lot", "lot"),
    ],
)
def test_first_reason_in_precedence_wins(facts: ListingFacts, reason: str, kind: str) -> None:
    result = classify_listing(facts, BATTLE_DROID)
    assert (result.included, result.reason, result.kind) == (False, reason, kind)


def test_exclusion_reasons_lists_all_in_precedence_order() -> None:
    facts = listing("Custom lot sw0002 torso only", condition_id="7000", options=("AUCTION",), price="0")
    assert exclusion_reasons(facts, BATTLE_DROID) == EXCLUSION_REASONS


def test_included_listing_carries_its_condition_and_kind() -> None:
    result = classify_listing(listing(SINGLE + " New Factory Sealed", condition_id="1000"), BATTLE_DROID)
    assert result == type(result)(included=True, reason=None, condition="SEALED", kind="single")
    excluded = classify_listing(listing("LEGO Battle Droid x3", condition_id="1500"), BATTLE_DROID)
    assert (excluded.condition, excluded.kind) == ("NEW", "lot")


@pytest.mark.parametrize(
    ("condition_id", "expected"),
    [
        ("1000", "NEW"),
        ("1500", "NEW"),
        ("1750", "NEW"),
        ("2750", "USED"),
        ("3000", "USED"),
        ("4000", "USED"),
        ("5000", "USED"),
        ("6000", "USED"),
        (" 3000 ", "USED"),
        ("2000", None),
        ("2010", None),
        ("2020", None),
        ("2030", None),
        ("2500", None),
        ("7000", None),
        ("9999", None),
        ("", None),
        (None, None),
    ],
)
def test_condition_from_ebay_id(condition_id: str | None, expected: str | None) -> None:
    assert condition_from_ebay(condition_id, "LEGO Star Wars Battle Droid sw0001a Minifigure") == expected


@pytest.mark.parametrize(
    ("condition_id", "title", "expected"),
    [
        ("1000", "LEGO Star Wars Battle Droid sw0001a New Factory Sealed", "SEALED"),
        ("1000", "LEGO Star Wars R2-D2 Polybag 30611 New", "SEALED"),
        ("1000", "LEGO Minifigures Series 1 Zombie Unopened Blind Bag", "SEALED"),
        ("1000", "LEGO Minifigures Series 1 Zombie MISB", "SEALED"),
        ("1000", "LEGO CMF Zombie never opened", "SEALED"),
        ("1000", "LEGO CMF Zombie New in Sealed Bag", "SEALED"),
        ("1000", "LEGO Batman Minifigure from polybag 30160 new", "NEW"),
        ("1000", "LEGO Zombie opened bag to check, new", "NEW"),
        ("1000", "LEGO Zombie unsealed", "NEW"),
        ("1000", "LEGO Zombie un-sealed, checked figure", "NEW"),
        ("1000", "LEGO Zombie new, no bag", "NEW"),
        ("1000", "LEGO Ninjago Kai new loose", "NEW"),
        ("1000", "LEGO Ninjago Kai new (not sealed)", "NEW"),
        ("1000", "LEGO Ninjago Kai new in bag with leaflet", "NEW"),  # said of opened figures too
        ("1000", "LEGO Harry Potter Sealed Blind Bag 71022 - opened to check", "NEW"),
        ("1500", "LEGO Zombie sealed", "NEW"),  # SEALED needs id 1000
        ("3000", "LEGO Zombie sealed polybag", "USED"),
        ("7000", "LEGO Zombie sealed", None),
    ],
)
def test_sealed_needs_new_id_and_title(condition_id: str, title: str, expected: str | None) -> None:
    assert condition_from_ebay(condition_id, title) == expected


@pytest.mark.parametrize(
    ("catalog_id", "same_as"),
    [("sw0001a", "sw0001"), ("sh092", "sh0092"), ("SW0001A", "sw0001a"), ("fig-000123", "fig-123")],
)
def test_figure_numbers_compare_by_family_number_and_variant(catalog_id: str, same_as: str) -> None:
    left, right = parse_figure_number(catalog_id), parse_figure_number(same_as)
    assert left is not None and right is not None and left.matches(right)


def test_figure_numbers_that_differ() -> None:
    pairs = [("sw0001a", "sw0001b"), ("sw0001a", "sw0002"), ("sh092", "sw092"), ("fig-000123", "fig-000124")]
    for a, b in pairs:
        left, right = parse_figure_number(a), parse_figure_number(b)
        assert left is not None and right is not None and not left.matches(right), (a, b)
    assert parse_figure_number("75192-1") is None and parse_figure_number(None) is None


# Statistics ---------------------------------------------------------------------------------

PRICES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
PRICE_LISTS = st.lists(PRICES, min_size=1, max_size=60)
FRACTIONS = st.floats(min_value=0.0, max_value=1.0)


def exact_percentile(values: list[Decimal], q: float) -> Fraction:
    """Linear interpolation at rank q*(n-1), in exact rational arithmetic."""
    ordered = [Fraction(v) for v in sorted(values)]
    position = Fraction(q) * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


@given(PRICE_LISTS, FRACTIONS)
def test_percentile_cont_matches_exact_interpolation(values: list[Decimal], q: float) -> None:
    # PostgreSQL computes the rank in float8, so agreement is to float noise, not to the digit.
    ours = Fraction(percentile_cont(sorted(values), q))
    assert abs(ours - exact_percentile(values, q)) <= Fraction(1, 10**8)


@given(st.lists(PRICES, min_size=2, max_size=60))
def test_quartiles_match_statistics_inclusive(values: list[Decimal]) -> None:
    ordered = sorted(values)
    expected = statistics.quantiles(ordered, n=4, method="inclusive")
    assert [percentile_cont(ordered, q) for q in (0.25, 0.5, 0.75)] == expected


@given(PRICE_LISTS)
def test_percentile_cont_ends_and_median(values: list[Decimal]) -> None:
    ordered = sorted(values)
    assert percentile_cont(ordered, 0.0) == ordered[0]
    assert percentile_cont(ordered, 1.0) == ordered[-1]
    assert percentile_cont(ordered, 0.5) == statistics.median(ordered)


@given(PRICE_LISTS, FRACTIONS, FRACTIONS)
def test_percentile_cont_is_monotone_in_q(values: list[Decimal], q1: float, q2: float) -> None:
    ordered = sorted(values)
    low, high = sorted((q1, q2))
    assert ordered[0] <= percentile_cont(ordered, low) <= percentile_cont(ordered, high) <= ordered[-1]


@pytest.mark.parametrize(
    ("values", "q", "message"),
    [
        ([], 0.5, "no values"),
        ([Decimal(1)], 1.5, "between 0 and 1"),
        ([Decimal(1)], -0.1, "between 0 and 1"),
        ([Decimal(1)], math.nan, "between 0 and 1"),
        ([Decimal(2), Decimal(1)], 0.5, "ascending"),
    ],
)
def test_percentile_cont_rejects_bad_input(values: list[Decimal], q: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        percentile_cont(values, q)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # n, min, max, mean, median, p25, p75
        (["4", "1", "3", "2"], (4, "1.00", "4.00", "2.50", "2.50", "1.75", "3.25")),
        (["7.49"], (1, "7.49", "7.49", "7.49", "7.49", "7.49", "7.49")),
        (["0.01", "0.02"], (2, "0.01", "0.02", "0.02", "0.02", "0.01", "0.02")),  # 0.015 -> 0.02
        (["0.02", "0.03"], (2, "0.02", "0.03", "0.02", "0.02", "0.02", "0.03")),  # 0.025 -> 0.02
        # Rounded only at the end: the mean 0.015 rounds to 0.02; rounding the
        # prices first would give 0.01, 0.01, 0.02 and a mean of 0.01.
        (["0.014", "0.014", "0.017"], (3, "0.01", "0.02", "0.02", "0.01", "0.01", "0.02")),
        (["2.49", "3.85", "4.99", "5.00", "120.00"], (5, "2.49", "120.00", "27.27", "4.99", "3.85", "5.00")),
    ],
)
def test_summarize_table(values: list[str], expected: tuple[object, ...]) -> None:
    s = summarize(Decimal(v) for v in values)
    n, *money = expected
    assert (s.n, s.min, s.max, s.mean, s.median, s.p25, s.p75) == (n, *(Decimal(str(m)) for m in money))


@given(PRICE_LISTS)
def test_summarize_is_ordered_and_in_cents(values: list[Decimal]) -> None:
    s = summarize(values)
    assert s.n == len(values)
    assert s.min <= s.p25 <= s.median <= s.p75 <= s.max
    assert s.min <= s.mean <= s.max
    assert all(v.as_tuple().exponent == -2 for v in (s.min, s.max, s.mean, s.median, s.p25, s.p75))


@pytest.mark.parametrize("bad", [[], [Decimal("1.00"), Decimal("NaN")], [Decimal("Infinity")]])
def test_summarize_rejects_no_or_non_finite_prices(bad: list[Decimal]) -> None:
    with pytest.raises(ValueError):
        summarize(bad)


@pytest.mark.parametrize(("n", "thin"), [(0, True), (4, True), (5, False), (200, False)])
def test_thin_below_five(n: int, thin: bool) -> None:
    assert THIN_DATA_N == 5
    assert is_thin(n) is thin


@pytest.mark.parametrize(
    ("values", "kept", "outliers"),
    [
        (["10", "11", "12", "900"], ["10", "11", "12"], ["900"]),  # a "not for sale" price
        (["0.99", "10", "11", "12"], ["10", "11", "12"], ["0.99"]),  # a bait price
        (["10", "30", "3.34"], ["3.34", "10", "30"], []),  # 3x and 1/3x the median are inside
        (["10", "30.01", "3.33"], ["10"], ["3.33", "30.01"]),  # just beyond both fences
        (["1", "900"], ["1", "900"], []),  # two listings: no median to trust
        (["5", "5", "5", "5", "100", "100", "100"], ["5", "5", "5", "5"], ["100", "100", "100"]),
    ],
)
def test_fence_keeps_prices_within_three_times_the_median(values: list[str], kept: list[str],
                                                          outliers: list[str]) -> None:
    fenced = fence(Decimal(v) for v in values)
    assert (fenced.kept, fenced.outliers) == ([Decimal(v) for v in kept], [Decimal(v) for v in outliers])


@given(PRICE_LISTS, st.decimals(min_value=Decimal("0.01"), max_value=Decimal("49999"), places=2))
def test_one_listing_cannot_move_the_fenced_extremes_beyond_the_fence(values: list[Decimal], extra: Decimal) -> None:
    fenced = fence([*values, extra])
    mid = summarize([*values, extra]).median
    assert sorted(fenced.kept + fenced.outliers) == sorted([*values, extra])
    if len(values) + 1 >= FENCED_FROM_N:
        assert fenced.kept and all(p * OUTLIER_FENCE >= mid and p <= mid * OUTLIER_FENCE for p in fenced.kept)
    else:
        assert not fenced.outliers


def test_summary_knows_it_is_thin() -> None:
    assert summarize([Decimal("1.00")] * 4).thin
    assert not summarize([Decimal("1.00")] * 5).thin


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def postgres() -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")
    with conn:
        yield conn


@settings(max_examples=40, deadline=None)
@given(PRICE_LISTS, st.lists(FRACTIONS, max_size=5))
def test_percentile_cont_agrees_with_postgresql(
    postgres: psycopg.Connection, values: list[Decimal], extra_qs: list[float]
) -> None:
    qs = [0.0, 0.25, 0.5, 0.75, 1.0, *extra_qs]
    # VALUES from unnest: nothing is created, so nothing is left behind.
    row = postgres.execute(
        "SELECT percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY v) FROM unnest(%s::numeric[]) AS t(v)",
        (qs, values),
    ).fetchone()
    assert row is not None
    ordered = sorted(values)
    for q, theirs in zip(qs, row[0], strict=True):
        assert abs(percentile_cont(ordered, q) - Decimal(theirs)) <= Decimal("1e-8"), q
