"""The schedule table as data: parsing, every way an entry can be wrong, and which ticks are due (pure)."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from pipeline.scheduling.cron import ticks_between
from pipeline.scheduling.table import (
    CatchUp,
    DueTick,
    Entry,
    ScheduleError,
    check_actors,
    due_ticks,
    first_check,
    load_table,
    parse_duration,
    parse_entry,
    parse_table,
    table_path,
)

ROOT = Path(__file__).resolve().parents[1]
S, MIN, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def entry(cron: str = "0 1 * * *", zone: str = "UTC", catch_up: object = None, **extra: object) -> Entry:
    raw = {"name": "e", "cron": cron, "timezone": zone, "actor": "echo", **extra}
    if catch_up is not None:
        raw["catch_up"] = catch_up
    return parse_entry(raw)


def test_the_default_table_is_seed_000s_four_beat_entries() -> None:
    table = load_table(table_path(None))
    assert table.source == str(ROOT / "schedules" / "default.yaml")
    got = {e.name: (str(e.cron), e.timezone, e.actor, dict(e.kwargs)) for e in table.entries}
    assert got == {
        "aggregate-snapshots-daily": ("0 1 * * *", "UTC", "aggregate_daily_snapshots", {}),
        "sync-catalog-daily": ("0 2 * * *", "UTC", "sync_catalog_from_brickset", {"limit": 500}),
        "update-prices-periodic": ("0 */6 * * *", "UTC", "update_all_prices", {"batch_size": 50}),
        "cleanup-old-listings-weekly": ("0 3 * * 0", "UTC", "cleanup_old_listings", {"days_to_keep": 90}),
    }
    sunday = table.get("cleanup-old-listings-weekly")
    assert sunday is not None and sunday.next_tick(utc(2024, 6, 3)) == utc(2024, 6, 9, 3)  # a Sunday
    six_hourly = table.get("update-prices-periodic")
    assert six_hourly is not None
    assert ticks_between(six_hourly.cron, six_hourly.zone, utc(2024, 6, 3), utc(2024, 6, 4)) == [
        utc(2024, 6, 3, 6), utc(2024, 6, 3, 12), utc(2024, 6, 3, 18), utc(2024, 6, 4)]
    # Every grace is shorter than the period, so a catch-up never doubles a run.
    for e in table.entries:
        assert e.catch_up.policy == "latest"
        period = e.next_tick(e.next_tick(utc(2024, 6, 3))) - e.next_tick(utc(2024, 6, 3))
        assert timedelta(0) < e.catch_up.grace < period


def test_the_setting_names_another_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump({"schedules": [
        {"name": "nightly", "cron": "30 1 * * *", "timezone": "Europe/London", "actor": "echo",
         "kwargs": {"value": "x"}, "catch_up": {"policy": "latest", "grace": "1h30m"}, "enabled": False},
        {"name": "hourly", "cron": "@hourly", "actor": "echo"},
    ]}))
    table = load_table(table_path(str(path)))
    nightly, hourly = table.entries
    assert (nightly.zone, nightly.kwargs, nightly.catch_up, nightly.enabled) == (
        ZoneInfo("Europe/London"), {"value": "x"}, CatchUp("latest", 90 * MIN), False)
    assert (hourly.timezone, hourly.kwargs, hourly.catch_up, hourly.enabled) == ("UTC", {}, CatchUp("skip"), True)
    assert table.enabled == (hourly,)


GOOD = {"name": "ok", "cron": "0 1 * * *", "actor": "echo"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cron": "61 * * * *"}, "cron '61 * * * *': minute field '61' is out of range 0-59"),
        ({"cron": "0 1 * *"}, "expected 5 fields"),
        ({"cron": 5}, "must be a string"),
        ({"timezone": "Europe/Lndon"}, "unknown time zone 'Europe/Lndon'"),
        ({"catch_up": {"policy": "all"}}, "policy must be one of skip, latest"),
        ({"catch_up": {"policy": "latest"}}, "policy latest needs a grace window"),
        ({"catch_up": {"policy": "latest", "grace": "soon"}}, "grace 'soon' is not a duration"),
        ({"catch_up": {"policy": "latest", "grace": 0}}, "must be more than zero"),
        ({"catch_up": {"policy": "skip", "grace": "1h"}}, "only applies to policy latest"),
        ({"catch_up": "latest"}, "must be `skip` or"),
        ({"actor": "not an actor"}, "is not an actor name"),
        ({"name": "has space"}, "name 'has space' must be"),
        ({"kwargs": ["a"]}, "kwargs must be a mapping"),
        ({"kwargs": {"day": date(2024, 1, 1)}}, "kwargs must be JSON values"),
        ({"enabled": "yes"}, "enabled must be true or false"),
        ({"crontab": "0 1 * * *"}, "unknown key(s) 'crontab'"),
        ({"cron": None}, "must be a string"),
    ],
)
def test_an_invalid_entry_is_refused_with_a_message_naming_it(change: dict, message: str) -> None:
    bad = {**GOOD, "name": "broken", **change}
    with pytest.raises(ScheduleError) as caught:
        parse_table({"schedules": [GOOD, bad]}, "ops.yaml")
    text = str(caught.value)
    assert text.startswith("schedule table ops.yaml is invalid:")
    assert "entry 2" in text and "entry 1" not in text
    assert message in text


def test_missing_fields_and_duplicate_names_are_named() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_table({"schedules": [GOOD, {"name": "x"}, dict(GOOD), "0 1 * * *"]}, "t.yaml")
    lines = str(caught.value).splitlines()[1:]
    assert lines == [
        "  entry 2 ('x'): missing cron, actor",
        "  entry 3 ('ok'): duplicate name; entry 1 has it too",
        "  entry 4: expected a mapping, got str",
    ]


@pytest.mark.parametrize("data", [None, [], {"schedule": []}, {"schedules": {}}, {"schedules": [], "extra": 1}])
def test_the_table_shape_is_checked(data: object) -> None:
    with pytest.raises(ScheduleError, match="expected a mapping with one key, `schedules`"):
        parse_table(data, "t.yaml")


def test_a_file_that_is_not_yaml_or_is_missing_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedules: [\n")
    with pytest.raises(ScheduleError, match=f"schedule table {bad}: not valid YAML"):
        load_table(bad)
    with pytest.raises(ScheduleError, match="cannot read it"):
        load_table(tmp_path / "absent.yaml")


def test_actors_and_their_arguments_are_checked_against_signatures() -> None:
    def aggregate_daily_snapshots(target_date: str | None = None) -> dict: ...
    def cleanup_old_listings(days_to_keep: int = 90) -> dict: ...

    signatures = {f.__name__: inspect.signature(f) for f in (aggregate_daily_snapshots, cleanup_old_listings)}
    table = parse_table({"schedules": [
        {"name": "agg", "cron": "0 1 * * *", "actor": "aggregate_daily_snapshots"},
        {"name": "clean", "cron": "0 3 * * 0", "actor": "cleanup_old_listings", "kwargs": {"days": 90}},
        {"name": "sync", "cron": "0 2 * * *", "actor": "sync_catalog_from_brickset"},
    ]}, "t.yaml")
    with pytest.raises(ScheduleError) as caught:
        check_actors(table, signatures)
    clean, sync = str(caught.value).splitlines()[1:]
    assert clean.startswith("  entry 'clean': kwargs {'days': 90} do not fit cleanup_old_listings(days_to_keep")
    assert clean.endswith("= 90): got an unexpected keyword argument 'days'")
    assert sync == ("  entry 'sync': unknown actor 'sync_catalog_from_brickset'; "
                    "registered actors: aggregate_daily_snapshots, cleanup_old_listings")
    check_actors(parse_table({"schedules": [GOOD | {"actor": "cleanup_old_listings", "kwargs": {"days_to_keep": 7}}]},
                             "t.yaml"), signatures)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("2w", 1209600), (600, 600)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


# Due ticks: (cron, policy, last checked, now) -> (fired, catch-up?, skipped count)
LATEST_6H = {"policy": "latest", "grace": "6h"}


@pytest.mark.parametrize(
    ("cron", "catch_up", "last", "now", "fired", "skipped"),
    [
        # A runner woken at the tick: on time.
        ("0 1 * * *", None, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 1, 0, 0, 300_000),
         [(utc(2024, 6, 3, 1), False)], 0),
        # Woken 59 s late: still on time; 60 s late: missed.
        ("0 1 * * *", None, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 1, 0, 59), [(utc(2024, 6, 3, 1), False)], 0),
        ("0 1 * * *", None, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 1, 1), [], 1),
        # Missed, policy latest within grace: the latest, once, as a catch-up.
        ("0 1 * * *", LATEST_6H, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 6, 59), [(utc(2024, 6, 3, 1), True)], 0),
        ("0 1 * * *", LATEST_6H, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 7, 1), [], 1),  # past the grace
        ("0 * * * *", LATEST_6H, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 4, 30), [(utc(2024, 6, 3, 4), True)], 3),
        # A tick on time supersedes the catch-up of older ones.
        ("0 * * * *", LATEST_6H, utc(2024, 6, 3, 0, 59), utc(2024, 6, 3, 4, 0, 5), [(utc(2024, 6, 3, 4), False)], 3),
        # Nothing due.
        ("0 1 * * *", LATEST_6H, utc(2024, 6, 3, 1), utc(2024, 6, 3, 12), [], 0),
    ],
)
def test_due_ticks(cron: str, catch_up: object, last: datetime, now: datetime,
                   fired: list[tuple[datetime, bool]], skipped: int) -> None:
    plan = due_ticks(entry(cron, catch_up=catch_up), last, now)
    assert [(d.scheduled_for, d.catch_up) for d in plan.fire] == fired
    assert len(plan.skipped) == skipped


@pytest.mark.parametrize(("catch_up", "fired"), [(None, []), (LATEST_6H, [DueTick(utc(2024, 6, 3, 1), True)])])
def test_a_scheduler_starting_after_a_tick_follows_the_policy(catch_up: object, fired: list[DueTick]) -> None:
    e, now = entry("0 1 * * *", catch_up=catch_up), utc(2024, 6, 3, 3)
    assert list(due_ticks(e, first_check(e, now), now).fire) == fired


def test_a_scheduler_restarted_within_the_ticks_minute_sees_it_on_time() -> None:
    # It fires it again, and the claim in PostgreSQL makes that a no-op (tests/test_schedule_beat.py).
    e, now = entry("* * * * *"), utc(2024, 6, 3, 1, 0, 40)
    assert list(due_ticks(e, first_check(e, now), now).fire) == [DueTick(utc(2024, 6, 3, 1))]


def run_continuously(e: Entry, start: datetime, end: datetime, sweep: timedelta = 30 * MIN) -> list[DueTick]:
    """What a runner that never stops fires: woken at each tick (a little late) and by its sweep."""
    fired: list[DueTick] = []
    last, tick, next_sweep = first_check(e, start), e.next_tick(start), start
    while min(tick, next_sweep) <= end:
        if tick <= next_sweep:
            now, tick = tick + 250 * timedelta(milliseconds=1), e.next_tick(tick)
        else:
            now, next_sweep = next_sweep, next_sweep + sweep
        fired += due_ticks(e, last, now).fire
        last = now
    return fired


def local(zone: str, day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(zone)).astimezone(UTC)


# The DST days of 2024 in both zones; daily and hourly entries; what fires (UTC).
DST_CASES = [
    # 01:30 GMT does not exist: 02:30 BST
    ("Europe/London", date(2024, 3, 31), "30 1 * * *", [utc(2024, 3, 31, 1, 30)]),
    ("Europe/London", date(2024, 10, 27), "30 1 * * *", [utc(2024, 10, 27, 0, 30)]),  # the first 01:30 only
    ("America/New_York", date(2024, 3, 10), "30 2 * * *", [utc(2024, 3, 10, 7, 30)]),  # 03:30 EDT
    ("America/New_York", date(2024, 11, 3), "30 1 * * *", [utc(2024, 11, 3, 5, 30)]),  # 01:30 EDT only
    ("Europe/London", date(2024, 3, 31), "0 * * * *", 23),
    ("Europe/London", date(2024, 10, 27), "0 * * * *", 25),
    ("America/New_York", date(2024, 3, 10), "0 * * * *", 23),
    ("America/New_York", date(2024, 11, 3), "0 * * * *", 25),
    ("America/New_York", date(2024, 11, 3), "*/30 1 * * *", 4),  # both 01:00-01:59 hours
]


@pytest.mark.parametrize(("zone", "day", "cron", "expected"), DST_CASES)
def test_dst_days_fire_each_tick_once_and_skip_none(zone: str, day: date, cron: str,
                                                     expected: list[datetime] | int) -> None:
    e = entry(cron, zone)
    begin, end = local(zone, day), local(zone, day + timedelta(days=1))
    fired = run_continuously(e, begin - H, end + H)
    on_the_day = [d.scheduled_for for d in fired if begin <= d.scheduled_for < end]
    if isinstance(expected, int):
        assert len(on_the_day) == expected
        assert all(b - a >= 30 * MIN for a, b in pairwise(on_the_day))
    else:
        assert on_the_day == expected
    assert [d.scheduled_for for d in fired] == ticks_between(e.cron, e.zone, first_check(e, begin - H), end + H)
    assert not any(d.catch_up for d in fired)
