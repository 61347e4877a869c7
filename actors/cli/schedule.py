"""`stonks schedule`: each schedule entry with its last tick, its next, and whether one was missed."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import click

from actors.cli.output import emit
from pipeline.clock import utcnow
from pipeline.scheduling.table import (
    ScheduleError,
    check_actors,
    load_table,
    table_path,
)
from pipeline.settings import get_settings


@click.command("schedule")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def schedule(as_json: bool) -> None:
    """The schedule table: per entry its last tick (when, which process, message, outcome), next tick and state.

    States: ok, unsent (claimed, send pending), late (not fired yet, may still
    fire), missed (will not fire any more), waiting (no tick yet), disabled.
    Exits 1 if an entry names an unknown actor or arguments it does not accept.
    """
    import actors
    from pipeline.db import session_scope
    from pipeline.scheduling.ticks import schedule_overview

    try:
        table = load_table(table_path(get_settings().schedule_file))
    except ScheduleError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    problem = None
    try:
        check_actors(table, {name: inspect.signature(a.fn) for name, a in actors.broker.actors.items()})
    except ScheduleError as exc:
        problem = str(exc)
    now = utcnow()
    with session_scope() as session:
        entries = schedule_overview(session, table, now)
    data = {"source": table.source, "now": now.isoformat(), "problems": problem, "entries": entries}
    emit(data, as_json, _text(data))
    if problem:
        click.echo(f"{problem}\nthe schedulers refuse to start with this table", err=True)
        sys.exit(1)


def _text(data: dict[str, Any]) -> str:
    lines = [f"{data['source']} at {data['now'][:19]}Z"]
    for e in data["entries"]:
        args = ", ".join(f"{k}={v!r}" for k, v in e["kwargs"].items())
        lines += ["", f"{e['name']}  {e['cron']} {e['timezone']}  {e['actor']}({args})  catch-up: {e['catch_up']}"]
        state = e["state"]
        if state == "late":
            state += f": the tick of {e['due_tick']} has not fired yet (a running scheduler still fires it)"
        elif state == "missed":
            state += f": the tick of {e['due_tick']} did not fire"
        lines.append(f"  state  {state}")
        lines.append(f"  last   {_last(e['last_tick'])}")
        lines.append(f"  next   {e['next_tick']}")
    return "\n".join(lines)


def _last(tick: dict[str, Any] | None) -> str:
    if tick is None:
        return "never"
    text = f"{tick['scheduled_for']} by {tick['claimed_by']} ({tick['runner']})"
    if tick["catch_up"]:
        text += ", catch-up"
    text += f", message {tick['message_id']}"
    if tick["sent_at"] is None:
        return text + f", NOT SENT YET: {tick['send_error'] or 'send pending'}"
    run = tick["run"]
    if run is None:
        return text + ", no run recorded yet"
    text += f", {run['status']}"
    if run["late_by_ms"] is not None:
        text += f", started {run['late_by_ms']} ms after the tick"
    if run["error"]:
        text += f": {run['error']}"
    return text
