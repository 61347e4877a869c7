"""periodiq's view of the table: one proxy actor per entry, and one for the sweep.

periodiq schedules every actor that has a `periodic` option: at each wake-up it
calls `options['periodic'].validate(now)`, then `actor.send_with_options(scheduled_at=now)`
for those that validate, and sleeps until the earliest `next_valid_date(now)`.
A proxy is a real Dramatiq actor whose `periodic` spec computes the entry's ticks
with pipeline/cron.py in the entry's zone, and whose send runs its function here,
in the scheduler process, instead of queueing it: the function claims the due
tick and sends the entry's own actor (schedules/beat.py). Proxies are never queued,
so no worker ever sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import pendulum
from dramatiq import Broker
from periodiq import PeriodiqMiddleware

from pipeline.scheduling.table import Entry, format_duration
from schedules.beat import SWEEP_INTERVAL, Beat, as_utc

logger = logging.getLogger(__name__)
SWEEP_ACTOR = "schedules:sweep"


def proxy_name(entry: Entry) -> str:
    return f"schedule:{entry.name}"


class ProxyActor(dramatiq.Actor[Any, None]):
    """An actor that periodiq 'sends' by calling it in place, with the wake-up time."""

    def send_with_options(  # type: ignore[override]
        self, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, delay: Any = None, **options: Any
    ) -> None:
        try:
            self(str(options.get("scheduled_at") or pendulum.now("UTC")))
        except Exception:  # periodiq's loop would die of it; the next wake-up or sweep tries again
            logger.exception("%s failed", self.actor_name)


class EntrySpec:
    """The `periodic` option of an entry's proxy."""

    def __init__(self, beat: Beat, entry: Entry) -> None:
        self.beat, self.entry = beat, entry

    def validate(self, now: datetime) -> bool:
        return self.beat.has_work(self.entry, now)

    def next_valid_date(self, now: datetime) -> pendulum.DateTime:
        return pendulum.instance(self.entry.next_tick(as_utc(now)))

    def __str__(self) -> str:
        return f"{self.entry.cron} {self.entry.timezone}"


class SweepSpec:
    """The `periodic` option of the sweep's proxy: at start, then every SWEEP_INTERVAL if there is work."""

    def __init__(self, beat: Beat, interval: timedelta = SWEEP_INTERVAL) -> None:
        self.beat, self.interval = beat, interval
        self.due: datetime | None = None

    def validate(self, now: datetime) -> bool:
        return self.due is None or (as_utc(now) >= self.due and self.beat.needs_sweep(now))

    def next_valid_date(self, now: datetime) -> pendulum.DateTime:
        now = as_utc(now)
        return pendulum.instance(self.due if self.due is not None and self.due > now else now + self.interval)

    def ran(self, now: datetime) -> None:
        self.due = as_utc(now) + self.interval

    def __str__(self) -> str:
        return f"every {format_duration(self.interval)}"


def register_proxies(beat: Beat, broker: Broker,
                     sweep_interval: timedelta = SWEEP_INTERVAL) -> list[dramatiq.Actor[Any, Any]]:
    """Declare the proxies on `broker` (with PeriodiqMiddleware, so the `periodic` option is accepted)."""
    if not any(isinstance(m, PeriodiqMiddleware) for m in broker.middleware):
        broker.add_middleware(PeriodiqMiddleware())
    proxies = [
        dramatiq.actor(
            actor_class=ProxyActor, actor_name=proxy_name(entry), broker=broker,
            queue_name=broker.get_actor(entry.actor).queue_name, periodic=EntrySpec(beat, entry),
        )(_checker(beat, entry))
        for entry in beat.table.enabled
    ]
    spec = SweepSpec(beat, sweep_interval)
    proxies.append(
        dramatiq.actor(actor_class=ProxyActor, actor_name=SWEEP_ACTOR, broker=broker,
                       periodic=spec)(_sweeper(beat, spec))
    )
    return proxies


def _checker(beat: Beat, entry: Entry) -> Callable[[str], None]:
    def check(now: str) -> None:
        beat.check(entry, datetime.fromisoformat(now))

    return check


def _sweeper(beat: Beat, spec: SweepSpec) -> Callable[[str], None]:
    def sweep(now: str) -> None:
        moment = datetime.fromisoformat(now)
        spec.ran(moment)
        beat.sweep(moment)

    return sweep
