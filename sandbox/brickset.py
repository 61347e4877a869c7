"""Brickset API v3 stand-in: `{base}/{method}`, GET query or POST form, HTTP 200 with a status.

Field names are matched without regard to case (ASMX binding), `params` is a JSON
string (strict, or with bare keys as some clients send), and only getSets counts
against the key's daily limit. getMinifigCollection with a `query` searches every
figure the sandbox knows (what Brickie's use suggests); without one it returns the
sandbox user's own figures.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from .credentials import SANDBOX_CREDENTIALS
from .data import THEME_BY_ID, Catalog, LegoSet, Minifig, catalog
from .messages import Request, Response, json_response, text_response
from .service import DailyQuota, Service

Payload = dict[str, Any]

_BARE_KEY = re.compile(r'([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:')
_PAGE_SIZE, _MAX_PAGE_SIZE = 20, 500
_ORDER_KEYS = {
    "number": lambda s: (int(s.number), s.variant), "yearfrom": lambda s: (s.year, int(s.number)),
    "pieces": lambda s: (s.num_parts, int(s.number)), "name": lambda s: (s.name, int(s.number)),
    "theme": lambda s: (THEME_BY_ID[s.theme_id].brickset_theme, int(s.number)),
    "subtheme": lambda s: (s.subtheme or "", int(s.number)),
}


class BricksetError(Exception):
    """A failure Brickset reports as {"status": "error", "message": ...}."""


def _fail(message: str) -> Payload:
    return {"status": "error", "message": message}


class BricksetService(Service):
    name = "brickset"
    prefix = "/brickset/api/v3.asmx"
    extra_faults = frozenset({"api_limit"})

    def __init__(self, seed: int, daily_limit: int = 100) -> None:
        self._seed = seed
        self._catalog: Catalog = catalog(seed)
        self._get_sets_quota = DailyQuota(daily_limit)  # only getSets counts against a key
        rng = random.Random(f"{seed}:brickset:user")
        self.user_hash = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", k=16))
        self._owned_figs = {f.number: (rng.randint(0, 2), rng.randint(1, 2)) for f in self._catalog.minifigs
                            if rng.random() < 0.12}
        self._wanted_figs = [f.number for f in self._catalog.minifigs if rng.random() < 0.05]
        self._owned_sets = {s.set_num: rng.randint(1, 2) for s in self._catalog.sets if rng.random() < 0.1}
        self._wanted_sets = [s.set_num for s in self._catalog.sets if rng.random() < 0.05]

    def reset(self) -> None:
        self._get_sets_quota.reset()

    def error(self, request: Request, status: int, retry_after: int | None) -> Response:
        message = {429: "Too many requests", 500: "Internal server error", 503: "Service unavailable"}[status]
        return json_response(status, _fail(message))

    def apply_fault(self, kind: str, request: Request) -> Response | None:
        return json_response(200, _fail("API limit exceeded"))  # kind is "api_limit", the only extra

    def handle(self, request: Request) -> Response:
        method = request.path.strip("/")
        handler = self._methods().get(method.lower())
        if handler is None or "/" in method:
            text = f"System.InvalidOperationException: {method} Web Service method name is not valid."
            return text_response(500, text, "text/plain; charset=utf-8")
        fields = {k.lower(): v[0] for k, v in request.params.items()}
        fields.update({k.lower(): v[0] for k, v in request.form.items()})
        if fields.get("apikey") != SANDBOX_CREDENTIALS["brickset_api_key"]:
            return json_response(200, _fail("Invalid API key"))
        try:
            return json_response(200, handler(fields, request.day))
        except BricksetError as exc:
            return json_response(200, _fail(str(exc)))

    def _methods(self) -> dict[str, Any]:
        return {"checkkey": lambda f, d: {"status": "success"}, "login": self._login,
                "checkuserhash": self._check_user_hash, "getkeyusagestats": self._key_usage,
                "getthemes": self._themes, "getsubthemes": self._subthemes, "getyears": self._years,
                "getsets": self._sets, "getminifigcollection": self._minifig_collection}

    def _login(self, fields: dict[str, str], day: date) -> Payload:
        if (fields.get("username"), fields.get("password")) != (SANDBOX_CREDENTIALS["brickset_username"],
                                                              SANDBOX_CREDENTIALS["brickset_password"]):
            raise BricksetError("Invalid username or password")
        return {"status": "success", "hash": self.user_hash}

    def _check_user_hash(self, fields: dict[str, str], day: date) -> Payload:
        self._require_user(fields)
        return {"status": "success"}

    def _require_user(self, fields: dict[str, str]) -> None:
        if fields.get("userhash") != self.user_hash:
            raise BricksetError("Invalid user hash")

    def _key_usage(self, fields: dict[str, str], day: date) -> Payload:
        counts = {d: n for d, n in self._get_sets_quota.usage(fields["apikey"]).items()
                  if day - timedelta(days=30) < d <= day}
        usage = [{"dateStamp": f"{d.isoformat()}T00:00:00Z", "count": counts[d]} for d in sorted(counts, reverse=True)]
        return {"status": "success", "matches": len(usage), "apiKeyUsage": usage}

    def _themes(self, fields: dict[str, str], day: date) -> Payload:
        by_theme = _group(self._catalog.sets, lambda s: THEME_BY_ID[s.theme_id].brickset_theme)
        themes = [{"theme": theme, "setCount": len(sets), "subthemeCount": len({s.subtheme for s in sets} - {None}),
                   "yearFrom": min(s.year for s in sets), "yearTo": max(s.year for s in sets)}
                  for theme, sets in sorted(by_theme.items())]
        return {"status": "success", "matches": len(themes), "themes": themes}

    def _subthemes(self, fields: dict[str, str], day: date) -> Payload:
        theme = fields.get("theme", "")
        sets = [s for s in self._catalog.sets
                if THEME_BY_ID[s.theme_id].brickset_theme.lower() == theme.lower() and s.subtheme]
        subthemes = [{"theme": THEME_BY_ID[group[0].theme_id].brickset_theme, "subtheme": name, "setCount": len(group),
                      "yearFrom": min(s.year for s in group), "yearTo": max(s.year for s in group)}
                     for name, group in sorted(_group(sets, lambda s: s.subtheme).items())]
        return {"status": "success", "matches": len(subthemes), "subthemes": subthemes}

    def _years(self, fields: dict[str, str], day: date) -> Payload:
        theme = fields.get("theme", "")
        sets = [s for s in self._catalog.sets
                if not theme or THEME_BY_ID[s.theme_id].brickset_theme.lower() == theme.lower()]
        years = [{"theme": theme, "year": str(year), "setCount": len(group)}
                 for year, group in sorted(_group(sets, lambda s: s.year).items())]
        return {"status": "success", "matches": len(years), "years": years}

    def _sets(self, fields: dict[str, str], day: date) -> Payload:
        if not self._get_sets_quota.spend(fields["apikey"], day):
            raise BricksetError("API limit exceeded")
        params = _params(fields)
        if params.get("owned") in (1, "1") or params.get("wanted") in (1, "1"):
            self._require_user(fields)
        found = [s for s in self._catalog.sets if self._set_matches(s, params)]
        found = _ordered(found, str(params.get("orderby", "Number")), self._seed)
        size = _int(params.get("pagesize"), _PAGE_SIZE)
        size = _PAGE_SIZE if size < 1 else min(size, _MAX_PAGE_SIZE)
        page = max(1, _int(params.get("pagenumber"), 1))
        extended = params.get("extendeddata") in (1, "1")
        records = [self._set_record(s, extended) for s in found[(page - 1) * size: page * size]]
        return {"status": "success", "matches": len(found), "sets": records}

    def _set_matches(self, s: LegoSet, params: Payload) -> bool:
        theme = THEME_BY_ID[s.theme_id].brickset_theme
        checks = (("setid", str(s.set_id)), ("theme", theme), ("subtheme", s.subtheme or ""),
                  ("setnumber", f"{s.number}-{s.variant}"), ("year", str(s.year)))
        for name, value in checks:
            if params.get(name) not in (None, "") and value.lower() not in _listed(params[name]):
                return False
        query = str(params.get("query") or "").lower()
        if query and query not in s.name.lower() and query not in f"{s.number}-{s.variant}":
            return False
        if params.get("owned") in (1, "1") and s.set_num not in self._owned_sets:
            return False
        if params.get("wanted") in (1, "1") and s.set_num not in self._wanted_sets:
            return False
        return str(params.get("updatedsince") or "") <= s.last_modified[:10]

    def _set_record(self, s: LegoSet, extended: bool) -> Payload:
        rng = random.Random(f"{self._seed}:brickset:set:{s.set_num}")
        figures = _figure_count(self._catalog, s)
        theme = THEME_BY_ID[s.theme_id]
        record: Payload = {"setID": s.set_id, "number": s.number, "numberVariant": s.variant, "name": s.name,
                           "year": s.year, "theme": theme.brickset_theme, "themeGroup": theme.theme_group}
        if s.subtheme:
            record["subtheme"] = s.subtheme
        record.update({"category": "Normal", "released": True, "pieces": s.num_parts})
        if figures:
            record["minifigs"] = figures
        if rng.random() < 0.9:
            record["image"] = {"thumbnailURL": f"https://images.brickset.com/sets/small/{s.set_num}.jpg",
                               "imageURL": f"https://images.brickset.com/sets/images/{s.set_num}.jpg"}
        owned = self._owned_sets.get(s.set_num, 0)
        record.update({
            "bricksetURL": f"https://brickset.com/sets/{s.set_num}",
            "collection": {"owned": owned > 0, "wanted": s.set_num in self._wanted_sets, "qtyOwned": owned,
                           "rating": 0, "notes": ""},
            "collections": {"ownedBy": rng.randint(50, 20000), "wantedBy": rng.randint(5, 3000)},
            "LEGOCom": {"US": {"retailPrice": round(s.num_parts * 0.11 + 4, 2)} if rng.random() < 0.7 else {},
                        "UK": {}, "CA": {}, "DE": {}},
            "rating": round(rng.uniform(3, 5), 1) if rng.random() < 0.8 else 0, "reviewCount": rng.randint(0, 25),
            "packagingType": "Box", "availability": "Retail", "instructionsCount": rng.randint(0, 2),
            "additionalImageCount": rng.randint(0, 12), "ageRange": {"min": rng.choice((6, 7, 8, 9))},
            "dimensions": {}, "barcode": {}, "lastUpdated": s.last_modified[:23] + "Z",
            "extendedData": {"tags": [theme.brickset_theme] + ([s.subtheme] if s.subtheme else []),
                             "description": f"{s.name} from {s.year}."} if extended else {},
        })
        return record

    def _minifig_collection(self, fields: dict[str, str], day: date) -> Payload:
        self._require_user(fields)
        params = _params(fields)
        query = str(params.get("query") or "").lower()
        owned, wanted = params.get("owned") in (1, "1"), params.get("wanted") in (1, "1")
        found = [f for f in self._catalog.minifigs if not query or query in f.number.lower() or query in f.name.lower()]
        if owned or wanted:
            found = [f for f in found
                     if (owned and f.number in self._owned_figs) or (wanted and f.number in self._wanted_figs)]
        elif not query:
            found = [f for f in found if f.number in self._owned_figs]
        records = [self._minifig_record(f) for f in found]
        return {"status": "success", "matches": len(records), "minifigs": records}

    def _minifig_record(self, fig: Minifig) -> Payload:
        in_sets, loose = self._owned_figs.get(fig.number, (0, 0))
        theme = THEME_BY_ID[fig.theme_id]
        category = f"{theme.brickset_theme} / {fig.subtheme}" if fig.subtheme else theme.brickset_theme
        return {"minifigNumber": fig.number, "name": fig.name, "category": category, "ownedInSets": in_sets,
                "ownedLoose": loose, "ownedTotal": in_sets + loose, "wanted": fig.number in self._wanted_figs}


def _params(fields: dict[str, str]) -> Payload:
    """The `params` field: strict JSON, or JSON with bare keys; keys compared without case."""
    text = fields.get("params") or "{}"
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = json.loads(_BARE_KEY.sub(r'\1"\2":', text))
        except ValueError as exc:
            raise BricksetError(f"Invalid params: {exc}") from None
    if not isinstance(value, dict):
        raise BricksetError("Invalid params: expected a JSON object")
    return {str(k).lower(): v for k, v in value.items()}


def _listed(value: object) -> list[str]:
    """A comma-delimited filter value, as the lower-cased items it allows."""
    return [item.strip().lower() for item in str(value).split(",")]


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _ordered(sets: list[LegoSet], order_by: str, seed: int) -> list[LegoSet]:
    name = order_by.lower()
    descending = name.endswith("desc")
    name = name.removesuffix("desc")
    if name == "random":
        shuffled = sorted(sets, key=lambda s: s.set_num)
        random.Random(f"{seed}:brickset:random").shuffle(shuffled)
        return shuffled
    if name == "minifigs":
        cat = catalog(seed)
        return sorted(sets, key=lambda s: (_figure_count(cat, s), int(s.number)), reverse=descending)
    return sorted(sets, key=_ORDER_KEYS.get(name, _ORDER_KEYS["number"]), reverse=descending)


def _figure_count(cat: Catalog, lego_set: LegoSet) -> int:
    """What Brickset's `minifigs` field counts: figures in the box, repeats included."""
    return sum(row.quantity for row in cat.inventory_of(lego_set.set_num))


def _group(items: Iterable[Any], key: Any) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped
