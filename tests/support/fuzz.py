"""What the fuzz tests share: JSON strategies, mutations of a reference document, checks on parsed records."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st

PIPELINE_ACTORS = ("sync_catalog_from_brickset", "fetch_prices_for_minifigure", "fetch_prices_for_minifigures",
                   "fetch_prices_for_set_number",
                   "update_all_prices", "aggregate_daily_snapshots", "aggregate_snapshot_for_minifigure",
                   "cleanup_old_listings", "backfill_snapshots")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

# Values a careless or broken service sends where a documented one belongs.
awkward = st.sampled_from([
    None, "", " ", "NaN", "Infinity", "-Infinity", "sNaN", "-1", "-0.01", "1e309", "1e-999999999", "9" * 30,
    "1" * 5000, "²", "--5", "0x10", "1_000", "٣", "12abc", "a\x00b", "\ud800", "x" * 300, "fig-ß" * 9,
    "http://[::1", "2025-13-45T99:99:99Z", True, False, 0, -1, 2**31, 2**63, 10**30, -(10**30), 1.5, -2.5, 1e308,
    float("nan"), float("inf"), [], {}, [{}], [None], {"value": "1"},
])
junk = awkward | json_values


def _slots(doc: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) pair in a JSON document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield doc, key
            yield from _slots(value)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield doc, index
            yield from _slots(value)


@st.composite
def mutated(draw: st.DrawFn, reference: Any, max_changes: int = 3) -> Any:
    """`reference` with a few fields removed or replaced by junk, anywhere in the tree."""
    doc = copy.deepcopy(reference)
    for _ in range(draw(st.integers(1, max_changes))):
        slots = list(_slots(doc))
        if not slots:
            break
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        if draw(st.booleans()):
            del container[key]
        else:
            container[key] = copy.deepcopy(draw(junk))  # later changes must not touch the shared constant
    return doc


def payloads(reference: Any) -> st.SearchStrategy[Any]:
    """Mostly near misses of a valid reply, sometimes arbitrary JSON."""
    return st.one_of(mutated(reference), mutated(reference, max_changes=8), junk)


def storable_text(value: str) -> bool:
    """PostgreSQL text holds it: no NUL, no unpaired surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def assert_well_typed(record: Any, where: str = "record") -> None:
    """Every field of a (nested) dataclass holds a value of its annotated type, storable as is."""
    hints = typing.get_type_hints(type(record))
    for field in dataclasses.fields(record):
        _check(getattr(record, field.name), hints[field.name], f"{where}.{field.name}")


def _check(value: Any, hint: Any, where: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        candidates = [a for a in args if a is not type(None)]
        if value is None:
            assert type(None) in args, f"{where} is None"
            return
        assert len(candidates) == 1, f"{where}: unsupported hint {hint}"
        _check(value, candidates[0], where)
    elif origin is typing.Literal:
        assert value in args, f"{where} = {value!r}, not one of {args}"
    elif origin is tuple:
        assert isinstance(value, tuple), f"{where} = {value!r} is not a tuple"
        for i, item in enumerate(value):
            _check(item, args[0], f"{where}[{i}]")
    elif dataclasses.is_dataclass(hint):
        assert isinstance(value, hint), f"{where} = {value!r} is not a {hint.__name__}"
        assert_well_typed(value, where)
    elif hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where} = {value!r} is not an int"
        assert -(2**63) <= value < 2**63, f"{where} = {value} does not fit 64 bits"
    elif hint is Decimal:
        assert isinstance(value, Decimal) and value.is_finite(), f"{where} = {value!r} is not a finite Decimal"
    elif hint is datetime:
        assert isinstance(value, datetime) and value.tzinfo is not None, f"{where} = {value!r} is not aware"
    elif hint is str:
        assert isinstance(value, str) and storable_text(value), f"{where} = {value!r} is not storable text"
    else:
        assert isinstance(value, hint), f"{where} = {value!r} is not a {hint}"


def footprint() -> tuple[list[tuple[int, int, int]], int]:
    """Messages in every queue of the broker, and runs on record: what a refused request must leave as it was."""
    from sqlalchemy import func, select

    import actors
    from pipeline.db import session_scope
    from pipeline.models import Run

    actors.stack.writer.flush()
    queues = [actors.broker.get_queue_message_counts(name) for name in sorted(actors.broker.get_declared_queues())]
    with session_scope() as session:
        return queues, session.scalar(select(func.count()).select_from(Run)) or 0


class Started(Exception):
    """The actor got past its argument checks and began its work."""


def _started(*args: Any, **kwargs: Any) -> Any:
    raise Started


@contextmanager
def actors_that_stop_when_started() -> Iterator[dict[str, Any]]:
    """The pipeline actors by name, their first database, catalog or fan-out step raising `Started`.

    Calling `actor.fn(**kwargs)` then shows whether an actor accepts its arguments, without doing the work.
    """
    import actors
    import actors.processing
    import actors.scraping

    with pytest.MonkeyPatch.context() as patch:
        for module in (actors.scraping, actors.processing):
            patch.setattr(module, "session_scope", _started)
            patch.setattr(module, "fan_out", _started)
        patch.setattr(actors.scraping, "catalog_client", _started)
        yield {name: getattr(actors, name) for name in PIPELINE_ACTORS}
