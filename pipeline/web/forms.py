"""HTML form bodies (urlencoded), read without python-multipart, and parsing of form values."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime

from fastapi import HTTPException, Request

MAX_FORM_BYTES = 64 * 1024


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


def parse_when(value: str | None, name: str) -> datetime | None:
    """A time from a form or query: ISO 8601 (date, or date and time); naive means UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(422, f"{name}: {value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
