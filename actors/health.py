"""health_check: proves the whole path works (broker, worker, database, Redis, run history)."""

from __future__ import annotations

from typing import Any

import dramatiq

import actors
from actors.middleware.history import worker_id
from pipeline.clock import utcnow
from pipeline.ops.health import check_all
from pipeline.settings import get_settings


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=30_000)
def health_check() -> dict[str, Any]:
    report = check_all(get_settings())
    # This worker's run history: written by the sidecar, or by its own thread.
    history = actors.stack.writer.state()
    report["checks"]["history"] = history
    report["ok"] = report["ok"] and history["ok"]
    return {**report, "worker": worker_id(), "checked_at": utcnow().isoformat()}
