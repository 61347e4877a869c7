"""The one clock: aware UTC datetimes. Pure code takes `now` as an argument instead."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
