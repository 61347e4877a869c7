"""`stonks backfill START END [--dry-run]`: snapshots over a date range, with progress from the run history."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from actors.cli.output import emit
from pipeline import db
from pipeline.clock import utcnow
from pipeline.errors import InvalidInput
from pipeline.services import backfill as backfill_days

POLL_S = 0.5


@click.command("backfill")
@click.argument("start")
@click.argument("end")
@click.option("--dry-run", is_flag=True, help="List the days it would aggregate and send nothing.")
@click.option("--no-wait", is_flag=True, help="Send, print the message id, and return.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for the last day.")
@click.option("--json", "as_json", is_flag=True)
def backfill(start: str, end: str, dry_run: bool, no_wait: bool, timeout: float, as_json: bool) -> None:
    """Aggregate the snapshots of every day from START to END (YYYY-MM-DD, both included, at most 366)."""
    today = utcnow().date()
    try:
        days = backfill_days.days(start, end, today)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc)) from None
    if dry_run:
        with db.session_scope() as session:
            planned = backfill_days.plan(session, start, end, today)
        lines = [f"{p.day}  {p.listings:>9} listings  {p.snapshots:>7} snapshots now" for p in planned]
        lines.append(f"{len(planned)} days would be aggregated; nothing sent (--dry-run)")
        emit({"days": [p.as_dict() for p in planned], "sent": False}, as_json, "\n".join(lines))
        return
    from actors import backfill_snapshots

    message = backfill_snapshots.send(start, end)
    if no_wait:
        emit({"message_id": message.message_id, "days": len(days)}, as_json, message.message_id)
        return
    click.echo(f"backfill {days[0]}..{days[-1]}: {len(days)} days, message {message.message_id}", err=True)
    with click.progressbar(length=len(days), label="days aggregated", file=sys.stderr) as bar:
        run = _follow(message.message_id, bar, timeout)
    outcome = (run or {}).get("result") or {}
    if outcome.get("finished_at"):
        status = outcome["status"]
        text = f"{status}: {outcome['succeeded']} of {len(days)} days aggregated"
        text += "".join(f"\n  {f['key']}  failed: {f['error']}" for f in outcome.get("failures") or [])
    elif run is not None and run["status"] in ("failed", "dead_lettered"):
        status, text = run["status"], f"{run['status']}: {run['error']}"
    else:
        status, text = "unfinished", f"no outcome within {timeout:g} s; see `stonks status {message.message_id}`"
    emit({"message_id": message.message_id, "status": status, "result": outcome}, as_json, text)
    sys.exit(0 if status == "succeeded" else 1)


def _follow(message_id: str, bar: Any, timeout: float) -> dict[str, Any] | None:
    """Poll the run history until the batch is over (or the run failed); move the bar as days finish."""
    import actors
    from pipeline.history.reads import get_run

    deadline, shown, run = time.monotonic() + timeout, 0, None
    while time.monotonic() < deadline:
        actors.stack.writer.flush()
        with db.session_scope() as session:
            life = get_run(session, message_id)
            run = life.as_dict() if life else None
        if run is not None:
            done = (run.get("progress") or {}).get("done") or 0
            if done > shown:
                bar.update(done - shown)
                shown = done
            if (run.get("result") or {}).get("finished_at") or run["status"] in ("failed", "dead_lettered"):
                return run
        time.sleep(POLL_S)
    return run
