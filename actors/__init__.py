"""Dramatiq actors of Minifig Stonks.

`import actors` sets the broker first, then declares every actor, so that
`dramatiq actors` starts a worker and a Python shell can send messages:

    >>> from actors import health_check
    >>> health_check.send().get_result(block=True, timeout=10_000)
"""

from actors.broker import build_stack

stack = build_stack()
broker = stack.broker

from actors.health import health_check  # noqa: E402  (actors need the broker set first)
from actors.processing import (  # noqa: E402
    aggregate_daily_snapshots,
    aggregate_snapshot_for_minifigure,
    backfill_snapshots,
    cleanup_old_listings,
)
from actors.scraping import (  # noqa: E402
    fetch_prices_for_minifigure,
    fetch_prices_for_minifigures,
    fetch_prices_for_set_number,
    fetch_then_aggregate,
    sync_catalog_from_brickset,
    update_all_prices,
)

__all__ = [
    "aggregate_daily_snapshots",
    "aggregate_snapshot_for_minifigure",
    "backfill_snapshots",
    "broker",
    "cleanup_old_listings",
    "fetch_prices_for_minifigure",
    "fetch_prices_for_minifigures",
    "fetch_prices_for_set_number",
    "fetch_then_aggregate",
    "health_check",
    "stack",
    "sync_catalog_from_brickset",
    "update_all_prices",
]
