"""Brickset API v3: themes, sets, and a user's minifig collection (API_REFERENCE §1).

Every method is POSTed as a form to `{base}/{method}`, with `apiKey`, and for
`getSets`/`getMinifigCollection` always `userHash` (maybe empty) and `params`
(a JSON object in one string field). Errors come as HTTP 200 with
`{"status":"error","message":…}`.

What Brickset cannot do: it has no minifig catalogue. `getMinifigCollection`
is the only minifig read; it needs a logged-in user (`username`/`password`),
has no theme, year or paging filter, and its records carry no year. A theme
is derived from the first segment of the record's `category` path.
`getSets` counts against a small daily key quota ("API limit exceeded").
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    QuotaExceeded,
    SourceError,
)
from pipeline.sources.http import (
    BeforeRequest,
    HttpSource,
    Reply,
    RetryPolicy,
    error_for_status,
)
from pipeline.sources.payload import named, parse
from pipeline.sources.replies import (
    BricksetListingJson,
    BricksetLoginJson,
    BricksetMinifigJson,
    BricksetMinifigsJson,
    BricksetSetJson,
    BricksetSetsJson,
    BricksetThemeJson,
    BricksetThemesJson,
)

log = logging.getLogger(__name__)

SERVICE = "brickset"
MAX_PAGE_SIZE = 500
EVERY_NUMBER = tuple("0123456789")  # every BrickLink minifig number holds a digit


class InvalidUserHash(AuthError):
    """Brickset no longer accepts the user hash; log in again."""


@dataclass(frozen=True)
class BricksetTheme:
    name: str
    set_count: int | None
    subtheme_count: int | None
    year_from: int | None
    year_to: int | None


@dataclass(frozen=True)
class BricksetSet:
    set_id: int
    number: str
    number_variant: int
    name: str
    year: int | None
    theme: str | None
    subtheme: str | None
    pieces: int | None
    minifig_count: int | None  # Brickset gives a count only, never the figures

    @property
    def set_number(self) -> str:
        """The number as Brickset and Rebrickable write it, e.g. `7101-1`."""
        return f"{self.number}-{self.number_variant}"


@dataclass(frozen=True)
class BricksetMinifig:
    minifig_number: str | None  # a BrickLink item number, e.g. sw0001a
    name: str | None
    category: str | None  # a path, e.g. "Star Wars / Star Wars Episode 1"
    owned_in_sets: int
    owned_loose: int
    owned_total: int
    wanted: bool

    @property
    def theme(self) -> str | None:
        """The first segment of `category`, e.g. "Star Wars"."""
        if not self.category:
            return None
        return self.category.split("/", 1)[0].strip() or None


def check_reply(reply: Reply) -> SourceError | None:
    """Brickset's verdict: the `status`/`message` envelope, whatever the HTTP status."""
    payload = reply.payload
    if not reply.decoded or not isinstance(payload, dict):
        return None
    status = payload.get("status")
    if status == "success":
        return None
    if status != "error":
        return error_for_status(reply) or reply.fail(
            PermanentSourceError, f"status is {status!r}, neither 'success' nor 'error'"
        )
    message = str(payload.get("message") or "no message")
    if "API limit exceeded" in message:
        return reply.fail(QuotaExceeded, message)
    if "Invalid user hash" in message:
        return reply.fail(InvalidUserHash, message)
    if "Invalid API key" in message or "Invalid username or password" in message:
        return reply.fail(AuthError, message)
    return error_for_status(reply, message) or reply.fail(PermanentSourceError, message)


def parse_theme(obj: Any, endpoint: str = "getThemes") -> BricksetTheme:
    theme = parse(BricksetThemeJson, obj, service=SERVICE, endpoint=endpoint, record=named("theme", obj, "theme"))
    return BricksetTheme(theme.theme, theme.setCount, theme.subthemeCount, theme.yearFrom, theme.yearTo)


def parse_set(obj: Any, endpoint: str = "getSets") -> BricksetSet:
    found = parse(BricksetSetJson, obj, service=SERVICE, endpoint=endpoint, record=named("set", obj, "setID"))
    return BricksetSet(
        set_id=found.setID,
        number=found.number,
        number_variant=found.numberVariant or 1,
        name=found.name,
        year=found.year,
        theme=found.theme,
        subtheme=found.subtheme,
        pieces=found.pieces,
        minifig_count=found.minifigs,
    )


def parse_minifig(obj: Any, endpoint: str = "getMinifigCollection") -> BricksetMinifig:
    record = named("minifig", obj, "minifigNumber")
    fig = parse(BricksetMinifigJson, obj, service=SERVICE, endpoint=endpoint, record=record)
    return BricksetMinifig(
        minifig_number=fig.minifigNumber,
        name=fig.name,
        category=fig.category,
        owned_in_sets=fig.ownedInSets or 0,
        owned_loose=fig.ownedLoose or 0,
        owned_total=fig.ownedTotal or 0,
        wanted=bool(fig.wanted),
    )


class BricksetClient:
    """Brickset API v3 over HTTP; see the module docstring for what it cannot do."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        before_request: BeforeRequest | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._username = username
        self._password = password
        self._http = HttpSource(SERVICE, timeout_s=timeout_s, retry=retry, before_request=before_request)
        self._user_hash: str | None = None
        self._login_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def check_key(self) -> None:
        """Raise `AuthError` unless Brickset accepts the API key."""
        self._call("checkKey", {})

    def login(self) -> str:
        """The user hash for `username`, logging in once and caching it."""
        with self._login_lock:
            if self._user_hash is None:
                if not self._username or not self._password:
                    raise AuthError(SERVICE, "login", "no Brickset username and password are configured")
                payload = self._call("login", {"username": self._username, "password": self._password})
                self._user_hash = parse(BricksetLoginJson, payload, service=SERVICE, endpoint="login",
                                        record="login reply").hash
            return self._user_hash

    def get_themes(self) -> list[BricksetTheme]:
        payload = self._call("getThemes", {})
        return [parse_theme(obj) for obj in self._listing(payload, "getThemes", BricksetThemesJson)[1]]

    def get_sets(
        self,
        theme: str | None = None,
        year: int | str | None = None,
        *,
        query: str | None = None,
        set_number: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[BricksetSet]:
        """Every set matching the filters, page by page until all `matches` are read or a page is short.

        `theme` and `year` take Brickset's comma-delimited lists too. Each page
        is one `getSets` call against the key's daily quota.
        """
        filters = {"theme": theme, "year": year, "query": query, "setNumber": set_number}
        params: dict[str, Any] = {key: str(value) for key, value in filters.items() if value is not None}
        if not params:
            raise ValueError("getSets needs a theme, year, query or set number")
        params["pageSize"] = max(1, min(page_size, MAX_PAGE_SIZE))
        sets: list[BricksetSet] = []
        page_number = 1
        while True:
            params["pageNumber"] = page_number
            payload = self._call("getSets", {"userHash": "", "params": _dump(params)})
            matches, page = self._listing(payload, "getSets", BricksetSetsJson)
            sets.extend(parse_set(obj) for obj in page)
            # A short page is the last, whatever `matches` claims: a wrong count must not page forever.
            if len(page) < params["pageSize"] or len(sets) >= matches:
                break
            page_number += 1
        if len(sets) < matches:
            log.warning("brickset getSets %s: read %d sets of %d matches", params, len(sets), matches)
        return sets

    def get_minifig_collection(
        self, query: str | None = None, owned: bool | None = None, wanted: bool | None = None
    ) -> list[BricksetMinifig]:
        """`getMinifigCollection` for the logged-in user (logging in on demand).

        `query` matches a minifig number or name with wildcards around it;
        without it only the user's owned figures come back. Not paged.
        """
        params: dict[str, Any] = {"query": query} if query else {}
        if owned:
            params["owned"] = 1
        if wanted:
            params["wanted"] = 1
        payload = self._call_as_user("getMinifigCollection", params)
        matches, records = self._listing(payload, "getMinifigCollection", BricksetMinifigsJson)
        if matches > len(records):
            log.warning("brickset getMinifigCollection: %d matches but %d records", matches, len(records))
        return [parse_minifig(obj) for obj in records]

    def minifigs_by_theme(self, theme: str, queries: Iterable[str] = EVERY_NUMBER) -> list[BricksetMinifig]:
        """The figures whose `category` starts with `theme`, each once, by number.

        Brickset has no theme filter, so this searches with each of `queries`
        and keeps the figures of the theme (its subthemes included: they are
        the later segments of `category`). The default, the ten digits,
        reaches every figure, since every BrickLink number holds a digit; a
        narrower query ("sw" for Star Wars) moves less data. Searches are not
        paged and do not count against the getSets quota.
        """
        wanted_theme = theme.strip().casefold()
        found: dict[str, BricksetMinifig] = {}
        for query in queries:
            for fig in self.get_minifig_collection(query=query):
                if fig.theme is not None and fig.theme.casefold() == wanted_theme:
                    found.setdefault(fig.minifig_number or f"name:{fig.name}", fig)
        return [found[key] for key in sorted(found)]

    def _call_as_user(self, method: str, params: dict[str, Any]) -> Any:
        user_hash = self.login()
        try:
            return self._call(method, {"userHash": user_hash, "params": _dump(params)})
        except InvalidUserHash:
            log.info("brickset %s: user hash refused, logging in again", method)
            with self._login_lock:
                if self._user_hash == user_hash:
                    self._user_hash = None
            return self._call(method, {"userHash": self.login(), "params": _dump(params)})

    def _call(self, method: str, fields: dict[str, str]) -> Any:
        form = {"apiKey": self._api_key, **fields}
        return self._http.call("POST", f"{self.base_url}/{method}", method, data=form, check=check_reply)

    @staticmethod
    def _listing(payload: Any, endpoint: str, model: type[BricksetListingJson]) -> tuple[int, list[Any]]:
        listing = parse(model, payload, service=SERVICE, endpoint=endpoint, record=f"{endpoint} reply")
        records = listing.records()
        return (len(records) if listing.matches is None else listing.matches), records


def _dump(params: dict[str, Any]) -> str:
    return json.dumps(params, separators=(",", ":"))
