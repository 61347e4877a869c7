"""The APScheduler runner: `python -m schedules` (`--check` validates the table and exits).

One BlockingScheduler job per entry, woken by `TickTrigger`, which asks
pipeline/cron.py for the entry's next tick (APScheduler's own CronTrigger places
DST-day ticks differently), plus the sweep every 30 s. Jobs run one at a time; a
job woken late (a stall) still runs, and `Beat.check` applies the catch-up policy.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pipeline.scheduling.table import Entry, ScheduleError
from schedules.beat import SWEEP_INTERVAL, Beat, as_utc

logger = logging.getLogger("schedules")


class TickTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is unannotated
    """Fires at an entry's ticks as pipeline/cron.py computes them."""

    __slots__ = ("entry",)

    def __init__(self, entry: Entry) -> None:
        self.entry = entry

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        if previous_fire_time is None:
            return self.entry.next_tick(as_utc(now) - timedelta(microseconds=1))  # a tick at `now` counts
        return self.entry.next_tick(max(as_utc(previous_fire_time), as_utc(now)))

    def __str__(self) -> str:
        return f"cron[{self.entry.cron} {self.entry.timezone}]"


def build_scheduler(beat: Beat) -> BlockingScheduler:
    scheduler = BlockingScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for entry in beat.table.enabled:
        scheduler.add_job(beat.check, TickTrigger(entry), args=(entry,), id=entry.name, name=entry.name)
    scheduler.add_job(beat.sweep, IntervalTrigger(seconds=SWEEP_INTERVAL.total_seconds()), id="sweep", name="sweep")
    return scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schedules", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate the schedule table, print it and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] [%(name)s] %(levelname)s %(message)s")
    for noisy in ("pika", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import actors
    from schedules.beat import load_checked_table

    try:
        table = load_checked_table(actors.broker)
    except ScheduleError as exc:
        print(f"python -m schedules: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for entry in table.entries:
            d = entry.describe()
            print(f"{d['name']}: {d['cron']} {d['timezone']} -> {d['actor']}({d['kwargs']}), catch_up {d['catch_up']}"
                  + ("" if entry.enabled else " [disabled]"))
        print(f"{table.source}: {len(table.entries)} entries, valid")
        return 0
    beat = Beat(table, actors.broker, "apscheduler")
    scheduler = build_scheduler(beat)

    def stop(signum: int, _frame: Any) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        if not scheduler.running:
            raise SystemExit(0)  # still in the start-up sweep
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    beat.sweep()  # at start: send unsent claims, catch up by each entry's policy
    scheduler.start()
    actors.stack.writer.close(timeout=10)
    return 0

