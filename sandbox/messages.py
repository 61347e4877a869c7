"""One HTTP exchange as the sandbox's services see it, free of the web server."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, parse_qsl, urlencode


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below the service's prefix: "/lego/sets/"
    full_path: str  # as received: "/rebrickable/api/v3/lego/sets/"
    query: str  # raw, without the "?"
    headers: Mapping[str, str]  # names looked up without regard to case
    body: bytes
    origin: str  # scheme and authority the client addressed: "http://127.0.0.1:54321"
    day: date  # the listing day: today in UTC, or the X-Sandbox-Date header

    @functools.cached_property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @functools.cached_property
    def form(self) -> dict[str, list[str]]:
        """The urlencoded body fields; empty for any other body."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return {}
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def url(self) -> str:
        return f"{self.origin}{self.full_path}" + (f"?{self.query}" if self.query else "")

    def url_with(self, **changes: str | None) -> str:
        """This request's absolute URL with some query parameters set (None drops one), order kept."""
        pairs = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True) if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        query = urlencode(pairs)
        return f"{self.origin}{self.full_path}" + (f"?{query}" if query else "")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def text_response(status: int, text: str, content_type: str = "text/html; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), content_type)
