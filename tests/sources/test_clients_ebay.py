"""The eBay client against the sandbox, over a real socket: token, Browse search, paging, expiry."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from pipeline.quality.condition import browse_condition_ids, condition_of_listing
from pipeline.sources.ebay import (
    MAX_RESULTS,
    ApplicationToken,
    BrowseQuery,
    EbayClient,
    SearchPage,
)
from pipeline.sources.errors import AuthError, PermanentSourceError
from sandbox import SandboxServer
from tests.sources.clients_support import ebay_client, requests_to

TOKEN = "/identity/v1/oauth2/token"
SEARCH = "/item_summary/search"


@pytest.fixture(scope="module", autouse=True)
def warm_listings(sandbox: SandboxServer) -> None:
    """The sandbox builds a day's listings on the first search; keep that out of the timed tests."""
    ebay_client(sandbox, timeout_s=30.0).search_page(BrowseQuery("lego", limit=1))


def test_token_is_minted_once_and_reused(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox)
    for q in ("lego star wars", "lego castle", "lego ninjago"):
        client.search_page(BrowseQuery(q, limit=5))
    assert requests_to(sandbox, "ebay", TOKEN) == 1
    assert requests_to(sandbox, "ebay", SEARCH) == 3


def test_token_is_minted_again_shortly_before_it_expires(sandbox: SandboxServer) -> None:
    now = [1000.0]
    client = ebay_client(sandbox, clock=lambda: now[0])
    first = client.token()
    now[0] += 7200 - 301  # the margin is five minutes
    assert client.token() == first
    now[0] += 2
    assert client.token() != first
    assert requests_to(sandbox, "ebay", TOKEN) == 2


def test_clients_sharing_a_token_mint_once_and_replace_a_refused_token_once(sandbox: SandboxServer) -> None:
    """One client per thread, one application token for all of them."""
    shared = ApplicationToken()
    clients = [ebay_client(sandbox, token=shared) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: c.search_page(BrowseQuery("lego castle", limit=5)), clients))
    assert (requests_to(sandbox, "ebay", TOKEN), requests_to(sandbox, "ebay", SEARCH)) == (1, 4)
    first = clients[0].token()
    sandbox.inject("ebay", "expire_token", count=1, path_contains="search")
    clients[1].search_page(BrowseQuery("lego castle", limit=5))  # refused, minted anew, retried
    assert clients[0].token() == clients[3].token() != first  # the others take the new token
    for client in clients:
        client.search_page(BrowseQuery("lego castle", limit=5))
    assert requests_to(sandbox, "ebay", TOKEN) == 2
    assert ebay_client(sandbox).token() not in (first, shared.value and shared.value[0])  # unshared: its own


def test_bad_credentials_are_a_permanent_auth_error_without_retries(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox, client_secret="not-the-secret")
    with pytest.raises(AuthError, match="invalid_client: client authentication failed"):
        client.search(BrowseQuery("lego"))
    assert (requests_to(sandbox, "ebay", TOKEN), requests_to(sandbox, "ebay", SEARCH)) == (1, 0)


def test_search_pages_by_offset_to_the_end(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox)
    query = BrowseQuery("lego star wars", limit=200)
    total = client.search_page(query).total
    assert total is not None and 400 < total < MAX_RESULTS
    items = client.search(query)
    assert len(items) == total and len({item.item_id for item in items}) == total
    assert requests_to(sandbox, "ebay", SEARCH) == 1 + math.ceil(total / 200)


def test_search_stops_at_max_items(sandbox: SandboxServer) -> None:
    items = ebay_client(sandbox).search(BrowseQuery("lego", limit=50), max_items=120)
    assert len(items) == 120
    assert requests_to(sandbox, "ebay", SEARCH) == 3


def test_token_expiring_mid_run_is_refreshed_once_and_the_run_completes(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox)
    query = BrowseQuery("lego star wars", limit=100)
    expected = [item.item_id for item in client.search(query)]
    tokens, searches = requests_to(sandbox, "ebay", TOKEN), requests_to(sandbox, "ebay", SEARCH)
    sandbox.inject("ebay", "expire_token", count=1, path_contains="offset=300")
    assert [item.item_id for item in client.search(query)] == expected
    assert requests_to(sandbox, "ebay", TOKEN) - tokens == 1
    assert requests_to(sandbox, "ebay", SEARCH) - searches == math.ceil(len(expected) / 100) + 1


def test_token_refused_twice_is_permanent(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox)
    client.token()
    sandbox.inject("ebay", "expire_token", count=None, path_contains="search")
    with pytest.raises(AuthError, match="error 1001"):
        client.search_page(BrowseQuery("lego"))
    assert (requests_to(sandbox, "ebay", TOKEN), requests_to(sandbox, "ebay", SEARCH)) == (2, 2)


def test_listings_are_typed_and_in_the_marketplace_currency(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox, marketplace_id="EBAY_GB")
    items = client.search(BrowseQuery("lego star wars", category_id="19001", limit=200), max_items=200)
    assert {item.price.currency for item in items} == {"GBP"}
    assert all(isinstance(item.price.value, Decimal) and item.item_id.startswith("v1|") for item in items)
    assert all(item.item_creation_date is not None and item.item_creation_date.tzinfo for item in items)
    assert {"AUCTION", "FIXED_PRICE"} <= {option for item in items for option in item.buying_options}
    auctions = [item for item in items if "AUCTION" in item.buying_options]
    assert all(item.item_end_date is not None and item.bid_count is not None for item in auctions)
    assert all("19001" in item.category_ids for item in items)


@pytest.mark.parametrize("condition", ["NEW", "USED"])
def test_condition_filter(sandbox: SandboxServer, condition: Any) -> None:
    query = BrowseQuery("lego", condition_ids=browse_condition_ids(condition), limit=200)
    items = ebay_client(sandbox).search(query, max_items=400)
    assert items and {condition_of_listing(item.condition_id) for item in items} == {condition}


def test_price_filter_sends_its_currency(sandbox: SandboxServer) -> None:
    query = BrowseQuery("lego", price_min=Decimal("2"), price_max=Decimal("6.50"), price_currency="USD", limit=200)
    items = ebay_client(sandbox).search(query, max_items=400)
    assert items and all(Decimal("2") <= item.price.value <= Decimal("6.50") for item in items)


def test_fixed_price_only_when_asked(sandbox: SandboxServer) -> None:
    items = ebay_client(sandbox).search(BrowseQuery("lego", buying_options=("FIXED_PRICE",)), max_items=400)
    assert items and all("FIXED_PRICE" in item.buying_options for item in items)


def test_paging_stops_at_the_ten_thousand_cap() -> None:
    class EndlessResults(EbayClient):
        offsets: ClassVar[list[int]] = []

        def search_page(self, query: BrowseQuery, offset: int = 0) -> SearchPage:
            self.offsets.append(offset)
            item = None  # pages are counted, not read
            return SearchPage(None, offset, query.limit, (item,) * query.limit, has_next=True)  # type: ignore[arg-type]

    client = EndlessResults("http://127.0.0.1:9", "id", "secret")
    assert len(client.search(BrowseQuery("lego", limit=200))) == MAX_RESULTS
    assert client.offsets == list(range(0, MAX_RESULTS, 200))
    client.offsets.clear()
    assert len(client.search(BrowseQuery("lego", limit=150))) == 66 * 150
    assert client.offsets[-1] + 150 <= MAX_RESULTS


def test_an_offset_ebay_refuses_is_refused_before_sending(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="multiple of limit"):
        ebay_client(sandbox).search_page(BrowseQuery("lego", limit=50), offset=75)
    assert requests_to(sandbox, "ebay") == 0


def test_a_bad_request_is_permanent_and_names_the_error(sandbox: SandboxServer) -> None:
    client = ebay_client(sandbox)
    with pytest.raises(PermanentSourceError, match=r"error 12005"):
        client._browse({"q": "lego", "filter": "price:[1..2", "limit": "10", "offset": "0"})
    assert requests_to(sandbox, "ebay", SEARCH) == 1


def test_the_days_usage_by_ebays_count_tells_a_spent_quota_from_a_rate_limit(make_sandbox: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from actors.quotas import QuotaState, deferral_for
    from pipeline.errors import Deferred
    from pipeline.sources.errors import RateLimited

    server = make_sandbox(ebay_daily_limit=3)
    client = ebay_client(server)
    assert (client.rate_limit().limit, client.rate_limit().remaining) == (3, 3)  # asking spends nothing
    for _ in range(3):
        client.search_page(BrowseQuery("lego castle", limit=5))
    with pytest.raises(RateLimited, match="error 2001"):
        client.search_page(BrowseQuery("lego castle", limit=5))
    rate = client.rate_limit()
    now = datetime.now(UTC)
    assert rate is not None and rate.remaining == 0 and rate.reset is not None
    assert now < rate.reset <= now + timedelta(days=1)
    deferral = deferral_for(RateLimited("ebay", "search", "error 2001", status=429), now,
                            QuotaState(rate.limit, rate.remaining, rate.reset, "eBay's count"))
    assert isinstance(deferral, Deferred) and 0 < deferral.delay_s <= (rate.reset - now).total_seconds() + 60
