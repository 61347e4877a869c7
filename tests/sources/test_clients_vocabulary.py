"""Condition vocabularies and eBay Browse query building (API_REFERENCE §3.2, §5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pipeline.quality.condition import (
    bricklink_new_or_used,
    browse_condition_ids,
    condition_of_listing,
    listing_matches,
    looks_sealed,
    parse_condition,
)
from pipeline.sources.ebay import BrowseQuery, build_filter, search_params


@pytest.mark.parametrize(
    ("condition", "ids", "new_or_used"),
    [("SEALED", ("1000",), "N"), ("NEW", ("1000", "1500"), "N"), ("USED", ("3000", "4000", "5000", "6000"), "U")],
)
def test_seed_condition_maps_to_browse_ids_and_bricklink(
    condition: Any, ids: tuple[str, ...], new_or_used: str
) -> None:
    assert browse_condition_ids(condition) == ids
    assert bricklink_new_or_used(condition) == new_or_used


@pytest.mark.parametrize(
    ("condition_id", "expected"),
    [
        ("1000", "NEW"), ("1500", "NEW"), ("1750", "NEW"),
        ("2750", "USED"), ("3000", "USED"), ("4000", "USED"), ("5000", "USED"), ("6000", "USED"),
        ("7000", None),  # for parts or not working
        ("2000", None), ("2010", None), ("2020", None), ("2030", None), ("2500", None),  # refurbished
        (None, None), ("", None), ("9999", None), (" 3000 ", "USED"),
    ],
)
def test_condition_of_listing(condition_id: str | None, expected: str | None) -> None:
    assert condition_of_listing(condition_id) == expected


@pytest.mark.parametrize(
    ("title", "sealed"),
    [
        ("LEGO Star Wars sw0001a Battle Droid Factory Sealed polybag", True),
        ("Sealed LEGO minifigure Series 20", True),
        ("lego 71027 unopened bag", True),
        ("LEGO Battle Droid sw0001a", False),
        ("LEGO minifig UNSEALED opened", False),
    ],
)
def test_sealed_title_heuristic(title: str, sealed: bool) -> None:
    assert looks_sealed(title) is sealed


@pytest.mark.parametrize(
    ("condition", "condition_id", "title", "matches"),
    [
        ("SEALED", "1000", "sw0001a sealed polybag", True),
        ("SEALED", "1000", "sw0001a new", False),
        ("SEALED", "1500", "sw0001a sealed", False),
        ("NEW", "1500", "anything", True),
        ("NEW", "3000", "anything", False),
        ("USED", "2750", "like new", True),
        ("USED", "7000", "for parts", False),
    ],
)
def test_listing_matches(condition: Any, condition_id: str, title: str, matches: bool) -> None:
    assert listing_matches(condition, condition_id, title) is matches


def test_parse_condition() -> None:
    assert parse_condition(" used ") == "USED"
    with pytest.raises(ValueError, match="SEALED"):
        parse_condition("mint")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (BrowseQuery("sw0001a"), "buyingOptions:{FIXED_PRICE|AUCTION}"),
        (BrowseQuery("sw0001a", buying_options=()), None),
        (BrowseQuery("sw0001a", condition_ids=("1000", "1500"), buying_options=("FIXED_PRICE",)),
         "buyingOptions:{FIXED_PRICE},conditionIds:{1000|1500}"),
        (BrowseQuery("sw0001a", price_min=Decimal("1"), price_max=Decimal("100.50"), price_currency="GBP"),
         "buyingOptions:{FIXED_PRICE|AUCTION},price:[1..100.5],priceCurrency:GBP"),
        (BrowseQuery("x", buying_options=(), price_max=Decimal("5"), price_currency="USD"),
         "price:[..5],priceCurrency:USD"),
        (BrowseQuery("x", buying_options=(), price_min=Decimal("10.00"), price_currency="USD"),
         "price:[10],priceCurrency:USD"),
    ],
)
def test_build_filter(query: BrowseQuery, expected: str | None) -> None:
    assert build_filter(query) == expected


def test_search_params_carry_every_part_of_the_query() -> None:
    query = BrowseQuery("lego battle droid sw0001a", category_id="19001", condition_ids=("3000",),
                        sort="price", limit=50)
    assert search_params(query, 100) == {
        "q": "lego battle droid sw0001a", "category_ids": "19001",
        "filter": "buyingOptions:{FIXED_PRICE|AUCTION},conditionIds:{3000}", "sort": "price",
        "limit": "50", "offset": "100",
    }


@pytest.mark.parametrize("offset", [-50, 25, 10_000, 9_990])
def test_search_params_refuse_offsets_eBay_refuses(offset: int) -> None:
    with pytest.raises(ValueError, match="offset"):
        search_params(BrowseQuery("x", limit=50), offset)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"q": ""}, {"q": "a" * 101}, {"q": "sw*"}, {"q": "x", "limit": 0}, {"q": "x", "limit": 201},
        {"q": "x", "price_min": Decimal("1")},
        {"q": "x", "price_min": Decimal("9"), "price_max": Decimal("1"), "price_currency": "USD"},
        {"q": "x", "sort": "cheapest"},
    ],
)
def test_browse_query_refuses_what_eBay_refuses(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BrowseQuery(**kwargs)
