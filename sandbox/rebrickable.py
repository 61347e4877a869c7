"""Rebrickable API v3 stand-in: Django REST Framework pages under `/lego/…/` with trailing slashes.

Theme filters take in child themes: `/lego/sets/?theme_id=158` lists Star Wars
sets and those of Ultimate Collector Series (171, a child of 158), and
`/lego/minifigs/?in_theme_id=158` lists every figure appearing in any of those
sets. The reference leaves this open; the sandbox holds to it so that both ways
of walking a theme (figures by theme, or sets then their figures) agree.

Paging follows DRF: `page` from 1 (or `last`), `page_size` 100 by default and
1000 at most, absolute `next`/`previous` URLs on the host the client called, with
the query sorted and `page` replaced. Each key has a token bucket; an empty one
answers 429 with DRF's "Expected available in N seconds" and Retry-After.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from .credentials import SANDBOX_CREDENTIALS
from .data import Catalog, LegoSet, Minifig, catalog
from .messages import Request, Response, json_response
from .service import Service

Record = dict[str, Any]

_DEFAULT_PAGE_SIZE, _MAX_PAGE_SIZE = 100, 1000
_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), name) for p, name in (
    (r"^/lego/themes/$", "themes"), (r"^/lego/themes/(?P<id>[^/]+)/$", "theme"),
    (r"^/lego/sets/$", "sets"), (r"^/lego/sets/(?P<id>[^/]+)/$", "set"),
    (r"^/lego/sets/(?P<id>[^/]+)/minifigs/$", "set_minifigs"),
    (r"^/lego/minifigs/$", "minifigs"), (r"^/lego/minifigs/(?P<id>[^/]+)/$", "minifig"),
    (r"^/lego/minifigs/(?P<id>[^/]+)/sets/$", "minifig_sets"),
))
_ORDERING_FIELDS = {
    "themes": ("id", "parent_id", "name"),
    "sets": ("set_num", "name", "year", "theme_id", "num_parts", "last_modified_dt"),
    "minifigs": ("set_num", "name", "num_parts", "last_modified_dt"),
}


class NotFound(Exception):
    pass


class BadFilter(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class TokenBucket:
    """`rate` requests a second on average per key, with up to `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when the request may pass, else the seconds until it could."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(key, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / self._rate

    def reset(self) -> None:
        with self._lock:
            self._state.clear()


def _throttled(wait: int | None) -> Record:
    if wait is None:
        return {"detail": "Request was throttled."}
    unit = "second" if wait == 1 else "seconds"
    return {"detail": f"Request was throttled. Expected available in {wait} {unit}."}


class RebrickableService(Service):
    name = "rebrickable"
    prefix = "/rebrickable/api/v3"

    def __init__(self, seed: int, rate: tuple[float, int] | None = (1.0, 60)) -> None:
        self._catalog: Catalog = catalog(seed)
        self._bucket = TokenBucket(*rate) if rate else None

    def reset(self) -> None:
        if self._bucket:
            self._bucket.reset()

    def error(self, request: Request, status: int, retry_after: int | None) -> Response:
        if status == 429:
            return json_response(429, _throttled(retry_after))
        detail = {500: "A server error occurred.", 503: "Service temporarily unavailable, try again later."}[status]
        return json_response(status, {"detail": detail})

    def handle(self, request: Request) -> Response:
        route = _route(request.path)
        readable = request.method in ("GET", "HEAD")  # the catalogue is read-only
        if route is None and _route(request.path + "/") is not None and readable:
            location = f"{request.origin}{request.full_path}/" + (f"?{request.query}" if request.query else "")
            return Response(301, b"", "text/html; charset=utf-8", {"Location": location})
        if not readable:
            return json_response(405, {"detail": f'Method "{request.method}" not allowed.'})
        auth = request.header("Authorization") or ""
        key = auth[4:].strip() if auth.lower().startswith("key ") else request.param("key")
        if not key:
            return json_response(401, {"detail": "Authentication credentials were not provided."})
        if key != SANDBOX_CREDENTIALS["rebrickable_api_key"]:
            return json_response(401, {"detail": "Invalid token."})
        if self._bucket and (wait := self._bucket.take(key)):
            seconds = math.ceil(wait)
            return json_response(429, _throttled(seconds), {"Retry-After": str(seconds)})
        if route is None:
            return json_response(404, {"detail": "Not found."})
        name, ident = route
        try:
            if ident is None:
                return _page(request, self._listing(name, request))
            found = self._detail(name, ident, request)
            return found if isinstance(found, Response) else json_response(200, found)
        except NotFound:
            return json_response(404, {"detail": "Not found."})
        except BadFilter as exc:
            return json_response(400, {exc.name: ["Enter a whole number."]})

    def _listing(self, name: str, request: Request) -> list[Record]:
        cat = self._catalog
        if name == "themes":
            rows = [_theme_record(t) for t in cat.themes]
            return _order(rows, request, name, "id")
        if name == "sets":
            sets = list(cat.sets)
            if (theme_id := _int_param(request, "theme_id")) is not None:
                sets = [s for s in sets if s.theme_id in cat.theme_ids_under(theme_id)]
            years, parts = _range(request, "min_year", "max_year"), _range(request, "min_parts", "max_parts")
            sets = [s for s in sets if years(s.year) and parts(s.num_parts)]
            return _order(_searched([_set_record(s) for s in sets], request), request, name, "set_num")
        figs = list(cat.minifigs)
        if (theme_id := _int_param(request, "in_theme_id")) is not None:
            allowed = {f.fig_num for f in cat.figures_in_theme(theme_id)}
            figs = [f for f in figs if f.fig_num in allowed]
        if (set_num := request.param("in_set_num")) not in (None, ""):
            inside = {row.fig_num for row in cat.inventory_of(set_num)}
            figs = [f for f in figs if f.fig_num in inside]
        parts = _range(request, "min_parts", "max_parts")
        figs = [f for f in figs if parts(f.num_parts)]
        return _order(_searched([_minifig_record(f) for f in figs], request), request, name, "set_num")

    def _detail(self, name: str, ident: str, request: Request) -> Record | Response:
        cat = self._catalog
        if name == "theme":
            theme = cat.theme_by_id.get(int(ident)) if ident.isdigit() else None
            if theme is None:
                raise NotFound
            return _theme_record(theme)
        if name in ("set", "set_minifigs"):
            lego_set = cat.set_by_num.get(ident)
            if lego_set is None:
                raise NotFound
            if name == "set":
                return _set_record(lego_set)
            rows = [_inventory_record(row.inventory_id, cat.minifig_by_fig_num[row.fig_num], row.quantity)
                    for row in cat.inventory_of(ident)]
            return _page(request, rows)
        fig = cat.minifig_by_fig_num.get(ident)
        if fig is None:
            raise NotFound
        if name == "minifig":
            return _minifig_record(fig)
        return _page(request, [_set_record(s) for s in cat.sets_of(fig.fig_num)])


def _route(path: str) -> tuple[str, str | None] | None:
    for pattern, name in _ROUTES:
        match = pattern.match(path)
        if match:
            return name, unquote(match.group("id")) if "id" in pattern.groupindex else None
    return None


def _page(request: Request, rows: list[Record]) -> Response:
    size = _positive(request.param("page_size"))
    size = min(size, _MAX_PAGE_SIZE) if size else _DEFAULT_PAGE_SIZE
    last = max(1, math.ceil(len(rows) / size))
    raw = request.param("page") or "1"
    page = last if raw == "last" else _positive(raw)
    if page is None or page > last:
        return json_response(404, {"detail": "Invalid page."})
    return json_response(200, {
        "count": len(rows),
        "next": _page_url(request, page + 1) if page < last else None,
        "previous": _page_url(request, page - 1) if page > 1 else None,
        "results": rows[(page - 1) * size: page * size],
    })


def _page_url(request: Request, page: int) -> str:
    """DRF's replace_query_param (or remove_query_param for page 1): the query comes back sorted."""
    query = parse_qs(request.query, keep_blank_values=True)
    query.pop("page", None)
    if page > 1:
        query["page"] = [str(page)]
    encoded = urlencode(sorted(query.items()), doseq=True)
    return f"{request.origin}{request.full_path}" + (f"?{encoded}" if encoded else "")


def _positive(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else None


def _int_param(request: Request, name: str) -> int | None:
    raw = request.param(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadFilter(name) from None


def _range(request: Request, low_name: str, high_name: str) -> Callable[[int], bool]:
    low, high = _int_param(request, low_name), _int_param(request, high_name)
    return lambda value: (low is None or value >= low) and (high is None or value <= high)


def _searched(rows: list[Record], request: Request) -> list[Record]:
    """DRF SearchFilter: every term, split on spaces and commas, in the id or the name."""
    terms = [t for t in re.split(r"[\s,]+", (request.param("search") or "").lower()) if t]
    return [r for r in rows if all(t in r["set_num"].lower() or t in r["name"].lower() for t in terms)]


def _order(rows: list[Record], request: Request, resource: str, default: str) -> list[Record]:
    """DRF OrderingFilter: known fields only, `-` for descending, the default when none is known."""
    wanted = [f.strip() for f in (request.param("ordering") or "").split(",") if f.strip()]
    fields = [f for f in wanted if f.lstrip("-") in _ORDERING_FIELDS[resource]] or [default]
    for field in reversed(fields):
        name = field.lstrip("-")
        rows = sorted(rows, key=_sort_key(name), reverse=field.startswith("-"))
    return rows


def _sort_key(name: str) -> Callable[[Record], tuple[bool, Any]]:
    return lambda row: (row[name] is None, row[name] if row[name] is not None else 0)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _theme_record(theme: Any) -> Record:
    return {"id": theme.id, "parent_id": theme.parent_id, "name": theme.name}


def _set_record(s: LegoSet) -> Record:
    return {"set_num": s.set_num, "name": s.name, "year": s.year, "theme_id": s.theme_id, "num_parts": s.num_parts,
            "set_img_url": f"https://cdn.rebrickable.com/media/sets/{s.set_num.lower()}.jpg",
            "set_url": f"https://rebrickable.com/sets/{s.set_num}/{_slug(s.name)}/",
            "last_modified_dt": s.last_modified}


def _minifig_record(fig: Minifig) -> Record:
    return {"set_num": fig.fig_num, "name": fig.name, "num_parts": fig.num_parts, "set_img_url": _figure_image(fig),
            "set_url": f"https://rebrickable.com/minifigs/{fig.fig_num}/{_slug(fig.name)}/",
            "last_modified_dt": fig.last_modified}


def _inventory_record(inventory_id: int, fig: Minifig, quantity: int) -> Record:
    return {"id": inventory_id, "set_num": fig.fig_num, "set_name": fig.name, "quantity": quantity,
            "set_img_url": _figure_image(fig)}


def _figure_image(fig: Minifig) -> str | None:
    if not fig.has_image:
        return None
    return f"https://cdn.rebrickable.com/media/sets/{fig.fig_num}/{int(fig.fig_num[4:]) * 7 % 99991}.jpg"
