"""The periodiq runner: `periodiq schedules.periodiq`.

periodiq imports this module for its broker (`import actors`) and schedules the
proxy actors declared here, one per table entry plus the sweep (schedules/proxies.py).

PeriodiqMiddleware is added to the broker in this process only, so that the
`periodic` option is accepted. Workers never install it: its worker-side rule
skips a message that starts more than 30 s after its `scheduled_at`, and a tick
picked up late by a busy worker must run late, not vanish. (The messages sent go
to the real actors, which have no `periodic` option and no `scheduled_at`, so even
a worker with the middleware would run them.) How late a run started is in the
run history: `runs.scheduled_for` against `started_at`.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import actors
from pipeline.scheduling.table import ScheduleError
from schedules.beat import Beat, load_checked_table
from schedules.proxies import register_proxies

logger = logging.getLogger(__name__)


def _stop(signum: int, _frame: Any) -> None:
    logger.info("received %s, stopping", signal.Signals(signum).name)
    raise SystemExit(0)  # unwinds periodiq's loop; atexit then flushes the run history


logging.getLogger("pika").setLevel(logging.WARNING)
try:
    table = load_checked_table(actors.broker)
except ScheduleError as exc:
    raise SystemExit(f"periodiq schedules.periodiq: {exc}") from None

beat = Beat(table, actors.broker, "periodiq")
proxies = register_proxies(beat, actors.broker)
signal.signal(signal.SIGTERM, _stop)
