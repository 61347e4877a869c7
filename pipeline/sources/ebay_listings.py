"""eBay Browse search results as typed records (API_REFERENCE §3.2).

Prices arrive as strings and stay exact as `Decimal`. A summary without
`itemId`, `title` or `price` makes the whole page a `PermanentSourceError`
naming the item: a page is never half parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pipeline.sources.payload import Fields

SERVICE = "ebay"
SEARCH_ENDPOINT = "/buy/browse/v1/item_summary/search"
# What the price_observations columns these fields are stored in can hold.
MAX_ITEM_ID = 64
MAX_CONDITION_ID = 8
MAX_SHIPPING_TYPE = 16
MAX_BIDS = 2**31 - 1  # an integer column


@dataclass(frozen=True)
class Money:
    value: Decimal
    currency: str
    converted_from_value: Decimal | None = None  # set when eBay converted the seller's currency
    converted_from_currency: str | None = None


@dataclass(frozen=True)
class ShippingOption:
    cost_type: str | None  # FIXED or CALCULATED
    cost: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class ItemSummary:
    """One live listing: an asking price, not a sale."""

    item_id: str  # v1|<legacy id>|<variation or 0>
    legacy_item_id: str | None
    title: str
    price: Money
    current_bid_price: Money | None  # auctions only
    bid_count: int | None
    condition: str | None
    condition_id: str | None
    buying_options: tuple[str, ...]
    shipping_options: tuple[ShippingOption, ...]
    seller_username: str | None
    seller_feedback_percentage: Decimal | None
    seller_feedback_score: int | None
    item_web_url: str | None
    image_url: str | None
    category_ids: tuple[str, ...]
    leaf_category_ids: tuple[str, ...]
    item_creation_date: datetime | None
    item_origin_date: datetime | None
    item_end_date: datetime | None
    item_location_country: str | None
    listing_marketplace_id: str | None


@dataclass(frozen=True)
class SearchPage:
    total: int | None
    offset: int
    limit: int
    items: tuple[ItemSummary, ...]
    has_next: bool


def parse_money(parent: Fields, key: str, *, required: bool = False) -> Money | None:
    if parent.obj.get(key) is None:
        if required:
            raise parent.bad(key, "is missing")
        return None
    money = parent.record(key)
    return Money(
        value=money.amount("value"),
        currency=money.currency("currency"),
        converted_from_value=money.opt_amount("convertedFromValue"),
        converted_from_currency=money.opt_currency("convertedFromCurrency"),
    )


def parse_shipping_option(obj: Any, item: Fields) -> ShippingOption:
    option = Fields(obj, SERVICE, SEARCH_ENDPOINT, f"{item.what} shipping option")
    cost = option.record("shippingCost")
    return ShippingOption(option.opt_code("shippingCostType", MAX_SHIPPING_TYPE), cost.opt_amount("value"),
                          cost.opt_currency("currency"))


def parse_item_summary(obj: Any, position: int = 0) -> ItemSummary:
    item = Fields(obj, SERVICE, SEARCH_ENDPOINT, f"item summary #{position}")
    item.what = f"item {item.obj['itemId']!r}" if isinstance(item.obj.get("itemId"), str) else item.what
    price = parse_money(item, "price", required=True)
    assert price is not None
    seller = item.record("seller")
    categories = [
        Fields(c, SERVICE, SEARCH_ENDPOINT, f"{item.what} category") for c in item.items("categories", required=False)
    ]
    return ItemSummary(
        item_id=item.code("itemId", MAX_ITEM_ID),
        legacy_item_id=item.opt_string("legacyItemId"),
        title=item.string("title"),
        price=price,
        current_bid_price=parse_money(item, "currentBidPrice"),
        bid_count=item.opt_integer("bidCount", low=0, high=MAX_BIDS),
        condition=item.opt_string("condition"),
        condition_id=item.opt_code("conditionId", MAX_CONDITION_ID),
        buying_options=item.strings("buyingOptions"),
        shipping_options=tuple(parse_shipping_option(o, item) for o in item.items("shippingOptions", required=False)),
        seller_username=seller.opt_string("username"),
        seller_feedback_percentage=seller.opt_decimal("feedbackPercentage"),
        seller_feedback_score=seller.opt_integer("feedbackScore"),
        item_web_url=item.opt_string("itemWebUrl"),
        image_url=item.record("image").opt_string("imageUrl"),
        category_ids=tuple(c.string("categoryId") for c in categories),
        leaf_category_ids=item.strings("leafCategoryIds"),
        item_creation_date=item.opt_moment("itemCreationDate"),
        item_origin_date=item.opt_moment("itemOriginDate"),
        item_end_date=item.opt_moment("itemEndDate"),
        item_location_country=item.record("itemLocation").opt_string("country"),
        listing_marketplace_id=item.opt_string("listingMarketplaceId"),
    )


def parse_search_page(payload: Any, offset: int, limit: int) -> SearchPage:
    """A `SearchPagedCollection`; `itemSummaries` is absent when nothing matches."""
    page = Fields(payload, SERVICE, SEARCH_ENDPOINT, "search page")
    summaries = page.items("itemSummaries", required=False)
    return SearchPage(
        total=page.opt_integer("total"),
        offset=offset,
        limit=page.opt_integer("limit") or limit,
        items=tuple(parse_item_summary(obj, position) for position, obj in enumerate(summaries, offset)),
        has_next=bool(page.opt_string("next")),
    )
