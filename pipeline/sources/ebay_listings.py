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

from pipeline.sources.payload import named, parse
from pipeline.sources.replies import EbayItemSummaryJson, EbayMoneyJson, EbaySearchPageJson

SERVICE = "ebay"
SEARCH_ENDPOINT = "/buy/browse/v1/item_summary/search"


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


def _money(money: EbayMoneyJson) -> Money:
    return Money(money.value, money.currency, money.convertedFromValue, money.convertedFromCurrency)


def parse_item_summary(obj: Any, position: int = 0) -> ItemSummary:
    record = named("item", obj, "itemId", default=f"item summary #{position}")
    item = parse(EbayItemSummaryJson, obj, service=SERVICE, endpoint=SEARCH_ENDPOINT, record=record)
    return ItemSummary(
        item_id=item.itemId,
        legacy_item_id=item.legacyItemId,
        title=item.title,
        price=_money(item.price),
        current_bid_price=_money(item.currentBidPrice) if item.currentBidPrice is not None else None,
        bid_count=item.bidCount,
        condition=item.condition,
        condition_id=item.conditionId,
        buying_options=item.buyingOptions,
        shipping_options=tuple(
            ShippingOption(option.shippingCostType, option.shippingCost.value, option.shippingCost.currency)
            for option in item.shippingOptions
        ),
        seller_username=item.seller.username,
        seller_feedback_percentage=item.seller.feedbackPercentage,
        seller_feedback_score=item.seller.feedbackScore,
        item_web_url=item.itemWebUrl,
        image_url=item.image.imageUrl,
        category_ids=tuple(category.categoryId for category in item.categories),
        leaf_category_ids=item.leafCategoryIds,
        item_creation_date=item.itemCreationDate,
        item_origin_date=item.itemOriginDate,
        item_end_date=item.itemEndDate,
        item_location_country=item.itemLocation.country,
        listing_marketplace_id=item.listingMarketplaceId,
    )


def parse_search_page(payload: Any, offset: int, limit: int) -> SearchPage:
    """A `SearchPagedCollection`; `itemSummaries` is absent when nothing matches."""
    page = parse(EbaySearchPageJson, payload, service=SERVICE, endpoint=SEARCH_ENDPOINT, record="search page")
    return SearchPage(
        total=page.total,
        offset=offset,
        limit=page.limit or limit,
        items=tuple(parse_item_summary(obj, position) for position, obj in enumerate(page.itemSummaries, offset)),
        has_next=bool(page.next),
    )
