"""Fuzzed actor arguments and `stonks` command lines: accepted, or refused with a clear error before any work.

An actor checks its arguments before it touches the database, the broker or an
API: here those first steps raise `Started`, so each call shows whether the
arguments got past the checks. The CLI runs in-process; a refused
command exits non-zero with a message, never a traceback, and sends nothing.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.errors import InvalidInput
from tests.support.fuzz import (
    PIPELINE_ACTORS,
    Started,
    actors_that_stop_when_started,
    footprint,
    junk,
    mutated,
)

pytestmark = pytest.mark.usefixtures("services")

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def stubbed() -> Iterator[dict[str, Any]]:
    with actors_that_stop_when_started() as found:
        yield found


plausible = st.sampled_from([
    "2024-02-29", "2023-02-29", TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat(), " 2024-01-01 ",
    "0001-01-01", "9999-12-31", "2024-1-1", "NEW", "used", " Sealed ", "MINT", str(uuid.uuid4()), "sw0001a",
    "fig-000123", "SW0001", "Star Wars", "", "   ", 1, 50, 500, 10_000, 10_001, 0, -1, 1949, 2100, True, 90.0,
]) | st.dates().map(date.isoformat) | st.integers(-(2**40), 2**40)


@st.composite
def arguments(draw: st.DrawFn, fn: Any) -> dict[str, Any]:
    """Keyword arguments for `fn`: every required one, some optional ones, each plausible or junk."""
    values = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        if parameter.default is inspect.Parameter.empty or draw(st.booleans()):
            values[name] = draw(plausible | junk)
    return values


@FUZZ
@given(data=st.data(), name=st.sampled_from(PIPELINE_ACTORS))
def test_actor_arguments_are_accepted_or_refused_by_name_before_any_work(
        stubbed: dict[str, Any], data: st.DataObject, name: str) -> None:
    fn = stubbed[name].fn
    kwargs = data.draw(arguments(fn), label="kwargs")
    try:
        fn(**kwargs)
    except InvalidInput as exc:
        assert any(parameter in str(exc) for parameter in kwargs), f"{exc} names none of {sorted(kwargs)}"
    except Started:
        pass
    else:
        pytest.fail(f"{name}({kwargs}) neither refused its arguments nor started its work")


# --- stonks send, status and runs ---------------------------------------------------------------------------

# What a shell can pass: no NUL, and undecodable bytes arrive as surrogate escapes.
argv_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30) | st.text(
    st.sampled_from("\udcff\udc80abc-{}[]\"':,1 "), max_size=8)
json_text = st.builds(json.dumps, junk | st.dictionaries(st.sampled_from(["limit", "theme", "year", "target_date",
                                                                          "days_to_keep", "bogus"]), junk, max_size=3))
awkward_json = st.sampled_from(['{"limit": 1e999}', "NaN", "{}", "[]", '{"": 1}', "null", '{"limit": 1}'])
# JSON that Python's decoder refuses with other errors than JSONDecodeError.
UNDECODABLE = {"a 5,000-digit number": "1" * 5000, "100,000 nested lists": "[" * 100_000}


def stonks(*args: str) -> Any:
    from actors.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def assert_clean(result: Any, command: tuple[str, ...]) -> None:
    """A non-zero exit with a message, or success: never a traceback."""
    assert not result.exception or isinstance(result.exception, SystemExit), (
        f"stonks {command}: {type(result.exception).__name__}: {result.exception}")
    if result.exit_code != 0:
        assert result.output.strip(), f"stonks {command} exited {result.exit_code} without a word"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(actor=st.sampled_from(PIPELINE_ACTORS) | argv_text, option=st.sampled_from(["--kwargs", "--args"]),
       value=json_text | awkward_json | argv_text)
def test_stonks_send_refuses_bad_arguments_with_a_message_and_sends_nothing(
        broker: Any, actor: str, option: str, value: str) -> None:
    before = footprint()
    command = ("send", actor, option, value)
    result = stonks(*command)
    assert_clean(result, command)
    if result.exit_code != 0:
        assert footprint() == before, f"stonks {command} was refused but left a trace"


@pytest.mark.parametrize("value", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_stonks_send_refuses_json_the_decoder_cannot_read(value: str) -> None:
    command = ("send", "cleanup_old_listings", "--kwargs", value)
    result = stonks(*command)
    assert_clean(result, command)
    assert result.exit_code == 2


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(option="--actor", value="\udc80")  # once a UnicodeEncodeError from the database driver
@example(option="--since", value="99999999999d")  # once an OverflowError
@given(option=st.sampled_from(["--actor", "--status", "--since", "--until", "--message-id", "--limit"]),
       value=argv_text | st.sampled_from(["99999999999d", "9" * 30 + "m", "0001-01-01T00:00:00+14:00",
                                          "9999-12-31T23:59:59-14:00", "%", "_", "0", "1001"]))
def test_stonks_runs_and_status_answer_any_filter_without_a_traceback(option: str, value: str) -> None:
    for command in (("runs", option, value), ("status", value)):
        assert_clean(stonks(*command), command)


# --- the schedule table ------------------------------------------------------------------------------------

DEFAULT_TABLE = Path("schedules/default.yaml").read_text(encoding="utf-8")
REFERENCE_TABLE = yaml.safe_load(DEFAULT_TABLE)


def _dumped(doc: Any) -> str | None:
    try:
        return yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, UnicodeError):
        return None


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters replaced, inserted or deleted."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(st.text(st.sampled_from(":-{}[]&*!|>'\"#%@ \n\t0a_.9"), max_size=3)) + text[at + cut:]
    return text


tables = st.one_of(
    mutated(REFERENCE_TABLE, max_changes=4).map(_dumped).filter(bool),
    edited(DEFAULT_TABLE),
    st.text(max_size=60),
    st.sampled_from(["schedules: [" * 5000, "a: &a [*a, *a, *a, *a, *a, *a, *a, *a]", "schedules: !!python/tuple [1]",
                     ("schedules:\n  - {name: x, cron: '* * * * *', actor: cleanup_old_listings, "
                      "catch_up: {policy: latest, grace: 99999999999999999999d}}"),
                     ("schedules:\n  - {name: x, cron: '* * * * *', actor: cleanup_old_listings, "
                      "catch_up: {policy: latest, grace: 99999999999999999999}}"),
                     ("schedules:\n  - {name: x, cron: '0 0 1 1 *', actor: cleanup_old_listings, "
                      "catch_up: {policy: latest, grace: 1000000d}}")]),
).map(str.encode) | st.binary(max_size=40) | st.just("schedules: []\n# \xe9t\xe9".encode("latin-1"))


@FUZZ
@example(raw=b"schedules: [" * 5000)  # once a RecursionError
@example(raw=b'schedules:\n- "\\r": null\n')  # once an unknown key that broke the message's lines
@example(raw="schedules: []\n# \xe9t\xe9".encode("latin-1"))  # once a UnicodeDecodeError
@example(raw=b"schedules:\n  - {name: x, cron: '0 0 1 1 *', actor: cleanup_old_listings, "
             b"catch_up: {policy: latest, grace: 1000000d}}")  # once an OverflowError at the first look back
@given(raw=tables)
def test_a_schedule_table_is_loaded_or_refused_naming_the_file_and_entry(
        tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    import actors
    from pipeline.scheduling.table import ScheduleError, due_ticks, first_check
    from schedules.beat import load_checked_table

    path = tmp_path_factory.mktemp("schedule") / "table.yaml"
    path.write_bytes(raw)
    try:
        table = load_checked_table(actors.broker, str(path))
    except ScheduleError as exc:
        first, *rest = str(exc).splitlines()
        assert str(path) in first, first
        if first.endswith("is invalid:"):
            assert rest and all(line.strip().startswith("entry ") for line in rest), str(exc)
    else:  # and a scheduler can run it: its first look back, the ticks due then, the next one
        now = datetime.now(UTC)
        for entry in table.entries:
            assert entry.actor in actors.broker.actors
            due_ticks(entry, first_check(entry, now), now)
            assert entry.next_tick(now) > now
