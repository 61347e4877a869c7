"""The schedule table, checked against the actors registered on the broker."""

from __future__ import annotations

import inspect

from dramatiq import Broker

from actors.arguments import refusal
from pipeline.scheduling.table import (
    ScheduleTable,
    check_actors,
    load_table,
    table_path,
)
from pipeline.settings import get_settings


def load_checked_table(broker: Broker, schedule_file: str | None = None) -> ScheduleTable:
    """Load the table (SCHEDULE_FILE, or the default) and check every entry's actor and kwargs."""
    table = load_table(table_path(schedule_file or get_settings().schedule_file))
    check_actors(table, {name: inspect.signature(actor.fn) for name, actor in broker.actors.items()},
                 values=lambda actor, kwargs: refusal(broker.get_actor(actor), (), kwargs))
    return table
