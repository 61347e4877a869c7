"""eBay and BrickLink replies: the reference's composed examples, error envelopes, malformed records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from pipeline.sources import bricklink, ebay
from pipeline.sources.ebay_listings import parse_search_page
from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from pipeline.sources.payload import parse
from pipeline.sources.replies import BricksetLoginJson, EbayTokenJson
from tests.sources import reference_examples as ex
from tests.sources.clients_support import verdict


def test_ebay_search_page_from_the_composed_example() -> None:
    page = parse_search_page(verdict(ebay.check_reply, ex.EBAY_SEARCH), offset=0, limit=2)
    assert (page.total, page.has_next, len(page.items)) == (37, True, 2)
    used, auction = page.items
    assert used.item_id == "v1|305512345678|0" and used.legacy_item_id == "305512345678"
    assert used.price == ebay.Money(Decimal("2.49"), "GBP")
    assert (used.condition, used.condition_id, used.buying_options) == ("Used", "3000", ("FIXED_PRICE", "BEST_OFFER"))
    assert used.shipping_options == (ebay.ShippingOption("FIXED", Decimal("1.55"), "GBP"),)
    assert (used.seller_username, used.seller_feedback_percentage, used.seller_feedback_score) == (
        "brick_attic_uk", Decimal("99.8"), 5321)
    assert used.category_ids == ("19001",) and used.leaf_category_ids == ("19001",)
    assert used.item_creation_date == datetime(2025, 5, 20, 8, 14, 2, tzinfo=UTC)
    assert used.item_end_date is None and used.current_bid_price is None and used.bid_count is None
    assert (used.item_web_url, used.listing_marketplace_id) == ("https://www.ebay.co.uk/itm/305512345678", "EBAY_GB")
    assert auction.price == ebay.Money(Decimal("3.85"), "GBP", Decimal("4.99"), "USD")
    assert auction.current_bid_price == auction.price and auction.bid_count == 3
    assert auction.shipping_options[0].cost == Decimal("6.20")
    assert auction.item_end_date == datetime(2025, 6, 3, 19, 30, tzinfo=UTC)


def test_ebay_empty_result_has_no_items_and_no_next() -> None:
    page = parse_search_page(verdict(ebay.check_reply, ex.EBAY_NO_RESULTS), offset=0, limit=50)
    assert (page.total, page.items, page.has_next) == (0, (), False)


@pytest.mark.parametrize(
    ("drop", "change", "words"),
    [
        ("price", {}, "item 'v1|196123456789|0': field 'price' is missing"),
        ("title", {}, "item 'v1|196123456789|0': field 'title' is missing"),
        ("itemId", {}, "item summary #1: field 'itemId' is missing"),
        (None, {"price": {"value": "cheap", "currency": "GBP"}}, "field 'value' is not a number"),
        (None, {"price": {"value": "3.85"}}, "field 'currency' is missing"),
        (None, {"itemEndDate": "tomorrow"}, "field 'itemEndDate' is not an ISO-8601 timestamp"),
    ],
)
def test_ebay_malformed_summary_fails_the_whole_page(drop: str | None, change: dict[str, Any], words: str) -> None:
    payload = json.loads(ex.EBAY_SEARCH)
    bad = payload["itemSummaries"][1]
    bad.pop(drop, None) if drop else bad.update(change)
    with pytest.raises(PermanentSourceError, match=words.replace("|", r"\|")):
        parse_search_page(payload, offset=0, limit=2)


@pytest.mark.parametrize(
    ("model", "secret", "payload"),
    [(EbayTokenJson, "access_token", {"expires_in": "x" * 500}), (BricksetLoginJson, "hash", {})],
)
def test_a_malformed_reply_names_its_fields_but_shows_no_secret_and_no_long_value(
        model: Any, secret: str, payload: dict[str, Any]) -> None:
    with pytest.raises(PermanentSourceError) as caught:
        parse(model, {secret: "s3cret tok\x00en", **payload}, service="svc", endpoint="/token", record="token reply")
    reason = caught.value.reason
    assert reason.startswith(f"token reply: field {secret!r} is not ") and "s3cret" not in reason
    assert len(reason) < 200 and caught.value.__cause__ is None and caught.value.__suppress_context__
    if payload:
        assert "; field 'expires_in' is not an integer: 'xxx" in reason and "x" * 100 not in reason


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "words"),
    [
        (401, ex.EBAY_INVALID_TOKEN, {}, AuthError, "error 1001: Invalid access token"),
        (429, ex.EBAY_TOO_MANY, {}, RateLimited, "error 2001"),  # a rate limit: the day's usage tells a spent quota
        (401, ex.EBAY_TOKEN_ERROR, {}, AuthError, "invalid_client: client authentication failed"),
        (400, ('{"errors":[{"errorId":12023,"domain":"API_BROWSE","category":"REQUEST","message":"The \'offset\' '
               'value must be either zero or a multiple of the \'limit\' value"}]}'), {}, PermanentSourceError,
         "multiple of the 'limit'"),
        (500, '{"errors":[{"errorId":12000,"message":"There was a problem with an eBay internal system"}]}', {},
         TransientSourceError, "12000"),
        (503, "<html>down</html>", {"Content-Type": "text/html"}, TransientSourceError, "HTTP 503"),
    ],
)
def test_ebay_errors(status: int, body: str, headers: dict[str, str], kind: type[SourceError], words: str) -> None:
    with pytest.raises(kind, match=words) as caught:
        verdict(ebay.check_reply, body, status, **headers)
    assert type(caught.value) is kind


def test_ebay_429_carries_retry_after_when_sent() -> None:
    with pytest.raises(RateLimited) as caught:
        verdict(ebay.check_reply, ex.EBAY_TOO_MANY, 429, **{"Retry-After": "30"})
    assert caught.value.retry_after == 30.0


# --- BrickLink --------------------------------------------------------------------------------------------


def test_bricklink_sold_guide_from_the_composed_example() -> None:
    guide = bricklink.parse_price_guide(verdict(bricklink.check_reply, ex.BRICKLINK_SOLD), "sold")
    assert (guide.item_no, guide.item_type, guide.new_or_used) == ("sw0001a", "MINIFIG", "U")
    assert guide.currency_code == "GBP"
    assert (guide.min_price, guide.max_price, guide.avg_price, guide.qty_avg_price) == (
        Decimal("0.9500"), Decimal("4.7500"), Decimal("2.3120"), Decimal("2.1044"))
    assert (guide.unit_quantity, guide.total_quantity, guide.has_data) == (3, 5, True)
    assert guide.details[1] == bricklink.PriceDetail(3, Decimal("1.9000"), "DE", "GB",
                                                     datetime(2025, 3, 2, 17, 5, 10, tzinfo=UTC))


def test_bricklink_stock_guide_from_the_composed_example() -> None:
    guide = bricklink.parse_price_guide(verdict(bricklink.check_reply, ex.BRICKLINK_STOCK), "stock")
    assert [(d.quantity, d.unit_price, d.shipping_available) for d in guide.details] == [
        (4, Decimal("2.9900"), True), (2, Decimal("4.0000"), True), (1, Decimal("8.5000"), False)]


def test_bricklink_misspelt_quantity_alone_is_read() -> None:
    detail = bricklink.parse_price_detail({"qunatity": 2, "unit_price": "1.5000", "shipping_available": "Y"})
    assert (detail.quantity, detail.unit_price, detail.shipping_available) == (2, Decimal("1.5000"), True)


def test_bricklink_guide_without_sales_has_no_prices() -> None:
    empty = ('{"meta":{"code":200,"message":"OK","description":"OK"},"data":{"item":{"no":"sw9999z","type":"MINIFIG"},'
             '"new_or_used":"N","currency_code":"USD","min_price":"0.0000","max_price":"0.0000","avg_price":"0.0000",'
             '"qty_avg_price":"0.0000","unit_quantity":0,"total_quantity":0,"price_detail":[]}}')
    guide = bricklink.parse_price_guide(verdict(bricklink.check_reply, empty), "sold")
    assert not guide.has_data and guide.avg_price is None and guide.min_price is None and guide.details == ()


def test_bricklink_catalog_item() -> None:
    body = ('{"meta":{"code":200,"message":"OK","description":"OK"},"data":{"no":"sw0001a","name":"Battle Droid",'
            '"type":"MINIFIG","category_id":65,"image_url":"//img.bricklink.com/M/sw0001a.jpg","weight":"3.50",'
            '"year_released":1999,"is_obsolete":false}}')
    item = bricklink.parse_item(verdict(bricklink.check_reply, body))
    assert (item.no, item.name, item.category_id, item.year_released, item.is_obsolete) == (
        "sw0001a", "Battle Droid", 65, 1999, False)


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (404, ex.BRICKLINK_NOT_FOUND, RecordNotFound, "RESOURCE_NOT_FOUND"),
        (200, ex.BRICKLINK_NOT_FOUND, RecordNotFound, "RESOURCE_NOT_FOUND"),  # the body's meta.code decides
        (401, ex.BRICKLINK_BAD_OAUTH, AuthError, "BAD_OAUTH_REQUEST: SIGNATURE_INVALID"),
        (200, '{"meta":{"code":400,"message":"PARAMETER_MISSING_OR_INVALID","description":"x"},"data":{}}',
         PermanentSourceError, "PARAMETER_MISSING_OR_INVALID"),
        (500, '{"meta":{"code":500,"message":"INTERNAL_SERVER_ERROR","description":"x"},"data":{}}',
         TransientSourceError, "INTERNAL_SERVER_ERROR"),
        (503, "<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>",
         TransientSourceError, "HTTP 503"),
        (200, '{"data":{}}', PermanentSourceError, "no meta.code"),
    ],
)
def test_bricklink_errors(status: int, body: str, kind: type[SourceError], words: str) -> None:
    with pytest.raises(kind, match=words) as caught:
        verdict(bricklink.check_reply, body, status)
    assert type(caught.value) is kind
