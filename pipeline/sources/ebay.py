"""eBay: an application token (OAuth2 client credentials) and Browse search (API_REFERENCE §3).

What eBay cannot do here: Browse returns live listings, so its prices are
asking prices, not sales; sold prices (Finding `findCompletedItems`,
Marketplace Insights) are closed to ordinary developers. Browse allows 5,000
calls a day by default (429, error 2001, when spent, as when called too fast) and at most 10,000
results per query. Auctions come back only when asked for (`buyingOptions`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pipeline.sources.ebay_listings import (
    SEARCH_ENDPOINT,
    SERVICE,
    ItemSummary,
    Money,
    SearchPage,
    ShippingOption,
    parse_search_page,
)
from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    RateLimited,
    SourceError,
)
from pipeline.sources.http import (
    NO_RETRY,
    BeforeRequest,
    HttpSource,
    Reply,
    RetryPolicy,
    Throttled,
    error_for_status,
)
from pipeline.sources.payload import Wire, parse
from pipeline.sources.replies import (
    EbayRateJson,
    EbayRateLimitJson,
    EbayRateLimitsJson,
    EbayRateResourceJson,
    EbayTokenJson,
)

__all__ = ["ApplicationToken", "BrowseQuery", "EbayClient", "ItemSummary", "Money", "RateLimit", "SearchPage",
           "ShippingOption", "build_filter"]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Wire)

SCOPE = "https://api.ebay.com/oauth/api_scope"
TOKEN_ENDPOINT = "/identity/v1/oauth2/token"
MAX_LIMIT = 200
MAX_RESULTS = 10_000  # offset + limit may not pass it
QUOTA_ERROR_ID = 2001
RATE_LIMIT_ENDPOINT = "/developer/analytics/v1_beta/rate_limit/"
BROWSE_RESOURCE = "buy.browse"
SORTS = frozenset({"price", "-price", "distance", "newlyListed", "endingSoonest"})


@dataclass(frozen=True)
class BrowseQuery:
    """One `item_summary/search` question; `filter` is built from the fields.

    Both buying options are asked for by default: Browse alone returns only
    FIXED_PRICE listings. A price bound needs `price_currency`, which is sent
    with it as `priceCurrency`.
    """

    q: str
    category_id: str | None = None
    condition_ids: tuple[str, ...] = ()
    buying_options: tuple[str, ...] = ("FIXED_PRICE", "AUCTION")
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    price_currency: str | None = None
    sort: str | None = None
    limit: int = MAX_LIMIT

    def __post_init__(self) -> None:
        if not self.q.strip() or len(self.q) > 100 or "*" in self.q:
            raise ValueError(f"q must be 1-100 characters without '*', got {self.q!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1-{MAX_LIMIT}, got {self.limit}")
        if (self.price_min is not None or self.price_max is not None) and not self.price_currency:
            raise ValueError("a price bound needs price_currency")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        if self.sort is not None and self.sort not in SORTS:
            raise ValueError(f"sort must be one of {sorted(SORTS)}, got {self.sort!r}")


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f")


def build_filter(query: BrowseQuery) -> str | None:
    """The `filter` value, e.g. `buyingOptions:{FIXED_PRICE|AUCTION},price:[1..10],priceCurrency:GBP`."""
    terms = []
    if query.buying_options:
        terms.append(f"buyingOptions:{{{'|'.join(query.buying_options)}}}")
    if query.condition_ids:
        terms.append(f"conditionIds:{{{'|'.join(query.condition_ids)}}}")
    low, high = query.price_min, query.price_max
    if low is not None or high is not None:
        if high is None:
            bounds = _amount(low) if low is not None else ""  # [10] means 10 or more
        else:
            bounds = f"{_amount(low) if low is not None else ''}..{_amount(high)}"
        terms.append(f"price:[{bounds}]")
        terms.append(f"priceCurrency:{query.price_currency}")
    return ",".join(terms) or None


def search_params(query: BrowseQuery, offset: int) -> dict[str, str]:
    if offset < 0 or offset % query.limit or offset + query.limit > MAX_RESULTS:
        raise ValueError(f"offset {offset} must be a multiple of limit {query.limit} within {MAX_RESULTS} results")
    params = {"q": query.q, "category_ids": query.category_id, "filter": build_filter(query), "sort": query.sort}
    shown = {key: value for key, value in params.items() if value}
    return {**shown, "limit": str(query.limit), "offset": str(offset)}


def check_reply(reply: Reply) -> SourceError | None:
    """eBay's verdict: the `errors[]` envelope, the token endpoint's `error`, 429/2001 as a rate limit."""
    payload = reply.payload if isinstance(reply.payload, dict) else {}
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and reply.status >= 400:
        first = errors[0]
        reason = f"error {first.get('errorId')}: {first.get('longMessage') or first.get('message')}"
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more)"
        if reply.status == 429 or first.get("errorId") == QUOTA_ERROR_ID:
            return reply.fail(RateLimited, reason)
        return error_for_status(reply, reason) or reply.fail(PermanentSourceError, reason)
    if "error" in payload and reply.status >= 400:
        return error_for_status(reply, f"{payload['error']}: {payload.get('error_description', '')}")
    return None


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset: datetime | None  # when the count starts again


def parse_rate_limit(payload: Any) -> RateLimit | None:
    def read(model: type[M], data: Any, record: str) -> M:
        return parse(model, data, service=SERVICE, endpoint=RATE_LIMIT_ENDPOINT, record=record)

    for api in read(EbayRateLimitsJson, payload, "rate limits").rateLimits:
        for resource in read(EbayRateLimitJson, api, "rate limit").resources:
            found = read(EbayRateResourceJson, resource, "resource")
            if found.name == BROWSE_RESOURCE and found.rates:
                rate = read(EbayRateJson, found.rates[0], "rate")
                return RateLimit(rate.limit, rate.remaining, rate.reset)
    return None


class ApplicationToken:
    """An application token and when to stop using it, shared by the clients of one set of credentials.

    Each thread keeps a client of its own (an HTTP session is not shared between threads);
    with one of these given to all of them, one mint serves every thread of the process,
    where each client would otherwise mint its own. The lock is held while a client mints,
    so the others wait for that token rather than mint theirs.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: tuple[str, float] | None = None  # the token and when to stop using it


class EbayClient:
    """Browse search with a cached application token; see the module docstring for limits."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        marketplace_id: str = "EBAY_US",
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        before_request: BeforeRequest | None = None,
        on_throttled: Throttled | None = None,
        token_margin_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        token: ApplicationToken | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.marketplace_id = marketplace_id
        self._credentials = (client_id, client_secret)
        self._http = HttpSource(SERVICE, timeout_s=timeout_s, retry=retry, before_request=before_request,
                                on_throttled=on_throttled)
        # Developer Analytics is another API: its calls spend none of Browse's quota, and a question
        # about the quota asked once, briefly, is enough.
        self._analytics = HttpSource(SERVICE, timeout_s=min(timeout_s, 5.0), retry=NO_RETRY)
        self._token_margin_s = token_margin_s
        self._clock = clock
        self._app_token = token or ApplicationToken()  # of this client alone, unless one is given to share

    def close(self) -> None:
        self._http.close()
        self._analytics.close()

    def token(self) -> str:
        """An application access token, minted on first use and shortly before it expires."""
        shared = self._app_token
        with shared.lock:
            if shared.value is None or self._clock() >= shared.value[1]:
                shared.value = self._mint_token()
            return shared.value[0]

    def search_page(self, query: BrowseQuery, offset: int = 0) -> SearchPage:
        params = search_params(query, offset)
        return parse_search_page(self._browse(params), offset, query.limit)

    def search(self, query: BrowseQuery, max_items: int | None = None) -> list[ItemSummary]:
        """Every listing for `query`, page by page until `next` is absent or 10,000 are read."""
        items: list[ItemSummary] = []
        offset = 0
        while True:
            page = self.search_page(query, offset)
            items.extend(page.items)
            if max_items is not None and len(items) >= max_items:
                return items[:max_items]
            offset += query.limit
            if not page.has_next or not page.items or offset + query.limit > MAX_RESULTS:
                return items

    def rate_limit(self) -> RateLimit | None:
        """Browse's calls for the day by eBay's count (Developer Analytics `getRateLimits`); None if the
        reply names no rate for the `buy.browse` resource."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        payload = self._analytics.call("GET", f"{self.base_url}{RATE_LIMIT_ENDPOINT}", RATE_LIMIT_ENDPOINT,
                                  params={"api_context": "buy", "api_name": "Browse"}, headers=headers,
                                  check=check_reply)
        return parse_rate_limit(payload)

    def _mint_token(self) -> tuple[str, float]:
        payload = self._http.call(
            "POST",
            f"{self.base_url}{TOKEN_ENDPOINT}",
            TOKEN_ENDPOINT,
            auth=self._credentials,
            data={"grant_type": "client_credentials", "scope": SCOPE},
            check=check_reply,
        )
        reply = parse(EbayTokenJson, payload, service=SERVICE, endpoint=TOKEN_ENDPOINT, record="token reply")
        token, expires_in = reply.access_token, reply.expires_in
        margin = min(self._token_margin_s, expires_in / 10)
        log.info("ebay: new application token, valid for %d s", expires_in)
        return token, self._clock() + expires_in - margin

    def _drop_token(self, token: str) -> None:
        shared = self._app_token
        with shared.lock:
            if shared.value is not None and shared.value[0] == token:  # not one another client minted since
                shared.value = None

    def _browse(self, params: dict[str, str]) -> Any:
        token = self.token()
        try:
            return self._search(params, token)
        except AuthError as exc:
            if exc.status != 401:
                raise
            log.info("ebay: token refused (%s); minting a new one and retrying once", exc.reason)
            self._drop_token(token)
            return self._search(params, self.token())

    def _search(self, params: dict[str, str], token: str) -> Any:
        headers = {"Authorization": f"Bearer {token}", "X-EBAY-C-MARKETPLACE-ID": self.marketplace_id}
        url = f"{self.base_url}{SEARCH_ENDPOINT}"
        return self._http.call("GET", url, SEARCH_ENDPOINT, params=params, headers=headers, check=check_reply)
