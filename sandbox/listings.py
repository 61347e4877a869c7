"""The eBay listings of each sandbox figure, as they stand on a given day.

A figure has a fixed number of listing slots (6 to 60). Each slot runs a succession of
listings, each living for the slot's period (a week or so for auctions, up to
two months for fixed prices), so the listing ids on two neighbouring days are
mostly the same and a few percent change: churn without any stored state. Every
listing is drawn from a generator seeded by (seed, figure, slot, period number),
and its price drifts with the figure's market curve and the seller's cuts.

`Listing.kind` is the truth a classifier should find: `single` figure, `lot`,
`custom` (MOC, replica, "compatible" non-LEGO), `part` (torso, helmet, weapon…)
or `wrong` (the figure's name with another figure's number in the title).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from .data import THEME_BY_ID, Catalog, Minifig, catalog


@dataclass(frozen=True)
class Marketplace:
    currency: str
    country: str
    site: str
    postal_codes: tuple[str, ...]


MARKETPLACES: dict[str, Marketplace] = {
    "EBAY_US": Marketplace("USD", "US", "www.ebay.com", ("941**", "100**", "606**", "981**", "303**")),
    "EBAY_GB": Marketplace("GBP", "GB", "www.ebay.co.uk", ("M1***", "SW1**", "B15**", "EH1**", "LS2**")),
    "EBAY_DE": Marketplace("EUR", "DE", "www.ebay.de", ("10***", "80***", "50***", "20***", "70***")),
}
PER_US_DOLLAR: dict[str, Decimal] = {"USD": Decimal("1"), "GBP": Decimal("0.79"), "EUR": Decimal("0.92")}

CONDITIONS: dict[str, str] = {
    "1000": "New", "1500": "New other (see details)", "1750": "New with defects", "2750": "Like New",
    "3000": "Used", "4000": "Very Good", "5000": "Good", "6000": "Acceptable", "7000": "For parts or not working",
}
MINIFIGURES_CATEGORY = "19001"
CATEGORIES: dict[str, str] = {  # only 19001 is confirmed by the reference; the others are stand-ins
    MINIFIGURES_CATEGORY: "LEGO Minifigures", "183448": "LEGO Bricks & Building Pieces",
    "183449": "LEGO Mixed Lots",
}

_CONDITION_WEIGHTS = {"1000": 30, "1500": 10, "1750": 3, "2750": 7, "3000": 30, "4000": 7, "5000": 6, "6000": 4,
                      "7000": 3}
_CONDITION_FACTOR = {"1000": 1.0, "1500": 0.95, "1750": 0.8, "2750": 0.85, "3000": 0.7, "4000": 0.75,
                     "5000": 0.65, "6000": 0.55, "7000": 0.3}
_CONDITION_WORDS = {"1000": ("NEW", "Brand New", "New Sealed", "Factory Sealed Polybag", "Unopened"),
                    "7000": ("for parts", "damaged", "broken arm")}
_USED_WORDS = ("Used", "Good condition", "played with", "")
_PIECES = ("Torso only", "Legs only", "Head only", "Helmet", "Cape", "Weapon", "Hair piece", "Accessory")
_SELLER_WORDS = ("brick", "minifig", "toy", "block", "stud", "plastic", "figure", "collect", "vault", "attic")


@dataclass(frozen=True)
class Money:
    value: Decimal
    currency: str
    converted_from: tuple[Decimal, str] | None = None


@dataclass(frozen=True)
class Seller:
    username: str
    feedback_percentage: str
    feedback_score: int


@dataclass(frozen=True)
class Listing:
    item_id: str  # the legacy id; the RESTful itemId is "v1|<item_id>|0"
    minifig_number: str  # the figure this listing was drawn for
    kind: str
    quantity: int  # figures in the listing
    title: str
    category_id: str
    condition_id: str
    home_marketplace: str  # where it is listed, and the currency of its prices
    international: bool  # shown on the other marketplaces too, converted
    buying_options: tuple[str, ...]
    price: Decimal  # for an auction, the current bid
    bid_count: int | None
    shipping_type: str | None  # FIXED, CALCULATED, or None for no shipping options
    shipping_cost: Decimal | None
    seller: Seller
    created: datetime
    origin: datetime
    ends: datetime | None
    postal_code: str
    image_key: str

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.home_marketplace].currency

    def visible_on(self, marketplace: str) -> bool:
        return self.international or self.home_marketplace == marketplace


def convert(amount: Decimal, currency: str, target: str) -> Decimal:
    """At the sandbox's fixed rates, to the cent."""
    if currency == target:
        return amount
    return (amount / PER_US_DOLLAR[currency] * PER_US_DOLLAR[target]).quantize(Decimal("0.01"), ROUND_HALF_UP)


def money_on(amount: Decimal, currency: str, marketplace: str) -> Money:
    """An amount as a marketplace shows it: converted, with the original kept, when foreign."""
    target = MARKETPLACES[marketplace].currency
    if target == currency:
        return Money(amount, currency)
    return Money(convert(amount, currency, target), target, (amount, currency))


def listings_for(minifig: Minifig | str, day: date, marketplace: str = "EBAY_US", *, seed: int = 42) -> list[Listing]:
    """The listings drawn for one figure that a marketplace shows on a day (the search oracle)."""
    cat = catalog(seed)
    fig = minifig if isinstance(minifig, Minifig) else cat.minifig_by_number[minifig.lower()]
    return [listing for listing in _figure_listings(seed, fig.number, day) if listing.visible_on(marketplace)]


@functools.lru_cache(maxsize=8)
def day_listings(seed: int, day: date) -> tuple[Listing, ...]:
    """Every listing on every marketplace on a day."""
    return tuple(listing for fig in catalog(seed).minifigs for listing in _figure_listings(seed, fig.number, day))


@functools.lru_cache(maxsize=4096)
def _figure_listings(seed: int, number: str, day: date) -> tuple[Listing, ...]:
    cat = catalog(seed)
    fig = cat.minifig_by_number[number.lower()]
    if day.year < fig.year:
        return ()
    found = []
    for slot in range(fig.listing_slots):
        slot_rng = random.Random(f"{seed}:{fig.number}:slot:{slot}")
        auction = slot_rng.random() < 0.18
        period = slot_rng.choice((7, 10)) if auction else slot_rng.randint(8, 60)
        epoch, age = divmod(day.toordinal() + slot_rng.randrange(period), period)
        key = f"{seed}:{fig.number}:{slot}:{epoch}"
        rng = random.Random(key)
        if rng.random() < 0.15 and slot >= 5:  # the slot stands empty for this stretch; five never do
            continue
        found.append(_draw_listing(cat, fig, rng, key, day, age, period, auction))
    return tuple(found)


def _draw_listing(cat: Catalog, fig: Minifig, rng: random.Random, key: str, day: date, age: int, period: int,
                  auction: bool) -> Listing:
    kind = rng.choices(("single", "lot", "custom", "part", "wrong"), weights=(64, 8, 9, 13, 6))[0]
    home = rng.choices(tuple(MARKETPLACES), weights=(55, 28, 17))[0]
    condition = "1000" if kind == "custom" and rng.random() < 0.8 else \
        rng.choices(tuple(_CONDITION_WEIGHTS), weights=tuple(_CONDITION_WEIGHTS.values()))[0]
    title, quantity, worth = _title_and_worth(cat, fig, rng, kind, condition)
    created = datetime.combine(day - timedelta(days=age), time(rng.randint(0, 23), rng.randint(0, 59),
                                                               rng.randint(0, 59)), UTC)
    usd = worth * _market(cat.seed, fig, day) * rng.lognormvariate(0.0, 0.25)
    bid_count = None
    if auction:
        progress = age / period
        bids = int(rng.randint(0, 15) * progress)
        start = max(0.99, usd * rng.uniform(0.2, 0.5))
        usd = start + (usd * 0.9 - start) * progress ** 2 if bids else start
        bid_count = bids
    elif rng.random() < 0.5:  # the seller cuts the price every week it does not sell
        usd *= max(0.85, 1 - 0.02 * (age // 7))
    shipping_type, shipping_usd = rng.choices(
        (("FIXED", 0.0), ("FIXED", rng.uniform(1.5, 6.5)), ("CALCULATED", rng.uniform(4, 12)), (None, None)),
        weights=(25, 50, 20, 5))[0]
    market = MARKETPLACES[home]
    options = ("AUCTION",) if auction else ("FIXED_PRICE", "BEST_OFFER") if rng.random() < 0.3 else ("FIXED_PRICE",)
    return Listing(
        item_id=str(10 ** 11 + int(hashlib.sha256(key.encode()).hexdigest(), 16) % (9 * 10 ** 11)),
        minifig_number=fig.number, kind=kind, quantity=quantity, title=title,
        category_id=_category(rng, kind), condition_id=condition, home_marketplace=home,
        international=rng.random() < 0.3, buying_options=options, price=_in_currency(usd, market.currency, rng),
        bid_count=bid_count, shipping_type=shipping_type,
        shipping_cost=None if shipping_usd is None else _in_currency(shipping_usd, market.currency, None),
        seller=rng.choice(_sellers(cat.seed, home)), created=created,
        origin=created - timedelta(days=rng.randint(5, 90)) if rng.random() < 0.1 else created,
        ends=created + timedelta(days=period) if auction else None,
        postal_code=rng.choice(market.postal_codes),
        image_key="".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=11)),
    )


def _title_and_worth(cat: Catalog, fig: Minifig, rng: random.Random, kind: str,
                     condition: str) -> tuple[str, int, float]:
    """The title, the number of figures and what the listing is worth in dollars before drift."""
    theme = _theme_words(fig)
    name = fig.name.replace(" - ", " ").replace(",", "") if rng.random() < 0.5 else fig.name
    named = name if rng.random() < 0.8 else fig.character
    number = fig.number.upper() if rng.random() < 0.25 else fig.number
    shown_number = number if rng.random() < 0.55 else ""
    words = rng.choice(_CONDITION_WORDS.get(condition, _USED_WORDS if int(condition) >= 2750 else ("New",)))
    worth = fig.price_cents / 100 * _CONDITION_FACTOR[condition]
    if kind == "single":
        sets = cat.sets_of(fig.fig_num)
        pieces = rng.choice((
            ["LEGO", theme, named, rng.choice(("Minifigure", "Minifig", "Mini Figure")), shown_number, words,
             "Genuine", f"from {sets[0].set_num}" if sets else ""],
            [shown_number, "Lego", named, theme, "minifig", words],
            ["Genuine LEGO", named, "figure", shown_number, str(fig.year)],
        ))
        return _fit(pieces, rng), 1, worth
    if kind == "lot":
        count = rng.choice((2, 3, 4, 5, 10, 20))
        if count <= 4:
            pieces = rng.choice(([f"LEGO {named}", shown_number, f"x{count}", "Minifigures", "Lot"],
                                 [f"{count}x LEGO", named, shown_number, "minifig bundle"]))
            return _fit(pieces, rng), count, worth * count * 0.85
        pieces = rng.choice(([f"Lot of {count} LEGO {theme} Minifigures incl", named, "+ more"],
                             [f"Job Lot {count} LEGO minifigures", theme, named, "and others"]))
        return _fit(pieces, rng), count, worth * count * 0.4
    if kind == "custom":
        pieces = rng.choice((["Custom", named, "Minifigure fits Lego", theme],
                             ["MOC", theme, named, "custom printed minifig"],
                             ["Replica", named, "Mini Figure compatible with Lego"],
                             ["Compatible", named, "building block figure non-LEGO"],
                             [named, shown_number if rng.random() < 0.2 else "", "minifig KO fits major brands"]))
        return _fit(pieces, rng), 1, rng.uniform(2.0, 7.0)
    if kind == "part":
        piece = rng.choice(_PIECES)
        pieces = rng.choice((["LEGO", named, piece, shown_number, "Minifig part"],
                             ["LEGO", theme, named, piece, "minifigure accessory"]))
        return _fit(pieces, rng), 1, worth * rng.uniform(0.15, 0.35)
    family = [other for other in cat.minifigs if other.theme_id == fig.theme_id and other.number != fig.number]
    other = rng.choice(family)
    return _fit(["LEGO", theme, named, "Minifigure", other.number, words], rng), 1, other.price_cents / 100


def _fit(pieces: list[str], rng: random.Random) -> str:
    """Joins the pieces, leaving out trailing ones that would take the title past eBay's 80 characters."""
    title = ""
    for piece in (p for p in pieces if p):
        candidate = f"{title} {piece}".strip()
        if len(candidate) <= 80:
            title = candidate
    return title.upper() if rng.random() < 0.05 else title


def _theme_words(fig: Minifig) -> str:
    theme = THEME_BY_ID[fig.theme_id]
    if theme.prefix == "col":
        return f"Minifigures {fig.subtheme}" if fig.subtheme else "Collectible Minifigures"
    return THEME_BY_ID[theme.parent_id].name if theme.parent_id else theme.name


def _category(rng: random.Random, kind: str) -> str:
    if kind == "part":
        return MINIFIGURES_CATEGORY if rng.random() < 0.45 else "183448"
    if kind == "lot":
        return MINIFIGURES_CATEGORY if rng.random() < 0.6 else "183449"
    return MINIFIGURES_CATEGORY if rng.random() < 0.95 else "183448"


def _market(seed: int, fig: Minifig, day: date) -> float:
    """A slow swing of a few percent in what a figure fetches, different for each figure."""
    rng = random.Random(f"{seed}:{fig.number}:market")
    period, phase = rng.randint(60, 365), rng.uniform(0, 2 * math.pi)
    return 1 + 0.06 * math.sin(2 * math.pi * day.toordinal() / period + phase)


def _in_currency(usd: float, currency: str, rng: random.Random | None) -> Decimal:
    """Dollars in a listing's own currency; sellers like prices ending in .99."""
    amount = Decimal(str(round(usd * float(PER_US_DOLLAR[currency]), 2))).quantize(Decimal("0.01"))
    if rng is not None and amount >= 1 and rng.random() < 0.4:
        amount = amount.to_integral_value(rounding=ROUND_FLOOR) + Decimal("0.99")
    return max(amount, Decimal("0.01")) if rng is not None else amount


@functools.lru_cache(maxsize=32)
def _sellers(seed: int, marketplace: str) -> tuple[Seller, ...]:
    rng = random.Random(f"{seed}:sellers:{marketplace}")
    suffix = {"EBAY_US": "us", "EBAY_GB": "uk", "EBAY_DE": "de"}[marketplace]
    return tuple(Seller(f"{rng.choice(_SELLER_WORDS)}_{rng.choice(_SELLER_WORDS)}_{suffix}{rng.randint(1, 999)}",
                        f"{rng.uniform(94, 100):.1f}", rng.randint(3, 60000)) for _ in range(40))
