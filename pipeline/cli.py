"""The `stonks` command: the parts that need no broker.

Commands that send or inspect messages are added by `actors.cli`, which is the
installed entry point, so that this package never imports Dramatiq.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pipeline import db
from pipeline.settings import get_settings


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@click.group()
def cli() -> None:
    """Minifig Stonks: daily LEGO minifigure prices on Dramatiq and RabbitMQ."""
    get_settings()  # a malformed setting stops here, naming it


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database schema to the latest revision (a no-op when it is there)."""
    before = db.current_revision()
    db.upgrade(revision=revision)
    after = db.current_revision()
    click.echo(f"schema at {after}" + ("" if before != after else " (already there)"))


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    click.echo(f"database: {db.current_revision()}\ncode:     {db.head_revision()}")


@cli.command("status")
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
            return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the year 1") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date, a time or an age such as 6h") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cli.command("runs")
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
        data = [
            {"message_id": r.message_id, "actor": r.actor, "status": r.status,
             "status_at": r.status_at.isoformat(), "attempts": r.attempts, "error": r.error}
            for r in rows
        ]
    text = "\n".join(
        f"{d['status_at'][:19]}  {d['status']:<13} {d['actor'] or '?':<34} {d['message_id']}" for d in data
    )
    emit(data, as_json, text or "no runs")


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), help="Default: the SANDBOX_PORT setting.")
def sandbox(host: str, port: int | None) -> None:
    """Serve the local stand-in for Brickset, Rebrickable, eBay and BrickLink."""
    from sandbox.__main__ import main as sandbox_main

    sys.exit(sandbox_main(["--host", host, "--port", str(port if port is not None else get_settings().sandbox_port)]))


@cli.command("up")
@click.option("--processes", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per process.")
def up(processes: int, threads: int) -> None:
    """Migrate, then run the sandbox (when no API keys are set), worker, scheduler and dashboard."""
    import logging

    from actors.supervisor import Supervisor, plan, sandbox_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(message)s")
    settings = get_settings()
    db.ensure_database()
    db.upgrade()
    click.echo(f"schema at {db.current_revision()}")
    env = sandbox_env(settings) if settings.uses_sandbox else {}
    if env:
        click.echo(f"no API keys set: the sandbox on port {settings.sandbox_port} stands in (sandbox data)")
    sys.exit(Supervisor(plan(settings, processes, threads), env).run())


@cli.command("metrics")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9300, show_default=True, type=click.IntRange(1, 65535))
def metrics(host: str, port: int) -> None:
    """Serve Prometheus metrics: queue depths, snapshot freshness, runs of the last day."""
    import time

    from prometheus_client import REGISTRY, start_http_server

    from pipeline.ops.metrics import StonksCollector

    REGISTRY.register(StonksCollector(get_settings()))
    start_http_server(port, addr=host)
    click.echo(f"metrics on http://{host}:{port}/metrics")
    while True:
        time.sleep(3600)


def main() -> None:
    cli()
