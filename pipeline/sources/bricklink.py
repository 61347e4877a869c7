"""BrickLink Store API v1: a minifig's price guide and catalogue item (API_REFERENCE §4).

Requests are signed with OAuth 1.0a (four credentials; tokens are bound to the
registered IP address). Answers come in a `{"meta":{"code",…},"data":…}`
envelope, and `meta.code` in the body is the verdict, whatever the HTTP status.

What BrickLink cannot do: list the items of a category (only known ids can be
looked up), tell sealed from new in the price guide (`N` or `U` only), or
serve bursts (nginx answers HTML 503 pages). The "sold" guide covers the last
six months; a guide with `total_quantity` 0 has no data, and its prices are None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from pipeline.sources.http import BeforeRequest, HttpSource, Reply, RetryPolicy
from pipeline.sources.oauth1 import OAuth1
from pipeline.sources.payload import named, parse
from pipeline.sources.replies import (
    BricklinkDataJson,
    BricklinkItemJson,
    BricklinkPriceDetailJson,
    BricklinkPriceGuideJson,
    BricklinkReasonJson,
    BricklinkVerdictJson,
)

SERVICE = "bricklink"
GuideType = Literal["sold", "stock"]
NewOrUsed = Literal["N", "U"]


@dataclass(frozen=True)
class PriceDetail:
    quantity: int
    unit_price: Decimal
    seller_country_code: str | None = None  # sold guide
    buyer_country_code: str | None = None  # sold guide
    date_ordered: datetime | None = None  # sold guide
    shipping_available: bool | None = None  # stock guide


@dataclass(frozen=True)
class PriceGuide:
    """Prices of the last six months' sales (`sold`) or of current offers (`stock`)."""

    item_no: str
    item_type: str
    guide_type: GuideType
    new_or_used: NewOrUsed
    currency_code: str
    min_price: Decimal | None  # None when there is no data
    max_price: Decimal | None
    avg_price: Decimal | None
    qty_avg_price: Decimal | None  # weighted by quantity
    unit_quantity: int  # sold: sales; stock: lots offered
    total_quantity: int  # sold: items sold; stock: items offered
    details: tuple[PriceDetail, ...]

    @property
    def has_data(self) -> bool:
        return self.total_quantity > 0


@dataclass(frozen=True)
class CatalogItem:
    no: str
    name: str
    type: str
    category_id: int | None
    year_released: int | None  # the only API source of a figure's release year
    is_obsolete: bool | None
    image_url: str | None
    thumbnail_url: str | None
    alternate_no: str | None


_CODE_ERRORS: dict[int, type[SourceError]] = {401: AuthError, 403: AuthError, 404: RecordNotFound}


def check_reply(reply: Reply) -> SourceError | None:
    """BrickLink's verdict from `meta.code` in the body; None leaves non-JSON to the generic rules."""
    payload = reply.payload
    if not reply.decoded or not isinstance(payload, dict):
        return None
    meta = parse(BricklinkVerdictJson, payload, service=SERVICE, endpoint=reply.endpoint, record="reply").meta
    code = meta.code
    if code is None:
        return reply.fail(PermanentSourceError, "reply has no meta.code")
    if 200 <= code < 300:
        return None
    why = parse(BricklinkReasonJson, payload.get("meta") or {}, service=SERVICE, endpoint=reply.endpoint,
                record="reply.meta")
    reason = f"{why.message or code}: {why.description or ''}".rstrip(": ")
    if code == 429 or code >= 500:
        return reply.fail(TransientSourceError, reason)
    return reply.fail(_CODE_ERRORS.get(code, PermanentSourceError), reason)


def parse_price_detail(obj: Any, endpoint: str = "price guide", record: str = "price detail") -> PriceDetail:
    detail = parse(BricklinkPriceDetailJson, obj, service=SERVICE, endpoint=endpoint, record=record)
    return PriceDetail(
        quantity=detail.quantity,
        unit_price=detail.unit_price,
        seller_country_code=detail.seller_country_code,
        buyer_country_code=detail.buyer_country_code,
        date_ordered=detail.date_ordered,
        shipping_available=detail.shipping_available,
    )


def parse_price_guide(payload: Any, guide_type: GuideType, endpoint: str = "price guide") -> PriceGuide:
    data = parse(BricklinkDataJson, payload, service=SERVICE, endpoint=endpoint, record="reply").data
    record = named("price guide of", data, "item", "no", default="price guide")
    guide = parse(BricklinkPriceGuideJson, data, service=SERVICE, endpoint=endpoint, record=record)
    prices: tuple[Decimal | None, ...] = (guide.min_price, guide.max_price, guide.avg_price, guide.qty_avg_price)
    if guide.total_quantity == 0:
        prices = (None, None, None, None)  # zeros that mean "no data"
    details = tuple(parse_price_detail(obj, endpoint, f"{record} price detail #{position}")
                    for position, obj in enumerate(guide.price_detail))
    return PriceGuide(
        item_no=guide.item.no,
        item_type=guide.item.type,
        guide_type=guide_type,
        new_or_used=guide.new_or_used,  # type: ignore[arg-type]
        currency_code=guide.currency_code,
        min_price=prices[0],
        max_price=prices[1],
        avg_price=prices[2],
        qty_avg_price=prices[3],
        unit_quantity=guide.unit_quantity,
        total_quantity=guide.total_quantity,
        details=details,
    )


def parse_item(payload: Any, endpoint: str = "item") -> CatalogItem:
    data = parse(BricklinkDataJson, payload, service=SERVICE, endpoint=endpoint, record="reply").data
    item = parse(BricklinkItemJson, data, service=SERVICE, endpoint=endpoint, record=named("item", data, "no"))
    return CatalogItem(
        no=item.no,
        name=item.name,
        type=item.type,
        category_id=item.category_id,
        year_released=item.year_released,
        is_obsolete=item.is_obsolete,
        image_url=item.image_url,
        thumbnail_url=item.thumbnail_url,
        alternate_no=item.alternate_no,
    )


class BricklinkClient:
    """The catalogue part of the BrickLink Store API for minifigs; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        token_value: str,
        token_secret: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        before_request: BeforeRequest | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = OAuth1(consumer_key, consumer_secret, token_value, token_secret)
        self._http = HttpSource(SERVICE, timeout_s=timeout_s, retry=retry, before_request=before_request)

    def close(self) -> None:
        self._http.close()

    def price_guide(
        self,
        no: str,
        guide_type: GuideType = "sold",
        new_or_used: NewOrUsed = "N",
        currency_code: str | None = None,
        *,
        country_code: str | None = None,
        region: str | None = None,
        vat: Literal["N", "Y", "O"] | None = None,
    ) -> PriceGuide:
        """`GET /items/MINIFIG/{no}/price`: worldwide unless `country_code` or `region` is given."""
        if guide_type not in ("sold", "stock") or new_or_used not in ("N", "U"):
            raise ValueError(f"guide_type must be sold|stock and new_or_used N|U, got {guide_type!r}, {new_or_used!r}")
        path = f"/items/MINIFIG/{quote(no, safe='')}/price"
        wanted = {"guide_type": guide_type, "new_or_used": new_or_used, "currency_code": currency_code,
                  "country_code": country_code, "region": region, "vat": vat}
        params = {key: value for key, value in wanted.items() if value is not None}
        return parse_price_guide(self._get(path, params), guide_type, path)

    def item(self, no: str) -> CatalogItem:
        """`GET /items/MINIFIG/{no}`: name, category and release year of a known figure."""
        path = f"/items/MINIFIG/{quote(no, safe='')}"
        return parse_item(self._get(path, {}), path)

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.base_url}{path}"
        return self._http.call("GET", url, path, params=params, auth=self._auth, check=check_reply)
