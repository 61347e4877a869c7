"""Both runners' logic with `now` injected, on the real PostgreSQL: claims, DST days, stalls, failed sends.

The runners' loops are replayed on a simulated clock: periodiq's (validate, its own
`Scheduler.send_actors`, sleep until the earliest `next_valid_date`) and
APScheduler's (each job woken at its `TickTrigger` time, plus the sweep). Messages
go to a stub broker, so every message sent can be counted.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
import pendulum
import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from periodiq import Scheduler
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError

from pipeline.db import session_scope
from pipeline.models import Run, ScheduleTick
from pipeline.scheduling.cron import ticks_between
from pipeline.scheduling.table import ON_TIME, ScheduleTable, parse_table
from pipeline.scheduling.ticks import schedule_overview
from pipeline.sql import ticks
from schedules.apscheduler import TickTrigger
from schedules.beat import STALE_CLAIM, Beat, as_utc
from schedules.proxies import register_proxies

pytestmark = pytest.mark.usefixtures("services")

MS, S, MIN, H = timedelta(milliseconds=1), timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def at_least(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


@pytest.fixture()
def stub() -> Iterator[StubBroker]:
    broker = StubBroker(middleware=[])

    @dramatiq.actor(broker=broker, queue_name="processing", actor_name="aggregate")
    def aggregate(target_date: str | None = None) -> None: ...

    yield broker
    broker.close()


@pytest.fixture()
def prefix() -> Iterator[str]:
    """A unique prefix for schedule names; this test's ticks are deleted afterwards."""
    value = f"t{uuid.uuid4().hex[:8]}-"
    yield value
    with session_scope() as session:
        session.execute(delete(ScheduleTick).where(ScheduleTick.schedule_name.startswith(value)))


def table(prefix: str, *entries: dict[str, Any]) -> ScheduleTable:
    schedules = [{"actor": "aggregate", **e, "name": prefix + e["name"]} for e in entries]
    return parse_table({"schedules": schedules}, "test")


def sent(broker: StubBroker) -> list[Message]:
    return [Message.decode(data) for data in broker.queues["processing"].queue]


def claims(prefix: str) -> list[ScheduleTick]:
    with session_scope() as session:
        return list(session.scalars(
            select(ScheduleTick).where(ScheduleTick.schedule_name.startswith(prefix))
            .order_by(ScheduleTick.schedule_name, ScheduleTick.scheduled_for)
        ))


def run_both(schedule: ScheduleTable, broker: StubBroker, start: datetime, end: datetime, seed: int = 5) -> None:
    """A periodiq process and an APScheduler process on one table, each woken a random 0-300 ms late."""
    rng = random.Random(seed)
    clock = SimClock(start)
    pq = Beat(schedule, broker, "periodiq", clock=clock, sleep=clock.sleep, claimed_by="sim:periodiq")
    ap = Beat(schedule, broker, "apscheduler", clock=clock, sleep=clock.sleep, claimed_by="sim:apscheduler")
    proxies = register_proxies(pq, broker, sweep_interval=10 * MIN)
    periodiq = Scheduler(actors=proxies)
    triggers = {e.name: TickTrigger(e) for e in schedule.enabled}
    ap_jobs = {name: t.get_next_fire_time(None, start) for name, t in triggers.items()}
    ap_sweep, pq_wake = start, start
    while True:
        # The next wake-up of either process; at a shared instant, a random one goes first.
        wakes = [(pq_wake, "periodiq"), (ap_sweep, "sweep"), *((t, job) for job, t in ap_jobs.items())]
        wake, what = min(wakes, key=lambda w: (w[0], rng.random()))
        if wake > end:
            return
        clock.at_least(wake + rng.randrange(300) * MS)
        if what == "periodiq":  # periodiq's Scheduler.schedule(), with its clock
            now = pendulum.instance(clock() + 0.5 * S).replace(microsecond=0)
            periodiq.send_actors([a for a in proxies if a.options["periodic"].validate(now)], now)
            pq_wake = min(as_utc(a.options["periodic"].next_valid_date(now)) for a in proxies)
        elif what == "sweep":
            ap.sweep()
            ap_sweep += 10 * MIN
        else:  # APScheduler's _process_jobs for one due job
            ap.check(schedule.get(what))  # type: ignore[arg-type]
            ap_jobs[what] = triggers[what].get_next_fire_time(wake, clock())


def local_day(zone: str, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return (datetime.combine(day, time(), tz).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC))


@pytest.mark.parametrize(
    ("zone", "day", "daily", "daily_fires"),
    [
        ("Europe/London", date(2024, 3, 31), "30 1 * * *", utc(2024, 3, 31, 1, 30)),
        ("Europe/London", date(2024, 10, 27), "30 1 * * *", utc(2024, 10, 27, 0, 30)),
        ("America/New_York", date(2024, 3, 10), "30 2 * * *", utc(2024, 3, 10, 7, 30)),
        ("America/New_York", date(2024, 11, 3), "30 1 * * *", utc(2024, 11, 3, 5, 30)),
    ],
)
def test_two_runners_of_both_kinds_fire_each_dst_tick_exactly_once(
    stub: StubBroker, prefix: str, zone: str, day: date, daily: str, daily_fires: datetime
) -> None:
    schedule = table(prefix, {"name": "daily", "cron": daily, "timezone": zone, "kwargs": {"target_date": None}},
                     {"name": "hourly", "cron": "0 * * * *", "timezone": zone})
    begin, end = local_day(zone, day)
    run_both(schedule, stub, begin - H, end + H)

    found = claims(prefix)
    by_entry = {
        name: [c.scheduled_for for c in found if c.schedule_name == prefix + name] for name in ("daily", "hourly")
    }
    assert by_entry["daily"] == [daily_fires]
    hourly = schedule.get(prefix + "hourly")
    assert hourly is not None
    assert by_entry["hourly"] == ticks_between(hourly.cron, hourly.zone, begin - H - ON_TIME, end + H)
    short_or_long = 23 if day.month == 3 else 25
    assert len([t for t in by_entry["hourly"] if begin <= t < end]) == short_or_long
    assert {c.runner for c in found} == {"periodiq", "apscheduler"}  # a real race
    assert all(c.sent_at is not None and not c.catch_up and 0 <= c.late_by_ms < 1000 for c in found)

    messages = sent(stub)
    keys = Counter((m.options["schedule_name"], m.options["scheduled_for"]) for m in messages)
    assert set(keys.values()) == {1}  # every message once
    assert sorted(keys) == sorted((c.schedule_name, c.scheduled_for.isoformat()) for c in found)
    assert {m.message_id for m in messages} == {c.message_id for c in found}
    daily_message = next(m for m in messages if m.options["schedule_name"] == prefix + "daily")
    assert (daily_message.actor_name, daily_message.kwargs) == ("aggregate", {"target_date": None})
    assert daily_message.options["scheduled_for"] == daily_fires.isoformat()


def test_a_runner_restarted_within_the_ticks_minute_does_not_send_it_again(stub: StubBroker, prefix: str) -> None:
    schedule = table(prefix, {"name": "minutely", "cron": "* * * * *"})
    clock = SimClock(utc(2024, 6, 3, 1, 0, 0, 200_000))
    first = Beat(schedule, stub, "apscheduler", clock=clock, claimed_by="host:1")
    first.sweep()
    clock.now = utc(2024, 6, 3, 1, 0, 40)
    Beat(schedule, stub, "periodiq", clock=clock, claimed_by="host:2").sweep()  # the same process, restarted
    assert [(c.scheduled_for, c.claimed_by) for c in claims(prefix)] == [(utc(2024, 6, 3, 1), "host:1")]
    assert len(sent(stub)) == 1


@pytest.mark.parametrize(
    ("catch_up", "expected"), [(None, []), ({"policy": "latest", "grace": "6h"}, [utc(2024, 6, 3, 4)])]
)
def test_a_stalled_runner_follows_the_catch_up_policy(
    stub: StubBroker, prefix: str, catch_up: Any, expected: list[datetime], caplog: pytest.LogCaptureFixture
) -> None:
    entry: dict[str, Any] = {"name": "hourly", "cron": "0 * * * *"}
    if catch_up:
        entry["catch_up"] = catch_up
    schedule = table(prefix, entry)
    clock = SimClock(utc(2024, 6, 3, 1, 0, 1))
    beat = Beat(schedule, stub, "apscheduler", clock=clock)
    beat.sweep()
    clock.now = utc(2024, 6, 3, 4, 20)  # suspended from 01:00:01 to 04:20
    beat.sweep()
    late = [c for c in claims(prefix) if c.scheduled_for > utc(2024, 6, 3, 1)]
    assert [c.scheduled_for for c in late] == expected
    assert all(c.catch_up and c.late_by_ms == 20 * 60_000 for c in late)
    skipped = "2 missed tick(s), the latest 2024-06-03T03" if catch_up else "3 missed tick(s), the latest 2024-06-03T04"
    assert f"hourly: skipping {skipped}:00:00+00:00" in caplog.text


def test_a_failed_send_keeps_the_claim_and_the_sweep_sends_it_with_the_same_message_id(
    stub: StubBroker, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = table(prefix, {"name": "daily", "cron": "0 1 * * *"})
    clock = SimClock(utc(2024, 6, 3, 1, 0, 0, 100_000))
    beat = Beat(schedule, stub, "periodiq", clock=clock)

    def down(message: Message, *, delay: int | None = None) -> Message:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(stub, "enqueue", down)
    assert beat.check(schedule.entries[0]) == []
    [claim] = claims(prefix)
    assert claim.sent_at is None and claim.send_error == "ConnectionError: broker unreachable"
    with session_scope() as session:
        [view] = schedule_overview(session, schedule, clock())
    assert view["state"] == "unsent" and view["last_tick"]["send_error"] == "ConnectionError: broker unreachable"

    monkeypatch.undo()
    clock.now += 30 * S
    beat.sweep()
    [claim] = claims(prefix)
    assert claim.sent_at is not None and claim.send_error is None
    [message] = sent(stub)
    assert message.message_id == claim.message_id
    assert message.options == {"schedule_name": prefix + "daily", "scheduled_for": "2024-06-03T01:00:00+00:00"}
    beat.sweep()
    assert len(sent(stub)) == 1


def test_another_processes_unsent_claim_is_sent_once_it_is_stale(stub: StubBroker, prefix: str) -> None:
    schedule = table(prefix, {"name": "daily", "cron": "0 1 * * *"})
    tick, now = utc(2024, 6, 3, 1), datetime.now(UTC)
    with session_scope() as session:
        tick_id = ticks.claim_tick(session, schedule_name=prefix + "daily", scheduled_for=tick, claimed_by="gone:1",
                                   runner="periodiq", message_id="m-1", late_by_ms=5, catch_up=False)
    beat = Beat(schedule, stub, "apscheduler", clock=lambda: now)
    beat.sweep()
    assert sent(stub) == []  # fresh: its process may be sending it right now
    with session_scope() as session:
        session.execute(update(ScheduleTick).where(ScheduleTick.id == tick_id)
                        .values(claimed_at=now - STALE_CLAIM - S))
    beat.sweep()
    assert [m.message_id for m in sent(stub)] == ["m-1"]
    assert claims(prefix)[0].sent_at is not None


def test_a_claim_the_database_refused_is_tried_again_at_the_next_check(
    stub: StubBroker, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = table(prefix, {"name": "minutely", "cron": "* * * * *"})
    clock = SimClock(utc(2024, 6, 3, 1, 0, 0, 100_000))
    beat = Beat(schedule, stub, "apscheduler", clock=clock)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(ticks, "claim_tick", refused)
    assert beat.check(schedule.entries[0]) == []
    monkeypatch.undo()
    clock.now += 20 * S  # the sweep, while the tick is still on time
    beat.sweep()
    assert [c.scheduled_for for c in claims(prefix)] == [utc(2024, 6, 3, 1)]


def test_the_trigger_wakes_apscheduler_at_the_cron_ticks() -> None:
    schedule = parse_table({"schedules": [
        {"name": "n", "cron": "30 1 * * *", "timezone": "Europe/London", "actor": "a"},
        {"name": "h", "cron": "0 * * * *", "timezone": "America/New_York", "actor": "a"},
    ]}, "t")
    for entry in schedule.entries:
        trigger, start = TickTrigger(entry), utc(2024, 10, 26)
        fired, at = [], trigger.get_next_fire_time(None, start)
        while at < utc(2024, 11, 5):
            fired.append(at)
            at = trigger.get_next_fire_time(at, at + 50 * MS)
        assert fired == ticks_between(entry.cron, entry.zone, start - MS, utc(2024, 11, 5) - MS)
    assert TickTrigger(schedule.entries[1]).get_next_fire_time(None, utc(2024, 6, 3, 1)) == utc(2024, 6, 3, 1)


def test_the_overview_says_what_fired_what_is_late_and_what_was_missed(prefix: str) -> None:
    schedule = table(
        prefix,
        {"name": "ok", "cron": "0 1 * * *"},
        {"name": "late", "cron": "0 1 * * *", "catch_up": {"policy": "latest", "grace": "6h"}},
        {"name": "missed", "cron": "0 1 * * *"},
        {"name": "off", "cron": "0 1 * * *", "enabled": False},
    )
    now = utc(2024, 6, 3, 2)
    with session_scope() as session:
        for name, tick in (("ok", utc(2024, 6, 3, 1)), ("late", utc(2024, 6, 2, 1)), ("missed", utc(2024, 6, 2, 1))):
            tid = ticks.claim_tick(session, schedule_name=prefix + name, scheduled_for=tick, claimed_by="h:1",
                                   runner="periodiq", message_id=f"{prefix}{name}", late_by_ms=12, catch_up=False)
            assert tid is not None
            ticks.mark_sent(session, tid)
        session.add(Run(message_id=f"{prefix}ok", status="succeeded", status_at=now, actor="aggregate",
                        scheduled_for=utc(2024, 6, 3, 1), started_at=utc(2024, 6, 3, 1, 0, 2),
                        finished_at=utc(2024, 6, 3, 1, 0, 3)))
    try:
        with session_scope() as session:
            view = {v["name"].removeprefix(prefix): v for v in schedule_overview(session, schedule, now)}
    finally:
        with session_scope() as session:
            session.execute(delete(Run).where(Run.message_id == f"{prefix}ok"))
    assert {k: v["state"] for k, v in view.items()} == {
        "ok": "ok", "late": "late", "missed": "missed", "off": "disabled"}
    ok = view["ok"]
    assert ok["next_tick"] == "2024-06-04T01:00:00+00:00" and ok["due_tick"] == "2024-06-03T01:00:00+00:00"
    assert ok["last_tick"]["claimed_by"] == "h:1" and ok["last_tick"]["runner"] == "periodiq"
    assert ok["last_tick"]["run"] == {"status": "succeeded", "started_at": "2024-06-03T01:00:02+00:00",
                                      "finished_at": "2024-06-03T01:00:03+00:00", "late_by_ms": 2000, "error": None}
    assert view["missed"]["last_tick"]["scheduled_for"] == "2024-06-02T01:00:00+00:00"
    leap = table(prefix, {"name": "leap", "cron": "0 0 29 2 *"})
    with session_scope() as session:
        [waiting] = schedule_overview(session, leap, utc(2025, 6, 3))
    assert (waiting["state"], waiting["due_tick"], waiting["last_tick"]) == ("waiting", None, None)
    assert waiting["next_tick"] == "2028-02-29T00:00:00+00:00"


def test_apschedulers_own_cron_trigger_would_run_a_fall_back_day_twice() -> None:
    # Why the APScheduler runner wakes on TickTrigger (pipeline/cron.py) and not on CronTrigger.
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab("30 1 * * *", timezone=ZoneInfo("Europe/London"))
    first = trigger.get_next_fire_time(None, utc(2024, 10, 27))
    second = trigger.get_next_fire_time(first, first)
    # 01:30 BST, then 01:30 GMT (an ambiguous wall time compares unequal across zones: convert first)
    assert (first.astimezone(UTC), second.astimezone(UTC)) == (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30))
    [entry] = parse_table({"schedules": [{"name": "n", "cron": "30 1 * * *", "timezone": "Europe/London",
                                          "actor": "a"}]}, "t").entries
    ours = TickTrigger(entry)
    assert ours.get_next_fire_time(first, first) == utc(2024, 10, 28, 1, 30)
