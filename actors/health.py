"""health_check: proves the whole path works (broker, worker, database, Redis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dramatiq

from actors.history import worker_id
from pipeline.health import check_all
from pipeline.settings import get_settings


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=30_000)
def health_check() -> dict[str, Any]:
    report = check_all(get_settings())
    return {**report, "worker": worker_id(), "checked_at": datetime.now(UTC).isoformat()}
