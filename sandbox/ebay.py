"""eBay stand-in: the client-credentials token endpoint and Browse `item_summary/search`.

Tokens live 7200 s and belong to the app that minted them; each app has a daily
Browse call quota (5000 by default). The marketplace header picks the listings
shown and their currency; listings from another marketplace come converted,
with `convertedFromValue`. Error ids 1001 (token) and 2001 (quota) are eBay's;
the 12xxx ids of the request checks are the sandbox's choice, since the
reference leaves them open, but the envelope is eBay's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from .browse_query import FilterValue, Range, market_index, parse_filter, parse_keywords
from .credentials import SANDBOX_CREDENTIALS
from .listings import (
    CATEGORIES,
    CONDITIONS,
    MARKETPLACES,
    PER_US_DOLLAR,
    Listing,
    Money,
    convert,
    money_on,
)
from .messages import Request, Response, json_response
from .service import DailyQuota, Service

TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
ITEM_PATH = "/buy/browse/v1/item/"
RATE_LIMIT_PATH = "/developer/analytics/v1_beta/rate_limit"  # with or without its trailing slash
API_SCOPE = "https://api.ebay.com/oauth/api_scope"
TOKEN_LIFETIME_S = 7200
MAX_RESULTS = 10_000
OFFSET_MESSAGE = "The 'offset' value must be either zero or a multiple of the 'limit' value"
INTERNAL_MESSAGE = ("There was a problem with an eBay internal system or process. "
                    "Contact eBay developer support for assistance.")
NEW_CONDITIONS = frozenset({"1000", "1500", "1750"})


@dataclass
class _Token:
    app: str
    expires_at: float  # time.monotonic()


class BadRequest(Exception):
    def __init__(self, error_id: int, message: str, long_message: str | None = None) -> None:
        super().__init__(message)
        self.error_id, self.message, self.long_message = error_id, message, long_message or message


def _errors(status: int, error_id: int, domain: str, category: str, message: str, long_message: str,
            headers: dict[str, str] | None = None) -> Response:
    error = {"errorId": error_id, "domain": domain, "category": category, "message": message,
             "longMessage": long_message}
    return json_response(status, {"errors": [error]}, headers)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


class EbayService(Service):
    name = "ebay"
    prefix = "/ebay"
    extra_faults = frozenset({"expire_token"})

    def __init__(self, seed: int, daily_limit: int = 5000) -> None:
        self._seed = seed
        self._daily_limit = daily_limit
        self._quota = DailyQuota(daily_limit)  # Browse calls per app
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._minted = 0

    def reset(self) -> None:
        self._quota.reset()
        self.expire_tokens()

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def apply_fault(self, kind: str, request: Request) -> Response | None:
        self.expire_tokens()  # kind is "expire_token", the only extra; the request then meets the expiry
        return None

    def error(self, request: Request, status: int, retry_after: int | None) -> Response:
        if request.path == TOKEN_PATH:
            error = "temporarily_unavailable" if status in (429, 503) else "server_error"
            return _oauth_error(status, error, "The authorization server is temporarily unable to handle the request")
        if status == 429:
            return _errors(429, 2001, "ACCESS", "REQUEST", "Too many requests.",
                           "The request limit has been reached for the resource.")
        return _errors(status, 12000, "API_BROWSE", "APPLICATION", INTERNAL_MESSAGE, INTERNAL_MESSAGE)

    def handle(self, request: Request) -> Response:
        if request.path == TOKEN_PATH:
            return self._mint(request)
        if request.path.rstrip("/") == RATE_LIMIT_PATH:
            return self._rate_limits(request)
        if request.path == SEARCH_PATH or request.path.startswith(ITEM_PATH):
            app = self._caller(request)
            if app is None:
                return _errors(401, 1001, "OAuth", "REQUEST", "Invalid access token",
                               "Invalid access token. Check the value of the Authorization HTTP request header.")
            if not self._quota.spend(app, request.day):
                return self.error(request, 429, None)
            marketplace = request.header("X-EBAY-C-MARKETPLACE-ID") or "EBAY_US"
            marketplace = marketplace if marketplace in MARKETPLACES else "EBAY_US"
            try:
                if request.path == SEARCH_PATH:
                    return json_response(200, self._search(request, marketplace))
                return self._item(request, marketplace)
            except BadRequest as exc:
                return _errors(400, exc.error_id, "API_BROWSE", "REQUEST", exc.message, exc.long_message)
        return _errors(404, 2002, "ACCESS", "REQUEST", "Resource not found",
                       "The requested resource does not exist. Check the request URI.")

    def _mint(self, request: Request) -> Response:
        if request.method != "POST":
            return _oauth_error(405, "invalid_request", "request method not supported")
        if _basic_credentials(request.header("Authorization")) != (SANDBOX_CREDENTIALS["ebay_client_id"],
                                                                    SANDBOX_CREDENTIALS["ebay_client_secret"]):
            return _oauth_error(401, "invalid_client", "client authentication failed")
        if request.form.get("grant_type", [""])[0] != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type",
                                "grant type in request is not supported by the authorization server")
        scopes = request.form.get("scope", [""])[0].split()
        if not scopes or any(scope != API_SCOPE for scope in scopes):
            return _oauth_error(400, "invalid_scope", "The requested scope is invalid, unknown, malformed, "
                                                      "or exceeds the scope granted to the client")
        with self._lock:
            self._minted += 1
            digest = hashlib.sha256(f"{self._seed}:token:{self._minted}:{time.time_ns()}".encode()).digest()
            token = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^" + base64.b64encode(digest * 3).decode()
            self._tokens[token] = _Token(SANDBOX_CREDENTIALS["ebay_client_id"], time.monotonic() + TOKEN_LIFETIME_S)
        return json_response(200, {"access_token": token, "expires_in": TOKEN_LIFETIME_S,
                                   "token_type": "Application Access Token"})

    def _rate_limits(self, request: Request) -> Response:
        """Developer Analytics `getRateLimits`: the app's Browse calls of the day; asking spends none."""
        app = self._caller(request)
        if app is None:
            return _errors(401, 1001, "OAuth", "REQUEST", "Invalid access token",
                           "Invalid access token. Check the value of the Authorization HTTP request header.")
        wanted = (request.param("api_name") or "browse").casefold(), (request.param("api_context") or "buy").casefold()
        if wanted != ("browse", "buy"):
            return json_response(200, {"rateLimits": []})
        used = min(self._quota.usage(app).get(request.day, 0), self._daily_limit)
        reset = datetime.combine(request.day + timedelta(days=1), datetime.min.time(), UTC)
        rate = {"count": used, "limit": self._daily_limit, "remaining": self._daily_limit - used,
                "reset": _timestamp(reset), "timeWindow": 86400}
        return json_response(200, {"rateLimits": [{"apiContext": "buy", "apiName": "Browse", "apiVersion": "v1",
                                                   "resources": [{"name": "buy.browse", "rates": [rate]}]}]})

    def _caller(self, request: Request) -> str | None:
        """The app whose live token authorises the request, if any."""
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            found = self._tokens.get(token.strip())
            return found.app if found and found.expires_at > time.monotonic() else None

    def _search(self, request: Request, marketplace: str) -> dict[str, Any]:
        q = request.param("q") or ""
        categories = [c for c in (request.param("category_ids") or "").split(",") if c.strip()]
        if not q.strip() and not categories:
            raise BadRequest(12001, "The call must have a valid 'q', 'category_ids', 'epid' or 'gtin' query parameter.")
        if len(q) > 100:
            raise BadRequest(12002, "The 'q' value cannot be longer than 100 characters.")
        limit = _whole(request.param("limit"), 50)
        if limit is None or not 1 <= limit <= 200:
            raise BadRequest(12003, "The 'limit' value should be between 1 and 200 (inclusive).")
        offset = _whole(request.param("offset"), 0)
        if offset is None or offset % limit:
            raise BadRequest(12004, OFFSET_MESSAGE)
        if offset + limit > MAX_RESULTS:
            raise BadRequest(12004, OFFSET_MESSAGE, f"The sum of 'offset' and 'limit' cannot exceed {MAX_RESULTS}.")
        try:
            filters = parse_filter(request.param("filter") or "")
        except ValueError as exc:
            raise BadRequest(12005, "The 'filter' value is invalid.", str(exc)) from None
        currency = MARKETPLACES[marketplace].currency
        wanted_currency = str(filters.get("priceCurrency", currency))
        if wanted_currency not in PER_US_DOLLAR:
            raise BadRequest(12005, "The 'filter' value is invalid.",
                             f"The currency '{wanted_currency}' is not supported.")
        found = [listing for listing in market_index(self._seed, request.day, marketplace).search(parse_keywords(q))
                 if (not categories or listing.category_id in categories)
                 and _passes(listing, filters, wanted_currency)]
        found = _sorted(found, request.param("sort") or "", marketplace)
        total = len(found)
        page = found[offset: offset + limit]
        result: dict[str, Any] = {"href": request.url_with(limit=str(limit), offset=str(offset)), "total": total}
        if offset + limit < min(total, MAX_RESULTS) and offset + 2 * limit <= MAX_RESULTS:
            result["next"] = request.url_with(limit=str(limit), offset=str(offset + limit))
        if offset > 0:
            result["prev"] = request.url_with(limit=str(limit), offset=str(max(0, offset - limit)))
        result.update({"limit": limit, "offset": offset})
        if page:
            result["itemSummaries"] = [item_summary(listing, marketplace, request.origin) for listing in page]
        return result

    def _item(self, request: Request, marketplace: str) -> Response:
        item_id = unquote(request.path[len(ITEM_PATH):])
        for listing in market_index(self._seed, request.day, marketplace).listings:
            if f"v1|{listing.item_id}|0" == item_id:
                return json_response(200, item_summary(listing, marketplace, request.origin))
        return _errors(404, 11001, "API_BROWSE", "REQUEST", f"The specified item Id {item_id} was not found.",
                       "The item is not listed on this marketplace today, or never was.")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if colon else None


def _whole(raw: str | None, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isdigit() else None


def _passes(listing: Listing, filters: dict[str, FilterValue], currency: str) -> bool:
    """The filter terms the sandbox knows; eBay's default keeps only listings one can buy outright."""
    options = filters.get("buyingOptions", ("FIXED_PRICE",))
    if not set(listing.buying_options) & set(_values(options)):
        return False
    if "conditionIds" in filters and listing.condition_id not in _values(filters["conditionIds"]):
        return False
    if "conditions" in filters:
        group = "NEW" if listing.condition_id in NEW_CONDITIONS else "USED"
        if group not in _values(filters["conditions"]):
            return False
    if "sellers" in filters and listing.seller.username not in _values(filters["sellers"]):
        return False
    country = MARKETPLACES[listing.home_marketplace].country
    if "itemLocationCountry" in filters and country not in _values(filters["itemLocationCountry"]):
        return False
    price, bids = filters.get("price"), filters.get("bidCount")
    if isinstance(price, Range) and convert(listing.price, listing.currency, currency) not in price:
        return False
    return not isinstance(bids, Range) or (listing.bid_count or 0) in bids


def _values(value: FilterValue) -> tuple[str, ...]:
    if isinstance(value, Range):
        return ()
    return (value,) if isinstance(value, str) else value


def _sorted(listings: list[Listing], sort: str, marketplace: str) -> list[Listing]:
    def cost(listing: Listing) -> Decimal:
        shipping = listing.shipping_cost or Decimal(0)
        return money_on(listing.price + shipping, listing.currency, marketplace).value

    if sort in ("price", "-price"):
        return sorted(listings, key=lambda listing: (cost(listing), listing.item_id), reverse=sort == "-price")
    if sort == "newlyListed":
        return sorted(listings, key=lambda listing: (listing.origin, listing.item_id), reverse=True)
    if sort == "endingSoonest":
        return sorted(listings, key=lambda x: (x.ends is None, x.ends or x.created, x.item_id))
    # Best Match: an order of the sandbox's own, the same every time for the same listings.
    return sorted(listings, key=lambda listing: hashlib.md5(listing.item_id.encode()).hexdigest())


def _money(money: Money) -> dict[str, str]:
    shown = {"value": str(money.value), "currency": money.currency}
    if money.converted_from:
        shown.update(convertedFromValue=str(money.converted_from[0]), convertedFromCurrency=money.converted_from[1])
    return shown


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def item_summary(listing: Listing, marketplace: str, origin: str) -> dict[str, Any]:
    """A listing as Browse's ItemSummary, as the given marketplace shows it."""
    price = _money(money_on(listing.price, listing.currency, marketplace))
    summary: dict[str, Any] = {
        "itemId": f"v1|{listing.item_id}|0", "legacyItemId": listing.item_id, "title": listing.title,
        "leafCategoryIds": [listing.category_id],
        "categories": [{"categoryId": listing.category_id, "categoryName": CATEGORIES[listing.category_id]}],
        "image": {"imageUrl": f"https://i.ebayimg.com/images/g/{listing.image_key}/s-l225.jpg"}, "price": price,
    }
    if "AUCTION" in listing.buying_options:
        summary.update(currentBidPrice=dict(price), bidCount=listing.bid_count)
    summary.update({
        "itemHref": f"{origin}/ebay{ITEM_PATH}v1%7C{listing.item_id}%7C0",
        "seller": {"username": listing.seller.username, "feedbackPercentage": listing.seller.feedback_percentage,
                   "feedbackScore": listing.seller.feedback_score},
        "condition": CONDITIONS[listing.condition_id], "conditionId": listing.condition_id,
    })
    if listing.shipping_type is not None and listing.shipping_cost is not None:
        cost = _money(money_on(listing.shipping_cost, listing.currency, marketplace))
        summary["shippingOptions"] = [{"shippingCostType": listing.shipping_type, "shippingCost": cost}]
    summary["buyingOptions"] = list(listing.buying_options)
    if listing.ends is not None:
        summary["itemEndDate"] = _timestamp(listing.ends)
    home = MARKETPLACES[listing.home_marketplace]
    summary.update({
        "itemWebUrl": f"https://{MARKETPLACES[marketplace].site}/itm/{listing.item_id}",
        "itemLocation": {"postalCode": listing.postal_code, "country": home.country},
        "adultOnly": False, "availableCoupons": False,
        "itemCreationDate": _timestamp(listing.created), "itemOriginDate": _timestamp(listing.origin),
        "topRatedBuyingExperience": listing.seller.feedback_score > 5000, "priorityListing": False,
        "listingMarketplaceId": listing.home_marketplace,
    })
    return summary
