"""BrickLink Store API v1 stand-in: the catalogue item and its price guide, behind OAuth 1.0a.

Every request must carry an HMAC-SHA1 signature made with the sandbox's four
credentials over the URL the client called (its host and port, the /bricklink
prefix and the query). Sales of the last six months are drawn week by week, so
the sold guide moves on as the day does; `vat=Y` adds 20 %, `vat=O` Norway's 25 %.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .credentials import SANDBOX_CREDENTIALS
from .data import THEME_BY_ID, Catalog, Minifig, catalog
from .listings import PER_US_DOLLAR
from .messages import Request, Response, json_response
from .oauth1 import check_request
from .service import Service

_ITEM = re.compile(r"^/items/(?P<type>[^/]+)/(?P<no>[^/]+)(?P<price>/price)?/?$")
_TYPES = frozenset({"MINIFIG", "PART", "SET", "BOOK", "GEAR", "CATALOG", "INSTRUCTION", "UNSORTED_LOT", "ORIGINAL_BOX"})
_PER_US_DOLLAR = {**PER_US_DOLLAR, "CAD": Decimal("1.36"), "AUD": Decimal("1.52"), "CHF": Decimal("0.88"),
                  "SEK": Decimal("10.4"), "PLN": Decimal("3.95")}
_VAT = {"N": Decimal("1"), "Y": Decimal("1.20"), "O": Decimal("1.25")}
_REGIONS = {"north_america": ("US", "CA"), "europe": ("GB", "DE", "NL", "FR", "PL", "SE", "NO", "CZ"),
            "eu": ("DE", "NL", "FR", "PL", "SE", "CZ"), "oceania": ("AU",), "asia": ("JP",),
            "africa": (), "south_america": (), "middle_east": ()}
_COUNTRIES = ("US", "US", "US", "GB", "GB", "DE", "DE", "NL", "FR", "PL", "SE", "NO", "CZ", "CA", "AU", "JP")
_FOUR_PLACES = Decimal("0.0001")


def _envelope(code: int, message: str, description: str, data: dict[str, Any] | None = None) -> Response:
    return json_response(code, {"meta": {"description": description, "message": message, "code": code},
                                "data": data if data is not None else {}})


class BricklinkService(Service):
    name = "bricklink"
    prefix = "/bricklink/api/store/v1"

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._catalog: Catalog = catalog(seed)

    def error(self, request: Request, status: int, retry_after: int | None) -> Response:
        message, description = {429: ("TOO_MANY_REQUESTS", "Too many requests. Slow down."),
                                500: ("INTERNAL_SERVER_ERROR", "An internal error occurred."),
                                503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable.")}[status]
        return _envelope(status, message, description)

    def handle(self, request: Request) -> Response:
        problem = check_request(request, *(SANDBOX_CREDENTIALS[f"bricklink_{name}"] for name in (
            "consumer_key", "consumer_secret", "token_value", "token_secret")))
        if problem:
            return _envelope(401, "BAD_OAUTH_REQUEST", problem)
        match = _ITEM.match(request.path)
        if match is None:
            return _envelope(400, "INVALID_URI", "The request URI is not valid.")
        if request.method != "GET":
            return _envelope(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here.")
        item_type = match["type"].upper()
        if item_type not in _TYPES:
            return _envelope(400, "PARAMETER_MISSING_OR_INVALID", f"Invalid item type: {match['type']}")
        fig = self._catalog.minifig_by_number.get(match["no"].lower()) if item_type == "MINIFIG" else None
        if fig is None:
            return _envelope(404, "RESOURCE_NOT_FOUND", "The resource you requested does not exist.")
        if not match["price"]:
            return _envelope(200, "OK", "OK", _item_record(fig))
        guide_type = (request.param("guide_type") or "stock").lower()
        condition = (request.param("new_or_used") or "N").upper()
        currency = (request.param("currency_code") or "USD").upper()
        vat = (request.param("vat") or "N").upper()
        region = (request.param("region") or "").lower()
        for name, value, allowed in (("guide_type", guide_type, ("sold", "stock")),
                                     ("new_or_used", condition, ("N", "U")),
                                     ("currency_code", currency, tuple(_PER_US_DOLLAR)), ("vat", vat, tuple(_VAT)),
                                     ("region", region, ("", *_REGIONS))):
            if value not in allowed:
                return _envelope(400, "PARAMETER_MISSING_OR_INVALID", f"Invalid parameter: {name}={value}")
        countries = _REGIONS.get(region) if region else None
        country = (request.param("country_code") or "").upper()
        if country:
            countries = (country,)
        guide = price_guide(self._seed, fig, guide_type, condition, request.day, countries)
        return _envelope(200, "OK", "OK", _guide_record(fig, guide_type, condition, currency, vat, guide))


def price_guide(seed: int, fig: Minifig, guide_type: str, condition: str, day: date,
                countries: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Price-guide rows in US dollars: sales of the last 180 days, or the lots in stock this week."""
    rows: list[dict[str, Any]] = []
    worth = fig.price_cents / 100 * (1.0 if condition == "N" else 0.65)
    if guide_type == "stock":
        rng = random.Random(f"{seed}:bricklink:{fig.number}:stock:{condition}:{day.toordinal() // 7}")
        for _ in range(rng.randint(0, 14)):
            rows.append({"quantity": rng.choice((1, 1, 1, 2, 3, 5)), "unit_price": worth * rng.lognormvariate(0.1, 0.3),
                         "shipping_available": rng.random() < 0.9, "country": rng.choice(_COUNTRIES)})
        rows.sort(key=lambda row: row["unit_price"])
    elif random.Random(f"{seed}:bricklink:{fig.number}:quiet").random() >= 0.06:
        week = day.toordinal() // 7
        for w in range(week - 26, week + 1):
            rng = random.Random(f"{seed}:bricklink:{fig.number}:sold:{condition}:{w}")
            for _ in range(rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]):
                ordered = datetime.combine(date.fromordinal(w * 7 + rng.randrange(7)),
                                           time(rng.randrange(24), rng.randrange(60), rng.randrange(60)), UTC)
                if day - timedelta(days=180) < ordered.date() <= day:
                    rows.append({"quantity": rng.choice((1, 1, 1, 2, 3)),
                                 "unit_price": worth * rng.lognormvariate(0, 0.25), "country": rng.choice(_COUNTRIES),
                                 "buyer": rng.choice(_COUNTRIES), "ordered": ordered})
        rows.sort(key=lambda row: row["ordered"], reverse=True)
    return [row for row in rows if countries is None or row["country"] in countries]


def _guide_record(fig: Minifig, guide_type: str, condition: str, currency: str, vat: str,
                  rows: list[dict[str, Any]]) -> dict[str, Any]:
    factor = _PER_US_DOLLAR[currency] * _VAT[vat]
    prices = [(Decimal(str(row["unit_price"])) * factor).quantize(_FOUR_PLACES) for row in rows]
    quantities = [row["quantity"] for row in rows]
    details = []
    for row, price in zip(rows, prices, strict=True):
        if guide_type == "sold":
            details.append({"quantity": row["quantity"], "qunatity": row["quantity"], "unit_price": f"{price:.4f}",
                            "seller_country_code": row["country"], "buyer_country_code": row["buyer"],
                            "date_ordered": row["ordered"].strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        else:
            details.append({"quantity": row["quantity"], "unit_price": f"{price:.4f}",
                            "shipping_available": row["shipping_available"]})
    total = sum(quantities)
    zero = Decimal(0)
    average = sum(prices, zero) / len(prices) if prices else zero
    weighted = sum((p * q for p, q in zip(prices, quantities, strict=True)), zero) / total if total else zero
    return {"item": {"no": fig.number, "type": "MINIFIG"}, "new_or_used": condition, "currency_code": currency,
            "min_price": f"{min(prices, default=zero):.4f}", "max_price": f"{max(prices, default=zero):.4f}",
            "avg_price": f"{average.quantize(_FOUR_PLACES):.4f}",
            "qty_avg_price": f"{weighted.quantize(_FOUR_PLACES):.4f}",
            "unit_quantity": len(rows), "total_quantity": total, "price_detail": details}


def _item_record(fig: Minifig) -> dict[str, Any]:
    return {"no": fig.number, "name": fig.name, "type": "MINIFIG",
            "category_id": THEME_BY_ID[fig.theme_id].bricklink_category_id, "alternate_no": "",
            "image_url": f"//img.bricklink.com/ItemImage/MN/0/{fig.number}.png",
            "thumbnail_url": f"//img.bricklink.com/ItemImage/MT/0/{fig.number}.jpg",
            "weight": f"{3 + fig.num_parts * 0.4:.2f}", "dim_x": "0.00", "dim_y": "0.00", "dim_z": "0.00",
            "year_released": fig.year, "description": "", "is_obsolete": False}
