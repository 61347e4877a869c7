"""Cron schedule maths: parse 5-field expressions and find their ticks in a named zone.

Pure: no I/O and no clock; every function is handed the instant it reasons about.
A schedule is a `CronExpr` plus an IANA zone (`parse_zone`). A tick is an instant,
returned as an aware UTC datetime; every datetime argument must be aware.

Expressions: `minute hour day-of-month month day-of-week`, each field `*`, `a`,
`a-b`, `*/n` or `a-b/n`, or a comma list of those; jan-dec and sun-sat (any case)
as values; 0 and 7 are both Sunday. Macros: @yearly and @annually (`0 0 1 1 *`),
@monthly (`0 0 1 * *`), @weekly (`0 0 * * 0`), @daily and @midnight (`0 0 * * *`),
@hourly (`0 * * * *`). As in Vixie cron, when day-of-month and day-of-week are
both restricted (not written with a leading `*`) a day matches if either does;
otherwise both must. A day-of-month that never occurs in the listed months
(`0 0 30 2 *`) is rejected.

DST. Wall-clock times are matched in the entry's zone, and ticks are deduplicated
by instant, so an entry never fires twice at one instant.

- Spring forward: a wall time that does not exist fires once, at the instant it
  maps to with fold=0 (the offset before the change), i.e. shifted forward by the
  gap: a daily 01:30 in Europe/London on 2024-03-31 fires at 01:30 UTC (02:30 BST);
  a daily 02:30 in America/New_York on 2024-03-10 at 07:30 UTC (03:30 EDT). When
  that instant is already a tick it counts once: `0 * * * *` maps 01:00 GMT onto
  02:00 BST and has 23 ticks that local day, one per real hour; `0 1,2 * * *` has
  a single tick that day.
- Fall back: a wall time that occurs twice fires once, at its first occurrence
  (fold=0), for fixed-time entries: a daily 01:30 in London on 2024-10-27 fires at
  00:30 UTC (01:30 BST) only. Other entries fire at both occurrences, each a
  different real time: `0 * * * *` has 25 ticks that local day, `*/15 1 * * *` 8.
- Fixed-time: an entry is fixed-time unless its minute or hour field is written
  with a `*` (`*`, `*/15`) or a step (`0-59/15`, `1-23/2`); @hourly is not
  fixed-time, the other macros are. So `30 1 * * *`, `0 1,13 * * *` and
  `0 9-17 * * *` are fixed-time; `0 * * * *`, `* 1 * * *` and `0 */2 * * *` are not.
  cronie judges by the leading `*` alone (its MIN_STAR/HR_STAR flags); treating an
  explicit step the same way is ours.

Where cronie differs: it runs fixed-time jobs skipped by a jump forward right after
the jump (02:00 BST in the example), and skips the nonexistent minutes of the other
jobs. With `*` in the hour field and a whole-hour gap that skip and the dedupe above
give the same ticks; otherwise (`*/15 1 * * *`, or `0 * * * *` in the 30-minute gap
of Australia/Lord_Howe) the nonexistent times still fire here, shifted forward.

`previous_tick` looks back at most `LOOKBACK_DAYS` local days. The offset is probed at
the start, middle and end of each wall day and hour; a zone that changed offset and
back between two probes would go unnoticed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOOKBACK_DAYS = 366
_SEARCH_YEARS = 400  # the Gregorian calendar repeats every 400 years
_ONE_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {n: i for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), 1)}
_WEEKDAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_NO_NAMES: Mapping[str, int] = {}
_FIELDS = (
    ("minute", 0, 59, _NO_NAMES), ("hour", 0, 23, _NO_NAMES),
    ("day-of-month", 1, 31, _NO_NAMES), ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),
)
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_T = TypeVar("_T", int, datetime)


class CronError(ValueError):
    """A malformed cron expression or unknown zone; the message names the field and value."""


@dataclass(frozen=True)
class CronExpr:
    """A parsed cron expression; build one with `CronExpr.parse`."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 is Sunday
    dom_restricted: bool
    dow_restricted: bool
    fixed_time: bool
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        source = text.strip()
        spec = _MACROS.get(source.lower(), source)
        if spec.startswith("@"):
            raise CronError(f"unknown macro {source!r}; expected one of {', '.join(_MACROS)}")
        parts = spec.split()
        if len(parts) != 5:
            raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), "
                            f"got {len(parts)} in {text!r}")
        minutes, hours, doms, months, dows = (_parse_field(p, *f) for p, f in zip(parts, _FIELDS, strict=True))
        dom_restricted, dow_restricted = not parts[2].startswith("*"), not parts[4].startswith("*")
        either_day = dom_restricted and dow_restricted
        if not either_day and not any(d <= _LONGEST_MONTH[m - 1] for m in months for d in doms):
            raise CronError(f"day-of-month field {parts[2]!r} never occurs in month field {parts[3]!r}")
        return cls(
            minutes=tuple(sorted(minutes)), hours=tuple(sorted(hours)),
            days_of_month=frozenset(doms), months=frozenset(months),
            days_of_week=frozenset(d % 7 for d in dows),
            dom_restricted=dom_restricted, dow_restricted=dow_restricted,
            fixed_time=not any("*" in p or "/" in p for p in parts[:2]),
            text=source,
        )

    @cached_property
    def minutes_of_day(self) -> tuple[int, ...]:
        """The matching wall times of a day, as minutes since midnight, ascending."""
        return tuple(h * 60 + m for h in self.hours for m in self.minutes)

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_dom = day.day in self.days_of_month
        by_dow = day.isoweekday() % 7 in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return by_dom or by_dow
        return by_dom and by_dow

    def __str__(self) -> str:
        return self.text


def _parse_field(text: str, name: str, low: int, high: int, names: Mapping[str, int]) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _field_error(name, text, "", "has an empty list item")
        body, slash, step_text = item.partition("/")
        if body == "*":
            first, last = low, high
        else:
            start, dash, end = body.partition("-")
            if not start or (dash and not end):
                raise _field_error(name, text, item, "is not a valid range")
            if slash and not dash:
                raise _field_error(name, text, item, "has a step without a range (write '*/N' or 'A-B/N')")
            first = _parse_value(start, text, name, low, high, names)
            last = _parse_value(end, text, name, low, high, names) if dash else first
            if last < first and end.lower() == "sun":  # 'fri-sun': Sunday as 7
                last = 7
            if first > last:
                raise _field_error(name, text, item, f"is a backwards range ({first} > {last})")
        step = 1
        if slash:
            width = high - low + 1
            if not (step_text.isascii() and step_text.isdigit() and 1 <= int(step_text) <= width):
                raise _field_error(name, text, item, f"has a step that is not a number in 1-{width}")
            step = int(step_text)
        values.update(range(first, last + 1, step))
    return values


def _parse_value(token: str, text: str, name: str, low: int, high: int, names: Mapping[str, int]) -> int:
    if token.lower() in names:
        return names[token.lower()]
    if not (token.isascii() and token.isdigit()):
        raise _field_error(name, text, token, "is not a number" + (" or a name" if names else ""))
    if not low <= int(token) <= high:
        raise _field_error(name, text, token, f"is out of range {low}-{high}")
    return int(token)


def _field_error(name: str, text: str, token: str, problem: str) -> CronError:
    subject = f"{name} field {text!r}" if token in (text, "") else f"{name} field {text!r}: {token!r}"
    return CronError(f"{subject} {problem}")


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a tzdata directory
        raise CronError(f"unknown time zone {name!r}; expected an IANA name such as 'Europe/London'") from exc


def next_tick(expr: CronExpr, zone: ZoneInfo, after: datetime) -> datetime:
    """The first tick strictly after `after`."""
    moment = _as_utc(after, "after")
    start = moment.astimezone(zone).date() - _ONE_DAY
    stop = date(min(start.year + _SEARCH_YEARS, date.max.year), 12, 31)
    tick = _closest(expr, zone, moment, _matching_days(expr, start, stop), forward=True)
    if tick is None:
        raise CronError(f"{expr} has no tick within {_SEARCH_YEARS} years after {moment.isoformat()}")
    return tick


def previous_tick(expr: CronExpr, zone: ZoneInfo, at_or_before: datetime) -> datetime | None:
    """The last tick at or before `at_or_before`, or None if none in `LOOKBACK_DAYS` local days."""
    moment = _as_utc(at_or_before, "at_or_before")
    local_day = moment.astimezone(zone).date()
    days = _matching_days(expr, local_day + _ONE_DAY, local_day - timedelta(days=LOOKBACK_DAYS))
    return _closest(expr, zone, moment, days, forward=False)


def ticks_between(expr: CronExpr, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every tick in (start, end], in order."""
    low, high = _as_utc(start, "start"), _as_utc(end, "end")
    if high <= low:
        return []
    first, last = low.astimezone(zone).date() - _ONE_DAY, high.astimezone(zone).date() + _ONE_DAY
    found: set[datetime] = set()
    for day in _matching_days(expr, first, last):
        found.update(t for t in _day_ticks(expr, zone, day) if low < t <= high)
    return sorted(found)


def is_tick(expr: CronExpr, zone: ZoneInfo, instant: datetime) -> bool:
    moment = _as_utc(instant, "instant")
    return next_tick(expr, zone, moment - timedelta(microseconds=1)) == moment


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _matching_days(expr: CronExpr, start: date, stop: date) -> Iterator[date]:
    """Days matching `expr` from `start` towards `stop` (inclusive), skipping other months whole."""
    forward = stop >= start
    low, high = min(start, stop), max(start, stop)
    day = start
    try:
        while low <= day <= high:
            if day.month not in expr.months:
                # to the first day of the next month, or the last of the previous one
                next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
                day = next_month if forward else day.replace(day=1) - _ONE_DAY
                continue
            if expr.matches_day(day):
                yield day
            day += _ONE_DAY if forward else -_ONE_DAY
    except OverflowError:  # ran off date.min or date.max
        return


def _closest(expr: CronExpr, zone: ZoneInfo, moment: datetime, days: Iterator[date], forward: bool) -> datetime | None:
    for day in days:
        tick = _tick_on_day(expr, zone, day, moment, forward)
        if tick is None:
            continue
        # Wall days follow each other in time, except around a DST change near
        # midnight, where the neighbouring day's ticks can come in between.
        neighbour = day + _ONE_DAY if forward else day - _ONE_DAY
        if expr.matches_day(neighbour) and _day_offset(zone, min(day, neighbour)) is None:
            other = _tick_on_day(expr, zone, neighbour, moment, forward)
            if other is not None:
                tick = min(tick, other) if forward else max(tick, other)
        return tick
    return None


def _tick_on_day(expr: CronExpr, zone: ZoneInfo, day: date, moment: datetime, forward: bool) -> datetime | None:
    """Of the ticks whose wall time falls on `day`: the first after `moment`, or the last at or before it."""
    offset = _day_offset(zone, day)
    if offset is None:
        return _pick(_transition_day_ticks(expr, zone, day), moment, forward)
    # One offset all day, so wall order is time order: search the minutes of the day.
    wall_minute = (moment.replace(tzinfo=None) + offset - datetime.combine(day, time())) // _MINUTE
    found = _pick(expr.minutes_of_day, wall_minute, forward)
    return None if found is None else _instant(day, found, offset)


def _pick(ordered: Sequence[_T], key: _T, forward: bool) -> _T | None:
    """The first item after `key`, or the last at or before it."""
    i = bisect_right(ordered, key)
    if forward:
        return ordered[i] if i < len(ordered) else None
    return ordered[i - 1] if i else None


def _instant(day: date, minute_of_day: int, offset: timedelta) -> datetime:
    return (datetime.combine(day, time()) + minute_of_day * _MINUTE - offset).replace(tzinfo=UTC)


def _day_offset(zone: ZoneInfo, day: date) -> timedelta | None:
    """The zone's UTC offset all through the wall day `day`, or None if it changes."""
    midnight = datetime.combine(day, time())
    return _steady_offset(zone, midnight, midnight + _ONE_DAY)


def _steady_offset(zone: ZoneInfo, begin: datetime, end: datetime) -> timedelta | None:
    """The zone's UTC offset all through the naive wall times begin..end, or None if it changes."""
    probes = (begin, begin + (end - begin) / 2, end)
    offsets = {p.replace(tzinfo=zone, fold=fold).utcoffset() for p in probes for fold in (0, 1)}
    return offsets.pop() if len(offsets) == 1 else None


def _day_ticks(expr: CronExpr, zone: ZoneInfo, day: date) -> tuple[datetime, ...]:
    offset = _day_offset(zone, day)
    if offset is None:
        return _transition_day_ticks(expr, zone, day)
    return tuple(_instant(day, m, offset) for m in expr.minutes_of_day)


@lru_cache(maxsize=128)
def _transition_day_ticks(expr: CronExpr, zone: ZoneInfo, day: date) -> tuple[datetime, ...]:
    """The ticks of a wall day on which the offset changes, by the rules in the module docstring."""
    ticks: set[datetime] = set()
    for hour in expr.hours:
        start = datetime.combine(day, time(hour))
        offset = _steady_offset(zone, start, start + timedelta(hours=1))
        for minute in expr.minutes:
            wall = start.replace(minute=minute)
            if offset is not None:  # most hours of the day: plain arithmetic
                ticks.add((wall - offset).replace(tzinfo=UTC))
                continue
            ticks.add(wall.replace(tzinfo=zone).astimezone(UTC))  # fold=0: first, or past the gap
            if not expr.fixed_time:
                second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
                # In a gap fold=1 reads the wall time with the later offset; no clock shows that.
                if second.astimezone(zone).replace(tzinfo=None) == wall:
                    ticks.add(second)
    return tuple(sorted(ticks))
