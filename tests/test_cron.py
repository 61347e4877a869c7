"""Cron maths: parsing tables, ticks in UTC, DST days in named zones, and invariants."""

from __future__ import annotations

import calendar
import re
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.scheduling.cron import (
    LOOKBACK_DAYS,
    CronError,
    CronExpr,
    is_tick,
    next_tick,
    parse_zone,
    previous_tick,
    ticks_between,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # +10:30, and +11:00 in summer
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = [ZoneInfo("UTC"), LONDON, NEW_YORK, LORD_HOWE, KOLKATA]
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def upcoming(text: str, zone: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    expr, ticks = CronExpr.parse(text), []
    for _ in range(count):
        after = next_tick(expr, zone, after)
        ticks.append(after)
    return ticks


def local_day_bounds(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """Local midnight and the next local midnight, as instants."""
    begin = datetime.combine(day, time(), zone).astimezone(UTC)
    return begin, datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)


def local_day_ticks(text: str, zone: ZoneInfo, day: date) -> list[datetime]:
    begin, end = local_day_bounds(zone, day)
    return ticks_between(CronExpr.parse(text), zone, begin - US, end - US)


def dst_days(zone: ZoneInfo) -> list[date]:
    """Local days of 2024-2027 on which the zone's offset changes."""
    def noon_offset(day: date) -> timedelta | None:
        return datetime.combine(day, time(12), zone).utcoffset()
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(4 * 365 + 1)]
    return [d for d in days if noon_offset(d) != noon_offset(d - timedelta(days=1))]


DST_DAYS = {zone: dst_days(zone) for zone in ZONES}


def test_dst_days_are_the_changes_the_tables_rely_on() -> None:
    assert DST_DAYS[LONDON][:2] == [date(2024, 3, 31), date(2024, 10, 27)]
    assert DST_DAYS[NEW_YORK][:2] == [date(2024, 3, 10), date(2024, 11, 3)]
    assert DST_DAYS[LORD_HOWE][:2] == [date(2024, 4, 7), date(2024, 10, 6)]
    assert [len(DST_DAYS[z]) for z in ZONES] == [0, 8, 8, 8, 0]


# Parsing

@pytest.mark.parametrize(("text", "attribute", "expected"), [
    ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
    ("1-10/2 * * * *", "minutes", {1, 3, 5, 7, 9}),
    ("0,30,59 * * * *", "minutes", {0, 30, 59}),
    ("*/60 * * * *", "minutes", {0}),
    ("0 9-17 * * *", "hours", set(range(9, 18))),
    ("0 */6 * * *", "hours", {0, 6, 12, 18}),
    ("  0   12 * *  *  ", "hours", {12}),
    ("0 0 1,15 * *", "days_of_month", {1, 15}),
    ("0 0 */10 * *", "days_of_month", {1, 11, 21, 31}),
    ("0 0 29 2 *", "days_of_month", {29}),
    ("0 0 * jan-mar *", "months", {1, 2, 3}),
    ("0 0 * JUL,Dec *", "months", {7, 12}),
    ("0 0 * 1-12/3 *", "months", {1, 4, 7, 10}),
    ("0 0 * * mon-fri", "days_of_week", {1, 2, 3, 4, 5}),
    ("0 0 * * 0", "days_of_week", {0}),
    ("0 0 * * 7", "days_of_week", {0}),
    ("0 0 * * SUN", "days_of_week", {0}),
    ("0 0 * * 5-7", "days_of_week", {5, 6, 0}),
    ("0 0 * * 0-7", "days_of_week", set(range(7))),
    ("0 0 * * sat,sun", "days_of_week", {6, 0}),
    ("0 0 * * fri-sun", "days_of_week", {5, 6, 0}),
    ("0 0 * * sun-sat", "days_of_week", set(range(7))),
    ("0 0 * * sun-sun", "days_of_week", {0}),
])
def test_parse_fields(text: str, attribute: str, expected: set[int]) -> None:
    assert set(getattr(CronExpr.parse(text), attribute)) == expected


@pytest.mark.parametrize(("macro", "spelled_out"), [
    ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
])
def test_parse_macros(macro: str, spelled_out: str) -> None:
    expr = CronExpr.parse(macro)
    assert expr == CronExpr.parse(spelled_out)
    assert str(expr) == macro


@pytest.mark.parametrize(("text", "message"), [
    ("61 * * * *", "minute field '61' is out of range 0-59"),
    ("1,61 * * * *", "minute field '1,61': '61' is out of range 0-59"),
    ("5-70 * * * *", "minute field '5-70': '70' is out of range 0-59"),
    ("x * * * *", "minute field 'x' is not a number"),
    ("\u0663 * * * *", "minute field '\u0663' is not a number"),  # a non-ASCII digit
    ("*/0 * * * *", "minute field '*/0' has a step that is not a number in 1-60"),
    ("*/x * * * *", "minute field '*/x' has a step that is not a number in 1-60"),
    ("5/15 * * * *", "minute field '5/15' has a step without a range"),
    ("10-5 * * * *", "minute field '10-5' is a backwards range (10 > 5)"),
    ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
    ("-5 * * * *", "minute field '-5' is not a valid range"),
    ("* 24 * * *", "hour field '24' is out of range 0-23"),
    ("* * 0 * *", "day-of-month field '0' is out of range 1-31"),
    ("* * 32 * *", "day-of-month field '32' is out of range 1-31"),
    ("* * * 13 *", "month field '13' is out of range 1-12"),
    ("* * * foo *", "month field 'foo' is not a number or a name"),
    ("* * * jan/2 *", "month field 'jan/2' has a step without a range"),
    ("* * * * 8", "day-of-week field '8' is out of range 0-7"),
    ("* * * * funday", "day-of-week field 'funday' is not a number or a name"),
    ("0 0 30 2 *", "day-of-month field '30' never occurs in month field '2'"),
    ("0 0 31 apr,jun *", "day-of-month field '31' never occurs in month field 'apr,jun'"),
    ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("* * * * * *", "got 6"),
    ("", "got 0"),
    ("@reboot", "unknown macro '@reboot'"),
    ("@every 5m", "unknown macro '@every 5m'"),
])
def test_parse_rejects_with_field_and_value(text: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        CronExpr.parse(text)


def test_cron_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        CronExpr.parse("61 * * * *")


@pytest.mark.parametrize(("text", "fixed"), [
    ("30 1 * * *", True), ("0 1,13 * * *", True), ("0 9-17 * * *", True),
    ("@daily", True), ("@weekly", True),
    ("0 * * * *", False), ("@hourly", False), ("*/15 * * * *", False), ("* 1 * * *", False),
    ("*/15 1 * * *", False), ("0 */2 * * *", False), ("0 1-23/2 * * *", False), ("0-59/15 1 * * *", False),
])
def test_fixed_time(text: str, fixed: bool) -> None:
    assert CronExpr.parse(text).fixed_time is fixed


@pytest.mark.parametrize(("text", "day", "matches"), [
    ("0 0 13 * 5", date(2024, 9, 6), True),     # both restricted: a Friday is enough
    ("0 0 13 * 5", date(2024, 9, 13), True),
    ("0 0 13 * 5", date(2024, 9, 12), False),
    ("0 0 13 * *", date(2024, 9, 6), False),
    ("0 0 * * 5", date(2024, 9, 14), False),
    ("0 0 */2 * 1", date(2024, 9, 2), False),   # '*/2' is unrestricted: both must match
    ("0 0 */2 * 1", date(2024, 9, 9), True),
    ("0 0 */2 * 1", date(2024, 9, 11), False),
    ("0 0 13 jun 5", date(2024, 9, 13), False),  # the month restricts both
    ("0 0 30 2 mon", date(2024, 2, 5), True),    # no 30 February, but its Mondays
])
def test_day_matching_follows_vixie(text: str, day: date, matches: bool) -> None:
    assert CronExpr.parse(text).matches_day(day) is matches


def test_parse_zone() -> None:
    assert parse_zone("Europe/London") == LONDON


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "Europe", "../etc/passwd", "europe/london"])
def test_parse_zone_rejects_unknown(name: str) -> None:
    with pytest.raises(CronError, match=re.escape(f"unknown time zone {name!r}")):
        parse_zone(name)


@pytest.mark.parametrize("call", [
    lambda e, t: next_tick(e, LONDON, t), lambda e, t: previous_tick(e, LONDON, t),
    lambda e, t: ticks_between(e, LONDON, t, t), lambda e, t: ticks_between(e, LONDON, utc(2024, 1, 1), t),
    lambda e, t: is_tick(e, LONDON, t),
])
def test_naive_datetimes_are_rejected(call: Callable[[CronExpr, datetime], object]) -> None:
    with pytest.raises(ValueError, match="must be an aware datetime"):
        call(CronExpr.parse("0 * * * *"), datetime(2024, 5, 1, 12))


# Ticks in UTC

@pytest.mark.parametrize(("text", "after", "expected"), [
    ("*/15 * * * *", utc(2024, 5, 1, 10, 7, 30), utc(2024, 5, 1, 10, 15)),
    ("*/15 * * * *", utc(2024, 5, 1, 10, 15), utc(2024, 5, 1, 10, 30)),  # strictly after
    ("*/15 * * * *", utc(2024, 5, 1, 10, 14, 59, 999999), utc(2024, 5, 1, 10, 15)),
    ("1-10/2 * * * *", utc(2024, 5, 1, 10, 9), utc(2024, 5, 1, 11, 1)),
    ("@hourly", utc(2024, 5, 1, 23), utc(2024, 5, 2)),
    ("59 23 * * *", utc(2024, 5, 1, 23, 59, 0, 1), utc(2024, 5, 2, 23, 59)),
    ("0 0 1 * *", utc(2024, 1, 31, 12), utc(2024, 2, 1)),
    ("0 0 31 * *", utc(2024, 1, 31), utc(2024, 3, 31)),
    ("0 0 1 1 *", utc(2024, 6, 15), utc(2025, 1, 1)),
    ("@yearly", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1)),
    ("30 23 31 12 *", utc(2024, 12, 31, 23, 30), utc(2025, 12, 31, 23, 30)),
    ("0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)),
    ("0 0 29 2 */7", utc(2024, 3, 1), utc(2032, 2, 29)),  # a 29 February that is a Sunday
    ("0 9 * * mon-fri", utc(2024, 5, 3, 9), utc(2024, 5, 6, 9)),
    ("0 0 13 * 5", utc(2024, 9, 1), utc(2024, 9, 6)),
    ("0 0 13 * 5", utc(2024, 9, 6), utc(2024, 9, 13)),
    ("0 0 */2 * 1", utc(2024, 9, 1), utc(2024, 9, 9)),
    ("0 12 * jan,jul sun", utc(2024, 2, 1), utc(2024, 7, 7, 12)),
    ("0 0 30 2 mon", utc(2024, 1, 1), utc(2024, 2, 5)),
    ("0 * * * *", datetime(2024, 5, 1, 12, tzinfo=KOLKATA), utc(2024, 5, 1, 7)),  # 06:30 UTC
])
def test_next_tick_in_utc(text: str, after: datetime, expected: datetime) -> None:
    tick = next_tick(CronExpr.parse(text), UTC, after)
    assert tick == expected
    assert tick.tzinfo is UTC


@pytest.mark.parametrize(("text", "at_or_before", "expected"), [
    ("*/15 * * * *", utc(2024, 5, 1, 10, 15), utc(2024, 5, 1, 10, 15)),  # inclusive
    ("*/15 * * * *", utc(2024, 5, 1, 10, 14, 59), utc(2024, 5, 1, 10)),
    ("0 0 1 1 *", utc(2024, 6, 15), utc(2024, 1, 1)),
    ("0 9 * * mon-fri", utc(2024, 5, 6, 8, 59), utc(2024, 5, 3, 9)),
    ("0 0 31 * *", utc(2024, 3, 30), utc(2024, 1, 31)),
    ("0 0 29 2 *", utc(2025, 2, 28), utc(2024, 2, 29)),
    ("0 0 29 2 *", utc(2025, 3, 1, 23, 59), utc(2024, 2, 29)),  # 366 days back: the limit
    ("0 0 29 2 *", utc(2025, 3, 2), None),
])
def test_previous_tick_in_utc(text: str, at_or_before: datetime, expected: datetime | None) -> None:
    assert previous_tick(CronExpr.parse(text), UTC, at_or_before) == expected


def test_ticks_between_is_start_exclusive_end_inclusive() -> None:
    ticks = ticks_between(CronExpr.parse("*/15 * * * *"), UTC, utc(2024, 5, 1, 10), utc(2024, 5, 1, 11))
    assert ticks == [utc(2024, 5, 1, 10, 15), utc(2024, 5, 1, 10, 30), utc(2024, 5, 1, 10, 45), utc(2024, 5, 1, 11)]
    assert ticks_between(CronExpr.parse("* * * * *"), UTC, utc(2024, 5, 1, 11), utc(2024, 5, 1, 10)) == []


def test_next_tick_for_a_yearly_entry_takes_well_under_a_millisecond() -> None:
    expr = CronExpr.parse("0 0 1 1 *")
    starts = [utc(2024, 1, 1, 7) + timedelta(days=d) for d in range(365)]
    begin = clock.perf_counter()
    for start in starts:
        next_tick(expr, LONDON, start)
    assert (clock.perf_counter() - begin) / len(starts) < 0.001


# DST: London changes 2024-03-31 01:00 GMT -> 02:00 BST and 2024-10-27 02:00 BST -> 01:00 GMT;
# New York 2024-03-10 02:00 EST -> 03:00 EDT and 2024-11-03 02:00 EDT -> 01:00 EST;
# Lord Howe 2024-10-06 02:00 -> 02:30 (+11:00) and 2024-04-07 02:00 -> 01:30 (+10:30).

@pytest.mark.parametrize(("zone", "text", "after", "expected"), [
    # daily 01:30: shifted past the gap; first occurrence only in the overlap
    (LONDON, "30 1 * * *", utc(2024, 3, 30, 12), [utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]),
    (LONDON, "30 1 * * *", utc(2024, 10, 26, 12), [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]),
    (NEW_YORK, "30 1 * * *", utc(2024, 3, 9, 12), [utc(2024, 3, 10, 6, 30), utc(2024, 3, 11, 5, 30)]),
    (NEW_YORK, "30 1 * * *", utc(2024, 11, 2, 12), [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]),
    # daily 02:30 in New York, where the gap is 02:00-03:00
    (NEW_YORK, "30 2 * * *", utc(2024, 3, 9, 12), [utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)]),
    (NEW_YORK, "30 2 * * *", utc(2024, 11, 2, 12), [utc(2024, 11, 3, 7, 30), utc(2024, 11, 4, 7, 30)]),
    # daily 00:30: unaffected
    (LONDON, "30 0 * * *", utc(2024, 3, 30, 12), [utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 23, 30)]),
    (LONDON, "30 0 * * *", utc(2024, 10, 26, 12), [utc(2024, 10, 26, 23, 30), utc(2024, 10, 28, 0, 30)]),
    (NEW_YORK, "30 0 * * *", utc(2024, 3, 9, 12), [utc(2024, 3, 10, 5, 30), utc(2024, 3, 11, 4, 30)]),
    (NEW_YORK, "30 0 * * *", utc(2024, 11, 2, 12), [utc(2024, 11, 3, 4, 30), utc(2024, 11, 4, 5, 30)]),
    # hourly: one tick per real hour, none doubled, none lost
    (LONDON, "0 * * * *", utc(2024, 3, 30, 23, 30), [utc(2024, 3, 31, 0), utc(2024, 3, 31, 1), utc(2024, 3, 31, 2)]),
    (LONDON, "0 * * * *", utc(2024, 10, 26, 23, 30),
     [utc(2024, 10, 27, 0), utc(2024, 10, 27, 1), utc(2024, 10, 27, 2)]),
    (NEW_YORK, "0 * * * *", utc(2024, 3, 10, 5, 30), [utc(2024, 3, 10, 6), utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)]),
    (NEW_YORK, "0 * * * *", utc(2024, 11, 3, 4, 30), [utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)]),
    # every 30 minutes
    (LONDON, "*/30 * * * *", utc(2024, 3, 31, 0, 15),
     [utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1), utc(2024, 3, 31, 1, 30), utc(2024, 3, 31, 2)]),
    (LONDON, "*/30 * * * *", utc(2024, 10, 26, 23, 45),
     [utc(2024, 10, 27, 0), utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1), utc(2024, 10, 27, 1, 30),
      utc(2024, 10, 27, 2)]),
    (NEW_YORK, "*/30 * * * *", utc(2024, 3, 10, 6, 15),
     [utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7), utc(2024, 3, 10, 7, 30)]),
    (NEW_YORK, "*/30 * * * *", utc(2024, 11, 3, 4, 45),
     [utc(2024, 11, 3, 5), utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 7)]),
    # weekly, Sunday 01:30 (and 02:30 in New York)
    (LONDON, "30 1 * * sun", utc(2024, 3, 25), [utc(2024, 3, 31, 1, 30), utc(2024, 4, 7, 0, 30)]),
    (LONDON, "30 1 * * 0", utc(2024, 10, 21), [utc(2024, 10, 27, 0, 30), utc(2024, 11, 3, 1, 30)]),
    (NEW_YORK, "30 1 * * sun", utc(2024, 3, 4), [utc(2024, 3, 10, 6, 30), utc(2024, 3, 17, 5, 30)]),
    (NEW_YORK, "30 1 * * 7", utc(2024, 10, 28), [utc(2024, 11, 3, 5, 30), utc(2024, 11, 10, 6, 30)]),
    (NEW_YORK, "30 2 * * sun", utc(2024, 3, 4), [utc(2024, 3, 10, 7, 30), utc(2024, 3, 17, 6, 30)]),
    # a 30-minute change
    (LORD_HOWE, "15 2 * * *", utc(2024, 10, 4, 12),
     [utc(2024, 10, 4, 15, 45), utc(2024, 10, 5, 15, 45), utc(2024, 10, 6, 15, 15)]),
    (LORD_HOWE, "45 1 * * *", utc(2024, 4, 5, 12),
     [utc(2024, 4, 5, 14, 45), utc(2024, 4, 6, 14, 45), utc(2024, 4, 7, 15, 15)]),
    (LORD_HOWE, "*/30 * * * *", utc(2024, 4, 6, 13, 45),
     [utc(2024, 4, 6, 14), utc(2024, 4, 6, 14, 30), utc(2024, 4, 6, 15), utc(2024, 4, 6, 15, 30)]),
])
def test_next_ticks_across_dst_changes(zone: ZoneInfo, text: str, after: datetime, expected: list[datetime]) -> None:
    assert upcoming(text, zone, after, len(expected)) == expected


def series(first: datetime, count: int, step: timedelta = HOUR) -> list[datetime]:
    return [first + i * step for i in range(count)]


@pytest.mark.parametrize(("zone", "text", "day", "expected"), [
    (LONDON, "0 * * * *", date(2024, 3, 31), series(utc(2024, 3, 31), 23)),
    (LONDON, "0 * * * *", date(2024, 10, 27), series(utc(2024, 10, 26, 23), 25)),
    (NEW_YORK, "0 * * * *", date(2024, 3, 10), series(utc(2024, 3, 10, 5), 23)),
    (NEW_YORK, "0 * * * *", date(2024, 11, 3), series(utc(2024, 11, 3, 4), 25)),
    (LONDON, "*/30 * * * *", date(2024, 3, 31), series(utc(2024, 3, 31), 46, 30 * MINUTE)),
    (LONDON, "*/30 * * * *", date(2024, 10, 27), series(utc(2024, 10, 26, 23), 50, 30 * MINUTE)),
    (NEW_YORK, "*/30 * * * *", date(2024, 3, 10), series(utc(2024, 3, 10, 5), 46, 30 * MINUTE)),
    (NEW_YORK, "*/30 * * * *", date(2024, 11, 3), series(utc(2024, 11, 3, 4), 50, 30 * MINUTE)),
    (LONDON, "30 1 * * *", date(2024, 3, 31), [utc(2024, 3, 31, 1, 30)]),
    (LONDON, "30 1 * * *", date(2024, 10, 27), [utc(2024, 10, 27, 0, 30)]),
    (NEW_YORK, "30 2 * * *", date(2024, 3, 10), [utc(2024, 3, 10, 7, 30)]),
    (NEW_YORK, "30 1 * * *", date(2024, 11, 3), [utc(2024, 11, 3, 5, 30)]),
    # 01:00 GMT does not exist and lands on 02:00 BST, which is a tick anyway
    (LONDON, "0 1,2 * * *", date(2024, 3, 31), [utc(2024, 3, 31, 1)]),
    (LONDON, "0 1,2 * * *", date(2024, 10, 27), [utc(2024, 10, 27, 0), utc(2024, 10, 27, 2)]),
    # not fixed-time: the repeated 01:xx fires twice, the missing 01:xx once, shifted
    (LONDON, "*/15 1 * * *", date(2024, 10, 27), series(utc(2024, 10, 27), 8, 15 * MINUTE)),
    (LONDON, "*/15 1 * * *", date(2024, 3, 31), series(utc(2024, 3, 31, 1), 4, 15 * MINUTE)),
    (LONDON, "0 1-23/2 * * *", date(2024, 10, 27),
     [utc(2024, 10, 27, 0), utc(2024, 10, 27, 1)] + [utc(2024, 10, 27, h) for h in range(3, 24, 2)]),
    # Lord Howe's 02:00 does not exist: 02:00 +10:30 is 02:30 +11:00
    (LORD_HOWE, "0 * * * *", date(2024, 10, 6),
     [utc(2024, 10, 5, 13, 30), utc(2024, 10, 5, 14, 30), utc(2024, 10, 5, 15, 30),
      *series(utc(2024, 10, 5, 16), 21)]),
])
def test_ticks_on_dst_days(zone: ZoneInfo, text: str, day: date, expected: list[datetime]) -> None:
    assert local_day_ticks(text, zone, day) == expected


# Pyongyang went from +08:30 to +09:00 at 23:30 on 2018-05-04: the missing 23:40 of the 4th
# (15:10 UTC) falls between the 5th's 00:05 (15:05 UTC) and 00:40 (15:40 UTC).
PYONGYANG = ZoneInfo("Asia/Pyongyang")


def test_ticks_of_neighbouring_days_interleave_across_a_gap_at_midnight() -> None:
    expr = CronExpr.parse("5,40 0,23 * * *")
    expected = [utc(2018, 5, 4, 14, 35), utc(2018, 5, 4, 15, 5), utc(2018, 5, 4, 15, 10), utc(2018, 5, 4, 15, 40)]
    assert upcoming("5,40 0,23 * * *", PYONGYANG, utc(2018, 5, 4, 14), 4) == expected
    assert ticks_between(expr, PYONGYANG, utc(2018, 5, 4, 14), utc(2018, 5, 4, 16)) == expected
    assert previous_tick(expr, PYONGYANG, utc(2018, 5, 4, 15, 9)) == utc(2018, 5, 4, 15, 5)
    assert previous_tick(expr, PYONGYANG, utc(2018, 5, 4, 15, 20)) == utc(2018, 5, 4, 15, 10)


@pytest.mark.parametrize(("zone", "text", "instant", "expected"), [
    (LONDON, "30 1 * * *", utc(2024, 10, 27, 0, 30), True),
    (LONDON, "30 1 * * *", utc(2024, 10, 27, 1, 30), False),  # 01:30 GMT: the repeat
    (LONDON, "30 * * * *", utc(2024, 10, 27, 1, 30), True),
    (LONDON, "30 1 * * *", utc(2024, 3, 31, 1, 30), True),
    (LONDON, "30 1 * * *", utc(2024, 3, 31, 0, 30), False),  # 00:30 GMT is not 01:30 anything
    (LONDON, "0 * * * *", utc(2024, 3, 31, 1), True),
    (UTC, "*/15 * * * *", utc(2024, 5, 1, 10, 15, 0, 1), False),
])
def test_is_tick(zone: ZoneInfo, text: str, instant: datetime, expected: bool) -> None:
    assert is_tick(CronExpr.parse(text), zone, instant) is expected


@pytest.mark.parametrize(("zone", "text", "at_or_before", "expected"), [
    (LONDON, "30 1 * * *", utc(2024, 10, 27, 1, 45), utc(2024, 10, 27, 0, 30)),
    (LONDON, "0 * * * *", utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 1)),
    (NEW_YORK, "30 2 * * *", utc(2024, 3, 10, 7, 29), utc(2024, 3, 9, 7, 30)),
    (NEW_YORK, "30 2 * * *", utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 7, 30)),
])
def test_previous_tick_across_dst_changes(
    zone: ZoneInfo, text: str, at_or_before: datetime, expected: datetime
) -> None:
    assert previous_tick(CronExpr.parse(text), zone, at_or_before) == expected


# Properties. Expressions come with the sets they stand for, worked out here and not by the parser.

class Spec(NamedTuple):
    text: str
    fields: tuple[set[int], ...]  # minute, hour, day-of-month, month, day-of-week (7 as 0)

    def matches_day(self, day: date) -> bool:
        _, _, doms, months, dows = self.fields
        dom_text, dow_text = self.text.split()[2], self.text.split()[4]
        by_dom, by_dow = day.day in doms, day.isoweekday() % 7 in dows
        either = not dom_text.startswith("*") and not dow_text.startswith("*")
        return day.month in months and ((by_dom or by_dow) if either else (by_dom and by_dow))

    def matches(self, wall: datetime) -> bool:
        return wall.minute in self.fields[0] and wall.hour in self.fields[1] and self.matches_day(wall.date())


MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "7"]  # 7 as a name would read "sun-sun" as 0-7


@st.composite
def fields(draw: st.DrawFn, low: int, high: int, names: list[str] | None = None,
           kinds: tuple[str, ...] = ("*", "*/n", "list")) -> tuple[str, set[int]]:
    every = range(low, high + 1)
    kind = draw(st.sampled_from(kinds))
    if kind == "*":
        return "*", set(every)
    if kind == "*/n":
        step = draw(st.integers(1, len(every)))
        return f"*/{step}", set(every[::step])
    parts: list[str] = []
    values: set[int] = set()
    for _ in range(draw(st.integers(1, 3))):
        a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
        a_text, b_text = ((names[a - low], names[b - low]) if names and draw(st.booleans()) else (str(a), str(b)))
        shape = draw(st.sampled_from(["one", "range", "step"]))
        if shape == "one":
            parts.append(a_text)
            values.add(a)
        else:
            step = 1 if shape == "range" else draw(st.integers(1, len(every)))
            parts.append(f"{a_text}-{b_text}" + (f"/{step}" if shape == "step" else ""))
            values.update(range(a, b + 1, step))
    return ",".join(parts), values


DAY_KINDS = ("*", "*", "*", "*/n", "list")  # mostly every day, so that ticks come often


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    drawn = [
        draw(fields(0, 59)), draw(fields(0, 23)), draw(fields(1, 31, kinds=DAY_KINDS)),
        draw(fields(1, 12, MONTH_NAMES, DAY_KINDS)), draw(fields(0, 7, DAY_NAMES, DAY_KINDS)),
    ]
    texts = [text for text, _ in drawn]
    sets = (*(values for _, values in drawn[:4]), {d % 7 for d in drawn[4][1]})
    if texts[2].startswith("*") or texts[4].startswith("*"):  # days need day-of-month: it must exist
        assume(any(d <= calendar.monthrange(2024, m)[1] for m in sets[3] for d in sets[2]))
    return Spec(" ".join(texts), sets)


@st.composite
def zoned_instants(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone, and an instant in 2024-2027; half the time within a day or two of a DST change."""
    zone = draw(st.sampled_from(ZONES))
    if DST_DAYS[zone] and draw(st.booleans()):
        begin, _ = local_day_bounds(zone, draw(st.sampled_from(DST_DAYS[zone])))
        instant = begin + draw(st.timedeltas(timedelta(hours=-30), timedelta(hours=54)))
    else:
        instant = draw(st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31, 23, 59), timezones=st.just(UTC)))
    if draw(st.booleans()):
        instant = instant.replace(second=0, microsecond=0)
    return zone, instant


@settings(max_examples=200, deadline=None)
@given(specs())
def test_parse_yields_the_sets_the_text_stands_for(spec: Spec) -> None:
    expr = CronExpr.parse(spec.text)
    parsed = (set(expr.minutes), set(expr.hours), set(expr.days_of_month), set(expr.months), set(expr.days_of_week))
    assert parsed == spec.fields


@settings(max_examples=200, deadline=None)
@given(specs(), zoned_instants())
def test_next_and_previous_tick_agree(spec: Spec, zoned: tuple[ZoneInfo, datetime]) -> None:
    zone, t = zoned
    expr = CronExpr.parse(spec.text)
    following = next_tick(expr, zone, t)
    assert following > t
    assert following.tzinfo is UTC
    assert is_tick(expr, zone, following)
    assert previous_tick(expr, zone, following) == following
    before = previous_tick(expr, zone, following - US)
    assert before is None or before <= t  # nothing in (t, following)
    if before is not None:
        assert is_tick(expr, zone, before)
        assert next_tick(expr, zone, before) == following


@settings(max_examples=100, deadline=None)
@given(specs(), zoned_instants(), st.timedeltas(timedelta(0), timedelta(hours=30)))
def test_ticks_between_is_next_tick_repeated(spec: Spec, zoned: tuple[ZoneInfo, datetime], span: timedelta) -> None:
    zone, start = zoned
    expr = CronExpr.parse(spec.text)
    ticks = ticks_between(expr, zone, start, start + span)
    stepped: list[datetime] = []
    t = next_tick(expr, zone, start)
    while t <= start + span:
        stepped.append(t)
        t = next_tick(expr, zone, t)
    assert ticks == stepped
    assert all(a < b for a, b in pairwise(ticks))  # increasing, so no two share an instant


local_days = st.one_of(
    st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    st.sampled_from(sorted({d for days in DST_DAYS.values() for d in days})),
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), local_days, st.integers(0, 23), st.integers(0, 59))
def test_daily_entry_fires_once_per_local_day(zone: ZoneInfo, day: date, hour: int, minute: int) -> None:
    ticks = local_day_ticks(f"{minute} {hour} * * *", zone, day)
    # the wall time read with fold=0: its first occurrence, or shifted forward past a gap
    assert ticks == [datetime.combine(day, time(hour, minute), zone).astimezone(UTC)]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([(z, "0 * * * *", HOUR) for z in ZONES if z is not LORD_HOWE]
                    + [(z, t, p) for z in ZONES for t, p in (("*/15 * * * *", 15 * MINUTE),
                                                            ("*/30 * * * *", 30 * MINUTE))]),
    local_days,
)
def test_periodic_entry_ticks_evenly_through_the_real_day(
    case: tuple[ZoneInfo, str, timedelta], day: date
) -> None:
    zone, text, period = case
    begin, end = local_day_bounds(zone, day)
    assert local_day_ticks(text, zone, day) == series(begin, (end - begin) // period, period)


def test_periodic_entry_counts_on_dst_days() -> None:
    counts = {day: len(local_day_ticks("0 * * * *", zone, day)) for zone in (LONDON, NEW_YORK)
              for day in DST_DAYS[zone]}
    assert sorted(set(counts.values())) == [23, 25]
    assert all(counts[d] == (23 if d.month < 7 else 25) for d in counts)


def brute_force(spec: Spec, moment: datetime, forward: bool, days: int) -> datetime | None:
    """Walk minute by minute in UTC, skipping whole days whose date does not match."""
    wall = moment.replace(tzinfo=None, second=0, microsecond=0)
    if forward:
        wall += MINUTE
    limit = datetime.combine(wall.date() + timedelta(days=days if forward else -days), time())
    step = MINUTE if forward else -MINUTE
    while (wall < limit) if forward else (wall >= limit):
        if not spec.matches_day(wall.date()):
            day = wall.date() + timedelta(days=1 if forward else -1)
            wall = datetime.combine(day, time() if forward else time(23, 59))
        elif spec.matches(wall):
            return wall.replace(tzinfo=UTC)
        else:
            wall += step
    return None


@settings(max_examples=300, deadline=None)
@given(specs(), st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31, 23, 59), timezones=st.just(UTC)))
def test_utc_ticks_match_a_brute_force_scan(spec: Spec, moment: datetime) -> None:
    expr = CronExpr.parse(spec.text)
    expected_next = brute_force(spec, moment, forward=True, days=400)
    if expected_next is None:
        assert next_tick(expr, UTC, moment) > moment + timedelta(days=399)
    else:
        assert next_tick(expr, UTC, moment) == expected_next
    assert previous_tick(expr, UTC, moment) == brute_force(spec, moment, forward=False, days=LOOKBACK_DAYS)
