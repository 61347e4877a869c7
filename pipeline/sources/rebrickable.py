"""Rebrickable API v3: themes, sets, and minifigs by theme or by set (API_REFERENCE §2).

GET only, `Authorization: key …`, every path ending in `/`, lists in the
Django REST Framework envelope (`count`, absolute `next`, `results`) followed
to the end. Throttling answers 429 with "Expected available in N seconds".

What Rebrickable cannot do: minifigs have no year and no year filter (a year
comes from the sets a figure is in), and minifig records carry no BrickLink
id (`fig-…` ids only; see API_REFERENCE §2.6).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline.sources.errors import (
    PermanentSourceError,
    RateLimited,
    RecordNotFound,
    SourceError,
)
from pipeline.sources.http import (
    BeforeRequest,
    HttpSource,
    Reply,
    RetryPolicy,
    Throttled,
    error_for_status,
    usable_delay,
)
from pipeline.sources.payload import named, parse
from pipeline.sources.replies import (
    RebrickableMinifigJson,
    RebrickablePageJson,
    RebrickableSetJson,
    RebrickableSetMinifigJson,
    RebrickableThemeJson,
)

log = logging.getLogger(__name__)

SERVICE = "rebrickable"
MAX_PAGE_SIZE = 1000
_THROTTLED_FOR = re.compile(r"available in (\d+(?:\.\d+)?) second", re.IGNORECASE)


@dataclass(frozen=True)
class RebrickableTheme:
    id: int
    parent_id: int | None
    name: str


@dataclass(frozen=True)
class RebrickableSet:
    set_num: str
    name: str
    year: int | None
    theme_id: int | None
    num_parts: int | None
    img_url: str | None


@dataclass(frozen=True)
class RebrickableMinifig:
    fig_num: str  # `fig-` and six digits; the API calls it `set_num`
    name: str
    num_parts: int | None
    img_url: str | None
    url: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class SetMinifig:
    fig_num: str
    name: str
    quantity: int
    img_url: str | None


@dataclass(frozen=True)
class CatalogFigure:
    """A figure answering a catalogue query, with the sets that put it there."""

    fig_num: str
    name: str
    set_nums: tuple[str, ...]
    img_url: str | None


def throttle_delay(detail: str | None) -> float | None:
    """Seconds from "Request was throttled. Expected available in 2 seconds."."""
    match = _THROTTLED_FOR.search(detail or "")
    return usable_delay(float(match.group(1))) if match else None


def check_reply(reply: Reply) -> SourceError | None:
    """Rebrickable's verdict: DRF `detail` texts, and the throttle delay on 429."""
    payload = reply.payload
    detail = payload.get("detail") if isinstance(payload, dict) else None
    detail = str(detail) if detail is not None else None
    if reply.status == 429:
        delay = reply.retry_after()
        delay = delay if delay is not None else throttle_delay(detail)
        return reply.fail(RateLimited, detail or "throttled", delay)
    if detail and reply.status >= 400:
        return error_for_status(reply, detail)
    return None


def theme_family(themes: Iterable[RebrickableTheme], root_id: int) -> list[int]:
    """`root_id` and the ids of all its descendants, root first."""
    children: dict[int, list[int]] = {}
    for theme in themes:
        if theme.parent_id is not None:
            children.setdefault(theme.parent_id, []).append(theme.id)
    family, queue = [], [root_id]
    while queue:
        theme_id = queue.pop(0)
        if theme_id not in family:
            family.append(theme_id)
            queue.extend(sorted(children.get(theme_id, [])))
    return family


def parse_theme(obj: Any) -> RebrickableTheme:
    endpoint = "/lego/themes/"
    theme = parse(RebrickableThemeJson, obj, service=SERVICE, endpoint=endpoint, record=named("theme", obj, "id"))
    return RebrickableTheme(theme.id, theme.parent_id, theme.name)


def parse_set(obj: Any) -> RebrickableSet:
    found = parse(RebrickableSetJson, obj, service=SERVICE, endpoint="/lego/sets/", record=named("set", obj, "set_num"))
    return RebrickableSet(found.set_num, found.name, found.year, found.theme_id, found.num_parts, found.set_img_url)


def parse_minifig(obj: Any, endpoint: str = "/lego/minifigs/") -> RebrickableMinifig:
    record = named("minifig", obj, "set_num")
    fig = parse(RebrickableMinifigJson, obj, service=SERVICE, endpoint=endpoint, record=record)
    return RebrickableMinifig(
        fig_num=fig.set_num,
        name=fig.name,
        num_parts=fig.num_parts,
        img_url=fig.set_img_url,
        url=fig.set_url,
        last_modified=fig.last_modified_dt,
    )


def parse_set_minifig(obj: Any, endpoint: str) -> SetMinifig:
    record = named("set minifig", obj, "set_num")
    fig = parse(RebrickableSetMinifigJson, obj, service=SERVICE, endpoint=endpoint, record=record)
    return SetMinifig(fig_num=fig.set_num, name=fig.set_name, quantity=fig.quantity or 1, img_url=fig.set_img_url)


class RebrickableClient:
    """Rebrickable API v3 over HTTP; see the module docstring for what it cannot do."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        page_size: int = MAX_PAGE_SIZE,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        before_request: BeforeRequest | None = None,
        on_throttled: Throttled | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._headers = {"Authorization": f"key {api_key}"}
        self._http = HttpSource(SERVICE, timeout_s=timeout_s, retry=retry, before_request=before_request,
                                on_throttled=on_throttled)
        self._themes: list[RebrickableTheme] | None = None

    def close(self) -> None:
        self._http.close()

    def get_themes(self) -> list[RebrickableTheme]:
        """All themes (read once per client, then remembered)."""
        if self._themes is None:
            self._themes = [parse_theme(obj) for obj in self._collect("/lego/themes/", {})]
        return self._themes

    def theme_id(self, name: str) -> int:
        """The id of the theme called `name` (any case), preferring a top-level one."""
        matches = [theme for theme in self.get_themes() if theme.name.casefold() == name.strip().casefold()]
        if not matches:
            raise RecordNotFound(SERVICE, "/lego/themes/", f"no theme is called {name!r}")
        matches.sort(key=lambda theme: (theme.parent_id is not None, theme.id))
        return matches[0].id

    def get_sets(self, theme_id: int, min_year: int | None = None, max_year: int | None = None) -> list[RebrickableSet]:
        params = {"theme_id": theme_id, "min_year": min_year, "max_year": max_year}
        return [parse_set(obj) for obj in self._collect("/lego/sets/", params)]

    def get_set_minifigs(self, set_num: str) -> list[SetMinifig]:
        path = f"/lego/sets/{quote(set_num, safe='')}/minifigs/"
        return [parse_set_minifig(obj, path) for obj in self._collect(path, {})]

    def get_minifigs(self, theme_id: int | None = None, set_num: str | None = None) -> list[RebrickableMinifig]:
        """`/lego/minifigs/` filtered by `in_theme_id` and/or `in_set_num`."""
        params = {"in_theme_id": theme_id, "in_set_num": set_num}
        return [parse_minifig(obj) for obj in self._collect("/lego/minifigs/", params)]

    def get_minifig(self, fig_num: str) -> RebrickableMinifig:
        path = f"/lego/minifigs/{quote(fig_num, safe='')}/"
        return parse_minifig(self._get(f"{self.base_url}{path}", path, None), path)

    def minifigs_by_theme_and_year(
        self, theme_name: str, year: int, *, include_subthemes: bool = True
    ) -> list[CatalogFigure]:
        """The figures in the theme's sets released in `year`, each once, by `fig_num`.

        Minifigs have no year, so this lists the sets of the theme and year,
        then each set's minifigs. With `include_subthemes` (the default; a user
        asking for "Star Wars" expects its "Ultimate Collector Series" sets)
        every descendant theme is asked for explicitly, one `theme_id` at a
        time, so the answer does not depend on whether Rebrickable's filter
        includes child themes (UNVERIFIED in the reference).
        """
        sets: dict[str, RebrickableSet] = {}
        for theme_id in self._theme_ids(theme_name, include_subthemes):
            sets.update((s.set_num, s) for s in self.get_sets(theme_id, min_year=year, max_year=year))
        names: dict[str, str] = {}
        images: dict[str, str | None] = {}
        in_sets: dict[str, set[str]] = {}
        for set_num in sorted(sets):
            for fig in self.get_set_minifigs(set_num):
                names.setdefault(fig.fig_num, fig.name)
                images.setdefault(fig.fig_num, fig.img_url)
                in_sets.setdefault(fig.fig_num, set()).add(set_num)
        return [
            CatalogFigure(fig_num, names[fig_num], tuple(sorted(in_sets[fig_num])), images[fig_num])
            for fig_num in sorted(names)
        ]

    def minifigs_by_theme(self, theme_name: str, *, include_subthemes: bool = True) -> list[RebrickableMinifig]:
        """Every figure of the theme via `in_theme_id`, each once, by `fig_num`.

        Child themes are included as in `minifigs_by_theme_and_year`.
        """
        figures: dict[str, RebrickableMinifig] = {}
        for theme_id in self._theme_ids(theme_name, include_subthemes):
            for fig in self.get_minifigs(theme_id=theme_id):
                figures.setdefault(fig.fig_num, fig)
        return [figures[fig_num] for fig_num in sorted(figures)]

    def _theme_ids(self, theme_name: str, include_subthemes: bool) -> list[int]:
        root = self.theme_id(theme_name)
        return theme_family(self.get_themes(), root) if include_subthemes else [root]

    def _collect(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every `results` item of a paged list, following `next` to the end."""
        wanted = {key: value for key, value in params.items() if value is not None}
        query: dict[str, Any] | None = {**wanted, "page_size": self.page_size}
        url: str | None = f"{self.base_url}{path}"
        seen: set[str] = set()
        results: list[Any] = []
        while url is not None:
            seen.add(url)
            reply = self._get(url, path, query)
            page = parse(RebrickablePageJson, reply, service=SERVICE, endpoint=path, record="page")
            results.extend(page.results)
            url, query = page.next, None
            if url is not None:
                self._check_next(url, path, seen)
        return results

    def _check_next(self, url: str, path: str, seen: set[str]) -> None:
        # The key travels in a header: never send it to a host other than the API's.
        try:
            host = urlsplit(url).netloc.lower()
        except ValueError:  # e.g. "http://[::1": an unclosed IPv6 address
            raise PermanentSourceError(SERVICE, path, f"next page {url!r} is not a URL") from None
        if host != urlsplit(self.base_url).netloc.lower():
            raise PermanentSourceError(SERVICE, path, f"next page {url!r} is not on the API's host; not following")
        if url in seen:
            raise PermanentSourceError(SERVICE, path, f"next page {url!r} was already read; the paging loops")

    def _get(self, url: str, path: str, params: dict[str, Any] | None) -> Any:
        return self._http.call("GET", url, path, params=params, headers=self._headers, check=check_reply)
