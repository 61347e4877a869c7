"""The schedule table: parsed and checked from YAML, and which ticks are due when.

Pure: no broker and no clock. The table is a YAML file (`schedules/default.yaml`,
or the file named by the SCHEDULE_FILE setting):

    schedules:
      - name: aggregate-snapshots-daily      # unique; letters, digits, . _ -
        cron: "0 1 * * *"                     # 5 fields or a macro, see pipeline/cron.py
        timezone: UTC                         # an IANA zone; default UTC
        actor: aggregate_daily_snapshots      # a registered actor
        kwargs: {}                            # its keyword arguments; default none
        catch_up: {policy: latest, grace: 6h} # or `skip` (the default)
        enabled: true                         # default true

Any fault stops the scheduler at start with a message that names the entry.

Due ticks. A tick is on time while it is less than `ON_TIME` old: cron's
resolution is a minute, so a scheduler (re)started within a tick's minute still
fires it, and the claim in PostgreSQL keeps that to once. Older ticks were
missed: `skip` drops them (and says so); `latest` fires the latest missed tick
once, marked as a catch-up, if it is within the grace window and no tick is on
time (a tick on time supersedes the catch-up).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml

from pipeline.scheduling.cron import (
    CronError,
    CronExpr,
    next_tick,
    parse_zone,
    previous_tick,
    ticks_between,
)

ON_TIME = timedelta(minutes=1)
MAX_GRACE = timedelta(days=366)  # a yearly job's catch-up; longer ones would replay years of ticks at start
POLICIES = ("skip", "latest")
_ENTRY_KEYS = {"name", "cron", "timezone", "actor", "kwargs", "catch_up", "enabled"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_ACTOR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ScheduleError(ValueError):
    """The schedule table is invalid; the message names the file and every faulty entry."""


@dataclass(frozen=True)
class CatchUp:
    policy: Literal["skip", "latest"] = "skip"
    grace: timedelta = timedelta(0)

    def __str__(self) -> str:
        return self.policy if self.policy == "skip" else f"latest within {format_duration(self.grace)}"


@dataclass(frozen=True)
class Entry:
    name: str
    cron: CronExpr
    zone: ZoneInfo
    actor: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    catch_up: CatchUp = CatchUp()
    enabled: bool = True

    @property
    def timezone(self) -> str:
        return self.zone.key

    def next_tick(self, after: datetime) -> datetime:
        return next_tick(self.cron, self.zone, after)

    def previous_tick(self, at_or_before: datetime) -> datetime | None:
        return previous_tick(self.cron, self.zone, at_or_before)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "cron": str(self.cron), "timezone": self.timezone, "actor": self.actor,
            "kwargs": dict(self.kwargs), "catch_up": str(self.catch_up), "enabled": self.enabled,
        }


@dataclass(frozen=True)
class ScheduleTable:
    entries: tuple[Entry, ...]
    source: str

    @property
    def enabled(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.enabled)

    def get(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


def table_path(schedule_file: str | None) -> Path:
    """The SCHEDULE_FILE setting, or the default table shipped in the `schedules` package."""
    if schedule_file:
        return Path(schedule_file).expanduser()
    spec = importlib.util.find_spec("schedules")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ScheduleError("no SCHEDULE_FILE set and the schedules package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "default.yaml"


def load_table(path: Path) -> ScheduleTable:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScheduleError(f"schedule table {path}: cannot read it: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScheduleError(f"schedule table {path}: not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScheduleError(f"schedule table {path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ScheduleError(f"schedule table {path}: nested too deeply to read") from None
    return parse_table(data, str(path))


def parse_table(data: Any, source: str) -> ScheduleTable:
    if not isinstance(data, dict) or set(data) != {"schedules"} or not isinstance(data["schedules"], list):
        raise ScheduleError(f"schedule table {source}: expected a mapping with one key, `schedules`, holding a list")
    entries: list[Entry] = []
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(data["schedules"], 1):
        label = _label(position, raw)
        try:
            entry = parse_entry(raw)
        except ScheduleError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if entry.name in first_seen:
            problems.append(f"{label}: duplicate name; entry {first_seen[entry.name]} has it too")
            continue
        first_seen[entry.name] = position
        entries.append(entry)
    if problems:
        raise ScheduleError(f"schedule table {source} is invalid:\n  " + "\n  ".join(problems))
    return ScheduleTable(tuple(entries), source)


def _label(position: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"entry {position} ({name!r})" if isinstance(name, str) else f"entry {position}"


def parse_entry(raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise ScheduleError(f"expected a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        shown = ", ".join(sorted(map(repr, unknown)))  # quoted: a key may hold spaces or line breaks
        raise ScheduleError(f"unknown key(s) {shown}; allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    missing = [k for k in ("name", "cron", "actor") if k not in raw]
    if missing:
        raise ScheduleError(f"missing {', '.join(missing)}")
    name, actor = raw["name"], raw["actor"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScheduleError(f"name {name!r} must be 1-100 letters, digits, '.', '_' or '-'")
    if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
        raise ScheduleError(f"actor {actor!r} is not an actor name")
    if not isinstance(raw["cron"], str):
        raise ScheduleError(f"cron {raw['cron']!r} must be a string (quote it in YAML)")
    try:
        cron = CronExpr.parse(raw["cron"])
    except CronError as exc:
        raise ScheduleError(f"cron {raw['cron']!r}: {exc}") from None
    try:
        zone = parse_zone(str(raw.get("timezone", "UTC")))
    except CronError as exc:
        raise ScheduleError(str(exc)) from None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScheduleError(f"enabled must be true or false, got {enabled!r}")
    kwargs, catch_up = _parse_kwargs(raw.get("kwargs")), parse_catch_up(raw.get("catch_up"))
    return Entry(name, cron, zone, actor, kwargs, catch_up, enabled)


def _parse_kwargs(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise ScheduleError(f"kwargs must be a mapping of argument names to values, got {raw!r}")
    try:
        # Messages carry JSON: a YAML date or set would not survive the trip.
        carried: dict[str, Any] = json.loads(json.dumps(raw))
        return carried
    except (TypeError, ValueError) as exc:
        raise ScheduleError(f"kwargs must be JSON values (quote dates as strings): {exc}") from None


def parse_catch_up(raw: Any) -> CatchUp:
    if raw is None or raw == "skip":
        return CatchUp()
    if not isinstance(raw, dict):
        raise ScheduleError(f"catch_up {raw!r} must be `skip` or {{policy: latest, grace: 6h}}")
    policy, grace = raw.get("policy"), raw.get("grace")
    if set(raw) - {"policy", "grace"} or policy not in POLICIES:
        raise ScheduleError(f"catch_up {raw!r}: policy must be one of {', '.join(POLICIES)}, "
                            "with only a grace beside it")
    if policy == "skip":
        if grace is not None:
            raise ScheduleError("catch_up: a grace window only applies to policy latest")
        return CatchUp()
    if grace is None:
        raise ScheduleError("catch_up: policy latest needs a grace window, e.g. {policy: latest, grace: 6h}")
    return CatchUp("latest", parse_duration(grace))


def parse_duration(raw: Any) -> timedelta:
    """`90s`, `15m`, `6h`, `1d`, `1h30m`, or a number of seconds; more than zero, at most MAX_GRACE."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        seconds = raw
    elif isinstance(raw, str) and re.fullmatch(rf"\s*(?:{_DURATION.pattern}\s*)+", raw):
        seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(raw))
    else:
        raise ScheduleError(f"grace {raw!r} is not a duration such as 90s, 15m, 6h, 1d or 1h30m")
    if seconds <= 0:
        raise ScheduleError(f"grace {raw!r} must be more than zero")
    if seconds > MAX_GRACE.total_seconds():
        raise ScheduleError(f"grace {raw!r} is longer than {format_duration(MAX_GRACE)}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds, parts = int(value.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def check_actors(table: ScheduleTable, signatures: Mapping[str, inspect.Signature],
                 values: Callable[[str, Mapping[str, Any]], str | None] | None = None) -> None:
    """Every entry names a known actor and arguments it accepts (`signatures`: actor name to signature;
    `values`: why the actor would refuse the entry's kwargs, or None)."""
    problems = []
    for entry in table.entries:
        signature = signatures.get(entry.actor)
        if signature is None:
            problems.append(f"entry {entry.name!r}: unknown actor {entry.actor!r}; "
                            f"registered actors: {', '.join(sorted(signatures))}")
            continue
        try:
            signature.bind(**entry.kwargs)
        except TypeError as exc:
            shown = signature.replace(return_annotation=inspect.Signature.empty)
            problems.append(f"entry {entry.name!r}: kwargs {dict(entry.kwargs)} do not fit {entry.actor}{shown}: {exc}")
            continue
        refused = values(entry.actor, entry.kwargs) if values is not None else None
        if refused is not None:
            problems.append(f"entry {entry.name!r}: {entry.actor} refuses kwargs {dict(entry.kwargs)}: {refused}")
    if problems:
        raise ScheduleError(f"schedule table {table.source} is invalid:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class DueTick:
    scheduled_for: datetime
    catch_up: bool = False


@dataclass(frozen=True)
class Plan:
    """What to do at a check: the ticks to fire, and the missed ticks the policy drops."""

    fire: tuple[DueTick, ...]
    skipped: tuple[datetime, ...]


def first_check(entry: Entry, now: datetime) -> datetime:
    """Where a starting scheduler begins to look back: a tick's minute, or the grace window."""
    return now - max(entry.catch_up.grace, ON_TIME)


def due_ticks(entry: Entry, last_checked: datetime, now: datetime) -> Plan:
    """The ticks in (last_checked, now] to fire now, by the entry's catch-up policy."""
    ticks = ticks_between(entry.cron, entry.zone, last_checked, now)
    on_time = tuple(DueTick(t) for t in ticks if now - t < ON_TIME)
    missed = tuple(t for t in ticks if now - t >= ON_TIME)
    if on_time or not missed:
        return Plan(on_time, missed)
    if entry.catch_up.policy == "latest" and now - missed[-1] <= entry.catch_up.grace:
        return Plan((DueTick(missed[-1], catch_up=True),), missed[:-1])
    return Plan((), missed)
