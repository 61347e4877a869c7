"""`stonks health`: the broker, the database and Redis, checked here or through a worker."""

from __future__ import annotations

import sys

import click

from actors.cli.output import emit


@click.command("health")
@click.option("--json", "as_json", is_flag=True)
@click.option("--via-worker", is_flag=True, help="Send health_check to a worker and wait for its answer.")
@click.option("--timeout", default=30.0, show_default=True)
def health(as_json: bool, via_worker: bool, timeout: float) -> None:
    """Check the broker, the database and Redis (here, or through a worker)."""
    if via_worker:
        from actors import health_check

        report = health_check.send().get_result(block=True, timeout=int(timeout * 1000))
    else:
        from pipeline.ops.health import check_all
        from pipeline.settings import get_settings

        report = check_all(get_settings())
    text = "\n".join(
        f"{name:<9} {'ok' if c['ok'] else 'FAILED'}  {c.get('error') or ''}".rstrip()
        for name, c in report["checks"].items()
    )
    emit(report, as_json, text)
    sys.exit(0 if report["ok"] else 1)
