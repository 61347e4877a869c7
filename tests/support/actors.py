"""Actors used only by tests, declared on the project's broker."""

from __future__ import annotations

import time

import dramatiq

import actors  # noqa: F401  (sets the broker)


class FlakyError(RuntimeError):
    """Stands in for a transient fault that never clears."""


@dramatiq.actor(queue_name="default", max_retries=2, min_backoff=100, max_backoff=400, time_limit=10_000)
def always_flaky(label: str) -> None:
    raise FlakyError(f"upstream unavailable for {label}")


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=60_000)
def sleep_then_echo(seconds: float, value: str) -> dict:
    time.sleep(seconds)
    return {"value": value}


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=10_000)
def echo(value: str) -> dict:
    return {"value": value}


@dramatiq.actor(queue_name="default", max_retries=5, time_limit=10_000)
def reject_bad_day(day: str) -> str:
    from datetime import date

    from pipeline.errors import InvalidInput

    try:
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise InvalidInput(f"target_date {day!r} is not a date (YYYY-MM-DD)") from None


_held: list[bytes] = []


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=60_000)
def hold_memory(mb: int, seconds: float, value: str) -> dict:
    """Keeps `mb` MB alive in this process (written, so it is resident): a worker that grows."""
    _held.append(b"\x01" * (mb * 2**20))
    time.sleep(seconds)
    return {"value": value}
