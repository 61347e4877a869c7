"""Test actors for the dashboard: one that fails while a fault flag is set in Redis."""

from __future__ import annotations

import time

import dramatiq
import redis

import actors  # noqa: F401  (sets the broker)
from pipeline.settings import get_settings


class UpstreamDown(RuntimeError):
    """Stands in for a fault that an operator fixes, after which a requeue succeeds."""


def fault_key(label: str) -> str:
    return f"{get_settings().redis_namespace}:test-fault:{label}"


def set_fault(label: str, on: bool) -> None:
    client = redis.Redis.from_url(get_settings().redis_url)
    if on:
        client.set(fault_key(label), "1", ex=600)
    else:
        client.delete(fault_key(label))


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=10_000)
def fragile_fetch(label: str) -> dict:
    if redis.Redis.from_url(get_settings().redis_url).exists(fault_key(label)):
        raise UpstreamDown(f"price source down while fetching {label}")
    return {"label": label, "fetched": True}


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=30_000)
def slow_step(label: str, seconds: float = 3.0) -> dict:
    time.sleep(seconds)
    return {"label": label}
