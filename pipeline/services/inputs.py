"""Checking message arguments: anything wrong is an `InvalidInput` that names the argument.

Messages carry JSON, so a number may arrive as a string or a bool; each check
accepts only the documented type and range, and says what it got.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import date, timedelta
from typing import Any

from pipeline.errors import InvalidInput
from pipeline.quality import CONDITIONS, Condition, parse_figure_number
from pipeline.quality import parse_condition as quality_condition

MAX_RANGE_DAYS = 366  # a backfill covers at most a year (and a leap day) per message
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: Any, name: str) -> date:
    """A calendar day written YYYY-MM-DD."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{name} {value!r} is not a date (YYYY-MM-DD)")


def parse_past_day(value: Any, name: str, today: date, default: date) -> date:
    """A day not after today; `default` when the argument is None."""
    day = default if value is None else parse_day(value, name)
    if day > today:
        raise InvalidInput(f"{name} {day.isoformat()} is in the future (today is {today.isoformat()}, UTC)")
    return day


def parse_range(start: Any, end: Any, today: date) -> list[date]:
    """Every day from start to end, both included: start <= end <= today, at most MAX_RANGE_DAYS."""
    first, last = parse_day(start, "start_date"), parse_day(end, "end_date")
    if first > last:
        raise InvalidInput(f"start_date {first.isoformat()} is after end_date {last.isoformat()}")
    if last > today:
        raise InvalidInput(f"end_date {last.isoformat()} is in the future (today is {today.isoformat()}, UTC)")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidInput(f"start_date..end_date {first.isoformat()}..{last.isoformat()} has {days} days; "
                           f"at most {MAX_RANGE_DAYS} per backfill, split it")
    return [first + timedelta(days=i) for i in range(days)]


def parse_uuid(value: Any, name: str) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{name} {value!r} is not a minifigure id (a UUID)")


def parse_condition(value: Any) -> Condition | None:
    """None (every condition) or NEW, USED, SEALED in any case."""
    if value is None:
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return quality_condition(value)
    raise InvalidInput(f"condition {value!r} is unknown; use one of {', '.join(CONDITIONS)} or leave it out")


def parse_count(value: Any, name: str, low: int, high: int) -> int:
    """A whole number from low to high (a bool or a string is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} {value!r} is not a whole number")
    if not low <= value <= high:
        raise InvalidInput(f"{name} {value} is out of range: it must be from {low} to {high}")
    return value


def parse_text(value: Any, name: str) -> str | None:
    """None, or a string with something in it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} {value!r} must be a non-empty string or left out")
    return value.strip()


def parse_set_number(value: Any) -> str:
    """A BrickLink number (sw0001a, sw0001) or a Rebrickable id (fig-000123), lower-cased."""
    text = value.strip().casefold() if isinstance(value, str) else ""
    if not text or parse_figure_number(text) is None:
        raise InvalidInput(f"set_number {value!r} is not a minifigure number such as sw0001a or fig-000123")
    return text
