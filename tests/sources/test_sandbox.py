"""The sandbox itself, over a real socket with plain requests, held to API_REFERENCE.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from sandbox import SANDBOX_CREDENTIALS as CREDS
from sandbox import SandboxServer, catalog, listings_for

DAY = date(2025, 6, 1)
DAY_HEADER = {"X-Sandbox-Date": DAY.isoformat()}
CAT = catalog(42)


# ---- the callers a client would be, written from the reference -------------------------------------

def brickset(sandbox: SandboxServer, method: str, *, post: bool = True, **fields: Any) -> dict[str, Any]:
    fields.setdefault("apiKey", CREDS["brickset_api_key"])
    for name in ("params",):
        if isinstance(fields.get(name), dict):
            fields[name] = json.dumps(fields[name])
    url = f"{sandbox.url}/brickset/api/v3.asmx/{method}"
    response = requests.post(url, data=fields, timeout=10) if post else requests.get(url, params=fields, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def login(sandbox: SandboxServer) -> str:
    return brickset(sandbox, "login", username=CREDS["brickset_username"], password=CREDS["brickset_password"])["hash"]


def rebrickable(url: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params, headers={"Authorization": f"key {CREDS['rebrickable_api_key']}"},
                        timeout=10)


def rebrickable_all(sandbox: SandboxServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every result, following `next` to the end."""
    url: str | None = f"{sandbox.url}/rebrickable/api/v3{path}"
    found: list[dict[str, Any]] = []
    count = None
    while url:
        body = rebrickable(url, **params).json()
        params = {}  # the next URL carries the query
        count = body["count"] if count is None else count
        assert body["count"] == count
        found += body["results"]
        url = body["next"]
        if url:
            assert url.startswith(f"{sandbox.url}/rebrickable/api/v3/")
    assert len(found) == count
    return found


def ebay_token(sandbox: SandboxServer) -> str:
    response = requests.post(f"{sandbox.url}/ebay/identity/v1/oauth2/token",
                             auth=(CREDS["ebay_client_id"], CREDS["ebay_client_secret"]),
                             data={"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"},
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def ebay_search(sandbox: SandboxServer, token: str, marketplace: str | None = None, day: date = DAY,
                **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "X-Sandbox-Date": day.isoformat()}
    if marketplace:
        headers["X-EBAY-C-MARKETPLACE-ID"] = marketplace
    return requests.get(f"{sandbox.url}/ebay/buy/browse/v1/item_summary/search", params=params, headers=headers,
                        timeout=10)


def ebay_all(sandbox: SandboxServer, token: str, marketplace: str | None = None, day: date = DAY,
             **params: Any) -> list[dict[str, Any]]:
    first = ebay_search(sandbox, token, marketplace, day, **params).json()
    items, page = list(first.get("itemSummaries", [])), first
    while "next" in page:
        headers = {"Authorization": f"Bearer {token}", "X-Sandbox-Date": day.isoformat()}
        if marketplace:
            headers["X-EBAY-C-MARKETPLACE-ID"] = marketplace
        page = requests.get(page["next"], headers=headers, timeout=10).json()
        items += page.get("itemSummaries", [])
    assert len(items) == first["total"]
    return items


def oauth1_header(method: str, url: str, consumer: tuple[str, str], token: tuple[str, str],
                  nonce: str = "n0nce", timestamp: str | None = None, version: str | None = "1.0") -> str:
    """RFC 5849 §3.4 written out from the RFC, independently of the sandbox's code."""
    def enc(text: str) -> str:
        return quote(text, safe="-._~")

    parts = urlsplit(url)
    oauth = {"oauth_consumer_key": consumer[0], "oauth_token": token[0], "oauth_signature_method": "HMAC-SHA1",
             "oauth_timestamp": timestamp or str(int(time.time())), "oauth_nonce": nonce}
    if version:
        oauth["oauth_version"] = version
    pairs = sorted((enc(k), enc(v)) for k, v in [*oauth.items(), *parse_qsl(parts.query, keep_blank_values=True)])
    base = "&".join([method, enc(f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"),
                     enc("&".join(f"{k}={v}" for k, v in pairs))])
    key = f"{enc(consumer[1])}&{enc(token[1])}"
    oauth["oauth_signature"] = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
    return "OAuth " + ", ".join(f'{k}="{enc(v)}"' for k, v in oauth.items())


def test_the_test_signer_reproduces_rfc5849_example() -> None:
    header = oauth1_header("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original",
                           ("dpf43f3p2l4k3l03", "kd94hf93k423kf44"), ("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00"),
                           nonce="chapoH", timestamp="137131202", version=None)
    assert 'oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"' in header


def bricklink(sandbox: SandboxServer, path: str, consumer_secret: str | None = None,
              tamper: dict[str, str] | None = None) -> requests.Response:
    url = f"{sandbox.url}/bricklink/api/store/v1{path}"
    consumer = (CREDS["bricklink_consumer_key"], consumer_secret or CREDS["bricklink_consumer_secret"])
    header = oauth1_header("GET", url, consumer, (CREDS["bricklink_token_value"], CREDS["bricklink_token_secret"]))
    if tamper:
        url = url.replace(*next(iter(tamper.items())))
    return requests.get(url, headers={"Authorization": header, **DAY_HEADER}, timeout=10)


# ---- Brickset ----------------------------------------------------------------------------------------

def test_brickset_key_is_checked_on_get_and_post(sandbox: SandboxServer) -> None:
    assert brickset(sandbox, "checkKey") == {"status": "success"}
    assert brickset(sandbox, "checkKey", post=False) == {"status": "success"}
    assert brickset(sandbox, "getThemes", apiKey="nope") == {"status": "error", "message": "Invalid API key"}


def test_brickset_login_and_user_hash(sandbox: SandboxServer) -> None:
    user_hash = login(sandbox)
    assert brickset(sandbox, "checkUserHash", userHash=user_hash) == {"status": "success"}
    assert brickset(sandbox, "checkUserHash", userHash="stale")["message"] == "Invalid user hash"
    wrong = brickset(sandbox, "login", username=CREDS["brickset_username"], password="s3cret sandbox")
    assert wrong == {"status": "error", "message": "Invalid username or password"}


def test_brickset_get_sets_pages_through_matches(sandbox: SandboxServer) -> None:
    expected = {s.set_num for s in CAT.sets if s.theme_id in (158, 171) and s.year in (1999, 2000, 2001)}
    seen: list[str] = []
    for page in range(1, 10):
        body = brickset(sandbox, "getSets", userHash="",
                        params={"theme": "Star Wars", "year": "1999,2000,2001", "pageSize": 2, "pageNumber": page})
        assert body["status"] == "success" and body["matches"] == len(expected)
        seen += [f"{s['number']}-{s['numberVariant']}" for s in body["sets"]]
        if len(body["sets"]) < 2:
            break
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_brickset_set_records_and_filters(sandbox: SandboxServer) -> None:
    target = next(s for s in CAT.sets if CAT.inventory_of(s.set_num))
    body = brickset(sandbox, "getSets", userHash="", params=f'{{setNumber:"{target.set_num}"}}')  # relaxed JSON
    record = body["sets"][0]
    assert body["matches"] == 1 and record["setID"] == target.set_id and record["year"] == target.year
    assert record["minifigs"] == sum(r.quantity for r in CAT.inventory_of(target.set_num))
    assert {"LEGOCom", "collection", "collections", "bricksetURL", "lastUpdated"} <= set(record)
    bare = next(s for s in CAT.sets if not CAT.inventory_of(s.set_num))
    assert "minifigs" not in brickset(sandbox, "getSets", params={"setNumber": bare.set_num})["sets"][0]
    big = brickset(sandbox, "getSets", params={"pageSize": 10000})
    assert big["matches"] == len(CAT.sets) and len(big["sets"]) == min(500, len(CAT.sets))
    assert len(brickset(sandbox, "getSets", params={"theme": "Castle"})["sets"]) == 20  # default page size
    newest = brickset(sandbox, "getSets", params={"orderBy": "YearFromDESC", "pageSize": 5})["sets"]
    assert [s["year"] for s in newest] == sorted((s["year"] for s in newest), reverse=True)
    assert newest[0]["year"] == max(s.year for s in CAT.sets)


def test_brickset_get_sets_daily_limit_counts_only_get_sets(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(brickset_daily_limit=3)
    for _ in range(3):
        assert brickset(server, "getSets", params={"year": "2010"})["status"] == "success"
    assert brickset(server, "getSets", params={"year": "2010"}) == {"status": "error", "message": "API limit exceeded"}
    assert brickset(server, "getThemes")["status"] == "success"
    collection = brickset(server, "getMinifigCollection", userHash=login(server), params={"query": "cty"})
    assert collection["status"] == "success"
    usage = brickset(server, "getKeyUsageStats")
    assert usage["apiKeyUsage"][0]["count"] == 4 and usage["apiKeyUsage"][0]["dateStamp"].endswith("T00:00:00Z")
    server.reset()
    assert brickset(server, "getSets", params={"year": "2010"})["status"] == "success"


def test_brickset_minifig_collection(sandbox: SandboxServer) -> None:
    assert brickset(sandbox, "getMinifigCollection", userHash="", params={})["message"] == "Invalid user hash"
    user_hash = login(sandbox)
    searched = brickset(sandbox, "getMinifigCollection", userHash=user_hash, params={"query": "njo00"})
    expected = sorted(f.number for f in CAT.minifigs if "njo00" in f.number)
    assert [m["minifigNumber"] for m in searched["minifigs"]] == expected and searched["matches"] == len(expected)
    record = searched["minifigs"][0]
    assert set(record) == {"minifigNumber", "name", "category", "ownedInSets", "ownedLoose", "ownedTotal", "wanted"}
    assert record["category"].startswith("Ninjago")
    owned = brickset(sandbox, "getMinifigCollection", userHash=user_hash, params={})["minifigs"]
    assert owned and all(m["ownedTotal"] == m["ownedInSets"] + m["ownedLoose"] > 0 for m in owned)
    assert len(owned) < len(CAT.minifigs)


def test_brickset_themes_subthemes_years(sandbox: SandboxServer) -> None:
    themes = {t["theme"]: t for t in brickset(sandbox, "getThemes")["themes"]}
    assert {"Star Wars", "Collectable Minifigures", "Ninjago", "Castle", "City", "Harry Potter"} <= set(themes)
    subthemes = brickset(sandbox, "getSubthemes", Theme="Star Wars")["subthemes"]
    assert "Ultimate Collector Series" in {s["subtheme"] for s in subthemes}
    years = brickset(sandbox, "getYears", theme="Castle")["years"]
    assert years[0] == {"theme": "Castle", "year": "1999", "setCount": years[0]["setCount"]}
    unknown = requests.get(f"{sandbox.url}/brickset/api/v3.asmx/getWhatever", timeout=10)
    assert unknown.status_code == 500


# ---- Rebrickable -------------------------------------------------------------------------------------

def test_rebrickable_auth(sandbox: SandboxServer) -> None:
    base = f"{sandbox.url}/rebrickable/api/v3/lego/themes/"
    assert rebrickable(base).status_code == 200
    assert requests.get(base, params={"key": CREDS["rebrickable_api_key"]}, timeout=10).status_code == 200
    wrong = requests.get(base, headers={"Authorization": "key wrong"}, timeout=10)
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid token."})
    assert requests.get(base, timeout=10).status_code == 401


def test_rebrickable_minifigs_by_theme_include_child_themes(sandbox: SandboxServer) -> None:
    star_wars = rebrickable_all(sandbox, "/lego/minifigs/", in_theme_id=158, page_size=7)
    ucs = rebrickable_all(sandbox, "/lego/minifigs/", in_theme_id=171, page_size=7)
    assert {f["set_num"] for f in star_wars} == {f.fig_num for f in CAT.figures_in_theme(158)}
    assert ucs and {f["set_num"] for f in ucs} < {f["set_num"] for f in star_wars}
    for fig in star_wars:
        assert re.fullmatch(r"fig-\d{6}", fig["set_num"]) and "external_ids" not in fig
        assert set(fig) == {"set_num", "name", "num_parts", "set_img_url", "set_url", "last_modified_dt"}


def test_rebrickable_sets_by_year_then_their_figures(sandbox: SandboxServer) -> None:
    sets = rebrickable_all(sandbox, "/lego/sets/", theme_id=158, min_year=2005, max_year=2005)
    assert sets and all(s["year"] == 2005 and s["theme_id"] in (158, 171) for s in sets)
    for lego_set in sets:
        inventory = rebrickable_all(sandbox, f"/lego/sets/{lego_set['set_num']}/minifigs/")
        assert [(m["set_num"], m["quantity"]) for m in inventory] == [
            (row.fig_num, row.quantity) for row in CAT.inventory_of(lego_set["set_num"])]
        for row in inventory:
            fig = rebrickable(f"{sandbox.url}/rebrickable/api/v3/lego/minifigs/{row['set_num']}/").json()
            assert fig["name"] == row["set_name"]
            appearances = rebrickable_all(sandbox, f"/lego/minifigs/{row['set_num']}/sets/")
            assert lego_set["set_num"] in {s["set_num"] for s in appearances}


def test_rebrickable_paging_envelope(sandbox: SandboxServer) -> None:
    base = f"{sandbox.url}/rebrickable/api/v3/lego/minifigs/"
    first = rebrickable(base).json()
    assert first["count"] == len(CAT.minifigs) and len(first["results"]) == 100 and first["previous"] is None
    assert first["next"] == f"{base}?page=2"
    second = rebrickable(first["next"], ordering="-name").json()
    assert second["previous"] == f"{base}?ordering=-name"
    last = rebrickable(base, page="last", page_size=50).json()
    assert last["next"] is None and len(last["results"]) == (len(CAT.minifigs) % 50 or 50)
    assert rebrickable(base, page=99).json() == {"detail": "Invalid page."}
    named = rebrickable(base, ordering="name", page_size=1000).json()["results"]
    assert [f["name"] for f in named] == sorted(f.name for f in CAT.minifigs)


def test_rebrickable_errors_and_trailing_slash(sandbox: SandboxServer) -> None:
    root = f"{sandbox.url}/rebrickable/api/v3"
    assert (rebrickable(f"{root}/lego/sets/0000-9/").status_code, rebrickable(f"{root}/lego/sets/0000-9/").json()) \
        == (404, {"detail": "Not found."})
    assert rebrickable(f"{root}/lego/minifigs/fig-999999/").status_code == 404
    assert rebrickable(f"{root}/lego/sets/", theme_id="abc").status_code == 400
    moved = requests.get(f"{root}/lego/themes/158", allow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"] == f"{root}/lego/themes/158/"
    assert rebrickable(f"{root}/lego/themes/171").json() == {"id": 171, "parent_id": 158,
                                                             "name": "Ultimate Collector Series"}


def test_rebrickable_token_bucket(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(rebrickable_rate=(2.0, 3))
    url = f"{server.url}/rebrickable/api/v3/lego/themes/"
    assert [rebrickable(url).status_code for _ in range(3)] == [200, 200, 200]
    throttled = rebrickable(url)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert re.fullmatch(r"Request was throttled\. Expected available in \d+ seconds?\.", throttled.json()["detail"])
    time.sleep(0.6)
    assert rebrickable(url).status_code == 200
    unthrottled = make_sandbox(rebrickable_rate=None)
    assert {rebrickable(f"{unthrottled.url}/rebrickable/api/v3/lego/themes/").status_code for _ in range(80)} == {200}


# ---- eBay --------------------------------------------------------------------------------------------

def test_ebay_token_endpoint(sandbox: SandboxServer) -> None:
    url = f"{sandbox.url}/ebay/identity/v1/oauth2/token"
    good = requests.post(url, auth=(CREDS["ebay_client_id"], CREDS["ebay_client_secret"]),
                         data={"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"},
                         timeout=10).json()
    assert good["expires_in"] == 7200 and good["token_type"] == "Application Access Token" and good["access_token"]
    bad = requests.post(url, auth=(CREDS["ebay_client_id"], "wrong"),
                        data={"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"},
                        timeout=10)
    assert (bad.status_code, bad.json()) == (401, {"error": "invalid_client",
                                                   "error_description": "client authentication failed"})


def test_ebay_search_needs_a_live_token(sandbox: SandboxServer) -> None:
    for token in ("", "not-a-token"):
        response = ebay_search(sandbox, token, q="lego")
        assert response.status_code == 401 and response.json()["errors"][0]["errorId"] == 1001


def test_ebay_search_by_number_finds_the_figures_listings(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    fig = CAT.minifig_by_number["sw0001a"]
    found = ebay_all(sandbox, token, q=fig.number, limit=5, filter="buyingOptions:{FIXED_PRICE|AUCTION}")
    assert all(fig.number in re.findall(r"[a-z0-9]+", item["title"].lower()) for item in found)
    oracle = {x.item_id for x in listings_for(fig, DAY) if fig.number in x.title.lower().split()}
    assert oracle and oracle <= {item["legacyItemId"] for item in found}


def test_ebay_search_keywords_and_or_groups(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    one = {i["itemId"] for i in ebay_all(sandbox, token, q="lego stormtrooper", limit=200)}
    other = {i["itemId"] for i in ebay_all(sandbox, token, q="lego yoda", limit=200)}
    both = {i["itemId"] for i in ebay_all(sandbox, token, q="lego (stormtrooper, yoda)", limit=200)}
    assert one and other and both == one | other
    assert "itemSummaries" not in ebay_search(sandbox, token, q="zzqx nothing").json()


def test_ebay_buying_options_default_to_fixed_price(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    default = ebay_all(sandbox, token, q="lego minifigure", limit=200)
    assert default and all("FIXED_PRICE" in i["buyingOptions"] for i in default)
    auctions = ebay_all(sandbox, token, q="lego minifigure", limit=200, filter="buyingOptions:{AUCTION}")
    assert auctions and all(i["buyingOptions"] == ["AUCTION"] for i in auctions)
    assert all(isinstance(i["bidCount"], int) and i["currentBidPrice"]["value"] == i["price"]["value"]
               for i in auctions)
    assert all("currentBidPrice" not in i and "bidCount" not in i for i in default)


def test_ebay_paging_and_offset_rules(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    items = ebay_all(sandbox, token, q="lego star wars", limit=25)
    assert len({i["itemId"] for i in items}) == len(items) > 50
    first = ebay_search(sandbox, token, q="lego star wars", limit=25).json()
    assert first["limit"] == 25 and first["offset"] == 0 and "prev" not in first
    assert first["next"].startswith(f"{sandbox.url}/ebay/buy/browse/v1/item_summary/search?")
    assert "offset=25" in first["next"]
    for params in ({"limit": 10, "offset": 5}, {"limit": 200, "offset": 9900}):
        bad = ebay_search(sandbox, token, q="lego", **params)
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["message"] == ("The 'offset' value must be either zero or a multiple of "
                                                      "the 'limit' value")
    for limit in (0, 201, "x"):
        assert ebay_search(sandbox, token, q="lego", limit=limit).status_code == 400
    assert ebay_search(sandbox, token, q="lego", limit=200, offset=9800).status_code == 200
    assert ebay_search(sandbox, token).status_code == 400  # neither q nor category_ids


def test_ebay_item_fields(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    items = ebay_all(sandbox, token, q="lego", category_ids="19001", limit=200,
                     filter="buyingOptions:{FIXED_PRICE|AUCTION}")
    assert items and all(i["leafCategoryIds"] == ["19001"] for i in items)
    for item in items:
        assert isinstance(item["price"]["value"], str) and Decimal(item["price"]["value"]) > 0
        assert item["price"]["currency"] == "USD" and isinstance(item["conditionId"], str)
        assert item["itemId"] == f"v1|{item['legacyItemId']}|0" and item["itemWebUrl"].startswith("https://www.ebay.com/itm/")
        assert {"seller", "itemCreationDate", "itemOriginDate", "condition", "title"} <= set(item)
        assert len(item["title"]) <= 80
    shipping = [o["shippingCostType"] for i in items for o in i.get("shippingOptions", [])]
    assert {"FIXED", "CALCULATED"} <= set(shipping)
    assert any(o["shippingCost"]["value"] == "0.00" for i in items for o in i.get("shippingOptions", []))
    assert {i["conditionId"] for i in items} >= {"1000", "1500", "3000", "7000"}
    item = requests.get(items[0]["itemHref"], headers={"Authorization": f"Bearer {token}", **DAY_HEADER}, timeout=10)
    assert item.status_code == 200 and item.json()["title"] == items[0]["title"]
    titles = " ".join(i["title"].lower() for i in items)
    for word in ("lot", "custom", "torso", "compatible"):
        assert word in titles


def test_ebay_filters(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    new = ebay_all(sandbox, token, q="lego", limit=200, filter="conditionIds:{1000|1500}")
    assert new and {i["conditionId"] for i in new} == {"1000", "1500"}
    cheap = ebay_all(sandbox, token, q="lego", limit=200, filter="price:[5..10],priceCurrency:USD")
    assert cheap and all(Decimal("5") <= Decimal(i["price"]["value"]) <= Decimal("10") for i in cheap)
    by_price = ebay_search(sandbox, token, q="lego", limit=50, sort="price").json()["itemSummaries"]
    totals = [Decimal(i["price"]["value"])
              + sum(Decimal(o["shippingCost"]["value"]) for o in i.get("shippingOptions", [])) for i in by_price]
    assert totals == sorted(totals)
    assert ebay_search(sandbox, token, q="lego", filter="price:[5..").status_code == 400


def test_ebay_marketplace_sets_currency(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    items = ebay_all(sandbox, token, "EBAY_GB", q="lego", limit=200)
    assert {i["price"]["currency"] for i in items} == {"GBP"}
    converted = [i for i in items if "convertedFromCurrency" in i["price"]]
    assert converted and {i["price"]["convertedFromCurrency"] for i in converted} <= {"USD", "EUR"}
    assert all(i["listingMarketplaceId"] != "EBAY_GB" for i in converted)
    euro = ebay_search(sandbox, token, "EBAY_DE", q="lego").json()["itemSummaries"]
    assert {i["price"]["currency"] for i in euro} == {"EUR"}
    nowhere = ebay_search(sandbox, token, "EBAY_NOWHERE", q="lego").json()["itemSummaries"]
    assert nowhere[0]["price"]["currency"] == "USD"


def test_ebay_listings_drift_day_to_day(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    today = {i["itemId"]: i for i in ebay_all(sandbox, token, q="lego ninjago", limit=200)}
    again = {i["itemId"]: i for i in ebay_all(sandbox, token, q="lego ninjago", limit=200)}
    assert today == again
    next_day = ebay_all(sandbox, token, day=DAY + timedelta(days=1), q="lego ninjago", limit=200)
    tomorrow = {i["itemId"]: i for i in next_day}
    kept = today.keys() & tomorrow.keys()
    assert 0.8 * len(today) < len(kept) < len(today)
    assert any(today[k]["price"] != tomorrow[k]["price"] for k in kept)


def test_ebay_daily_call_quota(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(ebay_daily_limit=2)
    token = ebay_token(server)
    assert [ebay_search(server, token, q="lego").status_code for _ in range(2)] == [200, 200]
    exhausted = ebay_search(server, token, q="lego")
    assert exhausted.status_code == 429 and exhausted.json()["errors"][0]["errorId"] == 2001
    assert ebay_search(server, token, day=DAY + timedelta(days=1), q="lego").status_code == 200


# ---- BrickLink ---------------------------------------------------------------------------------------

def test_bricklink_price_guide(sandbox: SandboxServer) -> None:
    sold = bricklink(sandbox, "/items/MINIFIG/sw0001a/price?guide_type=sold&new_or_used=U&currency_code=GBP")
    body = sold.json()
    assert sold.status_code == 200 and body["meta"] == {"description": "OK", "message": "OK", "code": 200}
    data = body["data"]
    assert data["item"] == {"no": "sw0001a", "type": "MINIFIG"} and data["currency_code"] == "GBP"
    assert data["new_or_used"] == "U" and data["price_detail"]
    for name in ("min_price", "max_price", "avg_price", "qty_avg_price"):
        assert re.fullmatch(r"\d+\.\d{4}", data[name])
    for row in data["price_detail"]:
        assert row["qunatity"] == row["quantity"] and re.fullmatch(r"\d+\.\d{4}", row["unit_price"])
        assert DAY - timedelta(days=181) < date.fromisoformat(row["date_ordered"][:10]) <= DAY
    assert data["total_quantity"] == sum(r["quantity"] for r in data["price_detail"])
    stock = bricklink(sandbox, "/items/MINIFIG/sw0001a/price").json()["data"]
    assert stock["new_or_used"] == "N" and all(set(r) == {"quantity", "unit_price", "shipping_available"}
                                               for r in stock["price_detail"])


def test_bricklink_item_and_unknown_ids(sandbox: SandboxServer) -> None:
    fig = CAT.minifig_by_number["njo0001"]
    item = bricklink(sandbox, f"/items/MINIFIG/{fig.number}").json()["data"]
    assert (item["no"], item["name"], item["year_released"]) == (fig.number, fig.name, fig.year)
    missing = bricklink(sandbox, "/items/MINIFIG/sw9999z/price")
    assert missing.status_code == 404 and missing.json()["meta"]["message"] == "RESOURCE_NOT_FOUND"


def test_bricklink_rejects_bad_signatures(sandbox: SandboxServer) -> None:
    wrong_secret = bricklink(sandbox, "/items/MINIFIG/sw0001a/price", consumer_secret="guess")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["meta"]["message"] == "BAD_OAUTH_REQUEST"
    assert wrong_secret.json()["meta"]["code"] == 401
    tampered = bricklink(sandbox, "/items/MINIFIG/sw0001a/price?guide_type=stock", tamper={"stock": "sold"})
    assert tampered.status_code == 401
    unsigned = requests.get(f"{sandbox.url}/bricklink/api/store/v1/items/MINIFIG/sw0001a/price", timeout=10)
    assert unsigned.status_code == 401


# ---- faults, stats, reset ----------------------------------------------------------------------------

def _call(sandbox: SandboxServer, service: str, token: str) -> requests.Response:
    if service == "brickset":
        return requests.post(f"{sandbox.url}/brickset/api/v3.asmx/checkKey", data={"apiKey": CREDS["brickset_api_key"]},
                             timeout=10)
    if service == "rebrickable":
        return rebrickable(f"{sandbox.url}/rebrickable/api/v3/lego/themes/")
    if service == "ebay":
        return ebay_search(sandbox, token, q="lego yoda")
    return bricklink(sandbox, "/items/MINIFIG/sw0001a")


ENVELOPES: dict[str, Callable[[Any, int], bool]] = {
    "brickset": lambda body, status: body["status"] == "error" and bool(body["message"]),
    "rebrickable": lambda body, status: bool(body["detail"]),
    "ebay": lambda body, status: body["errors"][0]["errorId"] == (2001 if status == 429 else 12000),
    "bricklink": lambda body, status: body["meta"]["code"] == status,
}


@pytest.mark.parametrize("service", sorted(ENVELOPES))
@pytest.mark.parametrize("kind", ["429", "429_retry_after", "500", "503"])
def test_error_faults_use_each_service_envelope(sandbox: SandboxServer, service: str, kind: str) -> None:
    token = ebay_token(sandbox)
    sandbox.inject(service, kind)
    faulted = _call(sandbox, service, token)
    status = int(kind[:3])
    assert faulted.status_code == status and ENVELOPES[service](faulted.json(), status)
    assert faulted.headers.get("Retry-After") == ("1" if kind == "429_retry_after" else None)
    if service == "rebrickable" and kind == "429_retry_after":
        assert faulted.json()["detail"] == "Request was throttled. Expected available in 1 second."
    assert _call(sandbox, service, token).status_code == 200  # count defaults to one


@pytest.mark.parametrize("service", sorted(ENVELOPES))
def test_body_faults(sandbox: SandboxServer, service: str) -> None:
    token = ebay_token(sandbox)
    normal = _call(sandbox, service, token)
    sandbox.inject(service, "html_503")
    page = _call(sandbox, service, token)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html") and "nginx" in page.text
    sandbox.inject(service, "truncated")
    cut = _call(sandbox, service, token)
    assert cut.status_code == 200 and cut.headers["Content-Type"] == "application/json"
    assert normal.text.startswith(cut.text) and len(cut.content) == len(normal.content) // 2
    with pytest.raises(ValueError):
        json.loads(cut.text)
    sandbox.inject(service, "not_json")
    html = _call(sandbox, service, token)
    assert html.status_code == 200 and not html.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        html.json()
    sandbox.inject(service, "slow", delay_s=0.3)
    started = time.monotonic()
    assert _call(sandbox, service, token).status_code == 200 and time.monotonic() - started >= 0.3


def test_expire_token_and_api_limit_faults(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    sandbox.inject("ebay", "expire_token")
    expired = ebay_search(sandbox, token, q="lego")
    assert expired.status_code == 401 and expired.json()["errors"][0]["errorId"] == 1001
    assert ebay_search(sandbox, ebay_token(sandbox), q="lego").status_code == 200
    sandbox.inject("brickset", "api_limit", path_contains="getSets")
    assert brickset(sandbox, "getThemes")["status"] == "success"
    assert brickset(sandbox, "getSets", params={"year": 2001}) == {"status": "error", "message": "API limit exceeded"}
    with pytest.raises(ValueError):
        sandbox.inject("rebrickable", "expire_token")


def test_faults_over_http_with_count_scope_and_clearing(sandbox: SandboxServer) -> None:
    control = f"{sandbox.url}/_sandbox/faults"
    armed = requests.post(control, json={"service": "*", "kind": "500", "count": None, "path_contains": "themes"},
                          timeout=10)
    assert armed.status_code == 201
    assert _call(sandbox, "rebrickable", "").status_code == 500
    assert _call(sandbox, "rebrickable", "").status_code == 500
    assert _call(sandbox, "brickset", "").status_code == 200  # path does not contain "themes"
    assert requests.delete(control, timeout=10).json() == {"faults": []}
    assert _call(sandbox, "rebrickable", "").status_code == 200
    requests.post(control, json={"service": "brickset", "kind": "503", "count": 2}, timeout=10)
    assert [_call(sandbox, "brickset", "").status_code for _ in range(3)] == [503, 503, 200]
    assert requests.post(control, json={"service": "nope", "kind": "500"}, timeout=10).status_code == 400
    assert requests.post(control, json={"service": "ebay", "kind": "api_limit"}, timeout=10).status_code == 400


def test_fault_probability_is_repeatable(make_sandbox: Callable[..., SandboxServer]) -> None:
    outcomes = []
    for _ in range(2):
        server = make_sandbox(seed=7)
        server.inject("rebrickable", "503", count=None, probability=0.5)
        outcomes.append([_call(server, "rebrickable", "").status_code for _ in range(30)])
    assert outcomes[0] == outcomes[1] and 5 < outcomes[0].count(503) < 25


def test_stats_and_reset(sandbox: SandboxServer) -> None:
    token = ebay_token(sandbox)
    sandbox.inject("ebay", "500")
    for _ in range(2):
        ebay_search(sandbox, token, q="lego")
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert stats["ebay"]["paths"] == {"/ebay/identity/v1/oauth2/token": 1, "/ebay/buy/browse/v1/item_summary/search": 2}
    assert stats["ebay"]["requests"] == 3 and stats["ebay"]["faults"] == 1 and stats["bricklink"]["requests"] == 0
    sandbox.inject("ebay", "500", count=None)
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=10).json() == {"reset": True}
    assert sandbox.stats()["ebay"] == {"requests": 0, "faults": 0, "early": 0, "paths": {}}
    assert ebay_search(sandbox, token, q="lego").status_code == 401  # reset forgets issued tokens
    assert ebay_search(sandbox, ebay_token(sandbox), q="lego").status_code == 200  # and the fault


def test_a_kept_alive_connection_answers_without_delay(sandbox: SandboxServer) -> None:
    """Headers and body leave at once: no 40 ms stall per request (Nagle's algorithm against a delayed ACK)."""
    with requests.Session() as http:
        http.get(f"{sandbox.url}/_sandbox", timeout=10)  # the connection, opened once and kept
        took = []
        for _ in range(20):
            started = time.perf_counter()
            assert http.get(f"{sandbox.url}/_sandbox", timeout=10).status_code == 200
            took.append(time.perf_counter() - started)
    assert sorted(took)[len(took) // 2] < 0.02, took

# ---- determinism -------------------------------------------------------------------------------------

def test_same_seed_same_answers(make_sandbox: Callable[..., SandboxServer]) -> None:
    bodies = []
    for _ in range(2):
        server = make_sandbox(seed=42)
        token = ebay_token(server)
        bodies.append([
            brickset(server, "getSets", params={"theme": "City", "pageSize": 50}),
            rebrickable(f"{server.url}/rebrickable/api/v3/lego/minifigs/", page_size=1000).json()["results"],
            ebay_search(server, token, "EBAY_DE", q="lego", limit=200).json()["itemSummaries"],
            bricklink(server, "/items/MINIFIG/sw0001a/price?guide_type=sold").json(),
        ])
    bodies[1][2] = [{**i, "itemHref": None} for i in bodies[1][2]]  # the host differs
    bodies[0][2] = [{**i, "itemHref": None} for i in bodies[0][2]]
    assert bodies[0] == bodies[1]
    assert catalog(43).minifigs != CAT.minifigs


def test_data_is_identical_across_processes() -> None:
    script = ("import hashlib, datetime, sys; from sandbox import catalog, listings_for; c = catalog(42); "
              "assert not {'dramatiq', 'periodiq', 'apscheduler'} & set(sys.modules); "
              "print(hashlib.sha256(repr((c, [listings_for(f, datetime.date(2025, 6, 1), 'EBAY_GB') "
              "for f in c.minifigs[:40]])).encode()).hexdigest())")
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    digests = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    drawn = [listings_for(f, DAY, "EBAY_GB") for f in CAT.minifigs[:40]]
    here = hashlib.sha256(repr((CAT, drawn)).encode()).hexdigest()
    assert digests == {here}


def test_catalogue_shape() -> None:
    assert 300 <= len(CAT.minifigs) <= 400
    assert CAT.theme_by_id[171].parent_id == 158
    for fig in CAT.minifigs:
        assert fig.year == min(s.year for s in CAT.sets_of(fig.fig_num))
    assert len({f.fig_num for f in CAT.minifigs}) == len({f.number for f in CAT.minifigs}) == len(CAT.minifigs)
    for prefix in ("sw", "cas", "njo", "col", "cty", "hp", "sh"):
        assert any(re.fullmatch(prefix + r"\d{3,4}[ab]?", f.number) for f in CAT.minifigs)
    everywhere = [{x.item_id for m in ("EBAY_US", "EBAY_GB", "EBAY_DE") for x in listings_for(f, DAY, m)}
                  for f in CAT.minifigs]
    assert min(map(len, everywhere)) >= 5 and max(map(len, everywhere)) <= 60


def test_command_line_serves_until_sigterm() -> None:
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--seed", "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = re.search(r"http://[\d.]+:\d+", process.stdout.readline())
        assert url, "the first line names the server's URL"
        assert requests.get(f"{url.group(0)}/_sandbox", timeout=10).json()["seed"] == 5
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
