"""`stonks status` and `stonks runs`: the run history."""

from __future__ import annotations

import sys
from typing import Any

import click

from actors.cli.output import emit
from pipeline import db
from pipeline.clock import utcnow


@click.command("status")
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(message_id: str, as_json: bool) -> None:
    """Print the life of the run with MESSAGE_ID: enqueued, running, retries, outcome."""
    from pipeline.history.reads import format_life, get_run

    with db.session_scope() as session:
        life = get_run(session, message_id)
        if life is None:
            click.echo(f"no run with message id {message_id}", err=True)
            sys.exit(1)
        emit(life.as_dict(), as_json, format_life(life))


def _when(value: str | None) -> Any:
    """An ISO date or time (UTC unless zoned), or an age such as 90m, 6h, 2d."""
    import re
    from datetime import UTC, datetime, timedelta

    if not value:
        return None
    age = re.fullmatch(r"(\d+)\s*([mhd])", value.strip())
    if age:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        try:
            return utcnow() - timedelta(**{unit: int(age.group(1))})
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the year 1") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date, a time or an age such as 6h") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("runs")
@click.option("--actor")
@click.option("--status", "status_")
@click.option("--since", help="ISO date/time (UTC unless zoned) or an age: 90m, 6h, 2d.")
@click.option("--until", help="ISO date/time or an age.")
@click.option("--message-id", help="A message id prefix.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
def runs(actor: str | None, status_: str | None, since: str | None, until: str | None, message_id: str | None,
         limit: int, as_json: bool) -> None:
    """Recent runs, newest first (by their last change of status)."""
    from pipeline.history.reads import search_runs

    with db.session_scope() as session:
        rows = search_runs(session, actor=actor, status=status_, since=_when(since), until=_when(until),
                           message_id=message_id, limit=limit)
        data: list[dict[str, Any]] = [
            {"message_id": r.message_id, "actor": r.actor, "status": r.status,
             "status_at": r.status_at.isoformat(), "attempts": r.attempts, "error": r.error}
            for r in rows
        ]
    text = "\n".join(
        f"{d['status_at'][:19]}  {d['status']:<13} {d['actor'] or '?':<34} {d['message_id']}" for d in data
    )
    emit(data, as_json, text or "no runs")
