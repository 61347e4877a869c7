"""The documented JSON replies of Brickset, Rebrickable, eBay and BrickLink, as pydantic models.

Field names are the APIs' own, so an error names the field as the reply spells
it. Each client module reads its replies through `payload.parse` and turns
them into its records; what a field may hold is the reader its type names
(see `payload.py`). The widths are the catalog's and the price observations'
columns.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from pipeline.sources.payload import (
    Amount,
    Count,
    Currency,
    Integer,
    Items,
    Later,
    Many,
    Nested,
    OptAmount,
    OptCurrency,
    OptFlag,
    OptInteger,
    OptItems,
    OptMoment,
    OptNumber,
    OptText,
    Text,
    Texts,
    Wire,
    code,
    integer,
    one_of,
    optional,
    required,
)

MAX_FIGURE_NUMBER = 32  # catalog bricklink_id and rebrickable_id
MAX_ITEM_ID = 64
MAX_CONDITION_ID = 8
MAX_SHIPPING_TYPE = 16
MAX_BIDS = 2**31 - 1  # an integer column

# --- Brickset -------------------------------------------------------------------------------------------------


class BricksetLoginJson(Wire):
    hash: Annotated[str, required(code(), secret=True)]  # the user hash: a credential, never shown


class BricksetListingJson(Wire):
    """`matches` (the total, not the page's length) and the method's records under `key`.

    The records may be absent only when nothing matches.
    """

    key: ClassVar[str]
    matches: OptInteger = None

    @model_validator(mode="after")
    def _records_unless_none_match(self) -> Self:
        if self.key not in self.model_fields_set and self.matches != 0:
            raise PydanticCustomError("payload", "field {key!r} is missing", {"key": self.key})
        return self

    def records(self) -> list[Any]:
        return list(getattr(self, self.key))


class BricksetThemesJson(BricksetListingJson):
    key = "themes"
    themes: OptItems = ()


class BricksetSetsJson(BricksetListingJson):
    key = "sets"
    sets: OptItems = ()


class BricksetMinifigsJson(BricksetListingJson):
    key = "minifigs"
    minifigs: OptItems = ()


class BricksetThemeJson(Wire):
    theme: Text
    setCount: OptInteger = None
    subthemeCount: OptInteger = None
    yearFrom: OptInteger = None
    yearTo: OptInteger = None


class BricksetSetJson(Wire):
    setID: Integer
    number: Text
    numberVariant: OptInteger = None
    name: Text
    year: OptInteger = None
    theme: OptText = None
    subtheme: OptText = None
    pieces: OptInteger = None
    minifigs: OptInteger = None  # a count only, never the figures


class BricksetMinifigJson(Wire):
    minifigNumber: Annotated[str | None, optional(code(MAX_FIGURE_NUMBER))] = None
    name: OptText = None
    category: OptText = None
    ownedInSets: OptInteger = None
    ownedLoose: OptInteger = None
    ownedTotal: OptInteger = None
    wanted: OptFlag = None


# --- Rebrickable ----------------------------------------------------------------------------------------------

FigNum = Annotated[str, required(code(MAX_FIGURE_NUMBER))]


class RebrickablePageJson(Wire):
    results: Items
    next: OptText = None


class RebrickableThemeJson(Wire):
    id: Integer
    parent_id: OptInteger = None
    name: Text


class RebrickableSetJson(Wire):
    set_num: Text
    name: Text
    year: OptInteger = None
    theme_id: OptInteger = None
    num_parts: OptInteger = None
    set_img_url: OptText = None


class RebrickableMinifigJson(Wire):
    set_num: FigNum  # `fig-` and six digits
    name: Text
    num_parts: OptInteger = None
    set_img_url: OptText = None
    set_url: OptText = None
    last_modified_dt: OptMoment = None


class RebrickableSetMinifigJson(Wire):
    set_num: FigNum
    set_name: Text
    quantity: OptInteger = None
    set_img_url: OptText = None


# --- eBay -----------------------------------------------------------------------------------------------------


class EbayTokenJson(Wire):
    access_token: Annotated[str, required(code(), secret=True)]  # travels in a header: printable ASCII only
    expires_in: Annotated[int, required(integer(low=1))]


class EbayMoneyJson(Wire):
    value: Amount
    currency: Currency
    convertedFromValue: OptAmount = None
    convertedFromCurrency: OptCurrency = None


class EbayShippingCostJson(Wire):
    value: OptAmount = None
    currency: OptCurrency = None


class EbayShippingOptionJson(Wire):
    shippingCostType: Annotated[str | None, optional(code(MAX_SHIPPING_TYPE))] = None
    shippingCost: Nested[EbayShippingCostJson] = EbayShippingCostJson()


class EbaySellerJson(Wire):
    username: OptText = None
    feedbackPercentage: OptNumber = None
    feedbackScore: OptInteger = None


class EbayImageJson(Wire):
    imageUrl: OptText = None


class EbayLocationJson(Wire):
    country: OptText = None


class EbayCategoryJson(Wire):
    categoryId: Text


class EbayItemSummaryJson(Wire):
    itemId: Annotated[str, required(code(MAX_ITEM_ID))]  # v1|<legacy id>|<variation or 0>
    legacyItemId: OptText = None
    title: Text
    price: EbayMoneyJson
    currentBidPrice: EbayMoneyJson | None = None  # auctions only
    bidCount: Annotated[int | None, optional(integer(low=0, high=MAX_BIDS))] = None
    condition: OptText = None
    conditionId: Annotated[str | None, optional(code(MAX_CONDITION_ID))] = None
    buyingOptions: Texts = ()
    shippingOptions: Many[EbayShippingOptionJson] = ()
    seller: Nested[EbaySellerJson] = EbaySellerJson()
    itemWebUrl: OptText = None
    image: Nested[EbayImageJson] = EbayImageJson()
    categories: Many[EbayCategoryJson] = ()
    leafCategoryIds: Texts = ()
    itemCreationDate: OptMoment = None
    itemOriginDate: OptMoment = None
    itemEndDate: OptMoment = None
    itemLocation: Nested[EbayLocationJson] = EbayLocationJson()
    listingMarketplaceId: OptText = None


class EbaySearchPageJson(Wire):
    """A `SearchPagedCollection`; `itemSummaries` is absent when nothing matches."""

    total: OptInteger = None
    limit: OptInteger = None
    itemSummaries: OptItems = ()
    next: OptText = None


class EbayRateJson(Wire):
    limit: Count
    remaining: Count
    reset: OptMoment = None
    timeWindow: OptInteger = None


class EbayRateResourceJson(Wire):
    name: OptText = None
    rates: OptItems = ()


class EbayRateLimitJson(Wire):
    apiContext: OptText = None
    apiName: OptText = None
    resources: OptItems = ()


class EbayRateLimitsJson(Wire):
    """Developer Analytics `getRateLimits`: per API, per resource, its rates (limit, remaining, reset)."""

    rateLimits: OptItems = ()


# --- BrickLink ------------------------------------------------------------------------------------------------


class BricklinkMetaJson(Wire):
    code: OptInteger = None


class BricklinkReasonJson(Wire):
    """What `meta` says beside a code that is not 2xx; read only then."""

    message: OptText = None
    description: OptText = None


class BricklinkVerdictJson(Wire):
    """The `meta` of the `{"meta": …, "data": …}` envelope: the verdict, whatever the HTTP status."""

    meta: Nested[BricklinkMetaJson] = BricklinkMetaJson()


class BricklinkDataJson(Wire):
    """The `data` of the envelope, read by the model of the endpoint."""

    data: Later = Field(default_factory=dict)


class BricklinkPriceDetailJson(Wire):
    quantity: Count
    unit_price: Amount
    seller_country_code: OptText = None  # sold guide
    buyer_country_code: OptText = None  # sold guide
    date_ordered: OptMoment = None  # sold guide
    shipping_available: OptFlag = None  # stock guide

    @model_validator(mode="before")
    @classmethod
    def _misspelt_quantity(cls, data: Any) -> Any:
        # Real answers carry a misspelt duplicate, "qunatity"; either will do.
        if isinstance(data, dict) and data.get("quantity") is None and "qunatity" in data:
            return {**data, "quantity": data["qunatity"]}
        return data


class BricklinkGuideItemJson(Wire):
    no: Text
    type: Text


class BricklinkPriceGuideJson(Wire):
    item: Nested[BricklinkGuideItemJson] = Field(None, validate_default=True)  # absent: its fields are missing
    new_or_used: Annotated[str, required(one_of("N", "U"))]
    currency_code: Currency
    min_price: Amount
    max_price: Amount
    avg_price: Amount
    qty_avg_price: Amount  # weighted by quantity
    unit_quantity: Count
    total_quantity: Count
    price_detail: OptItems = ()


class BricklinkItemJson(Wire):
    no: Text
    name: Text
    type: Text
    category_id: OptInteger = None
    year_released: OptInteger = None
    is_obsolete: OptFlag = None
    image_url: OptText = None
    thumbnail_url: OptText = None
    alternate_no: OptText = None
