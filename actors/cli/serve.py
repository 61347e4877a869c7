"""The long-running commands: `stonks up`, `dashboard`, `sandbox` and `metrics`."""

from __future__ import annotations

import sys

import click

from pipeline import db
from pipeline.settings import get_settings


@click.command("up")
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


@click.command("dashboard")
@click.option("--host", help="Address to listen on. Default: the DASHBOARD_HOST setting (127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Default: the DASHBOARD_PORT setting (8000).")
def dashboard(host: str | None, port: int | None) -> None:
    """Serve the web dashboard and the admin API (/v1, OpenAPI at /openapi.json)."""
    from pipeline.web.auth import UnsafeBind, check_bind

    settings = get_settings()
    host = host or settings.dashboard_host
    try:
        check_bind(host, settings)
    except UnsafeBind as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    from actors.dispatcher import dispatcher
    from pipeline.web.app import serve

    serve(settings, dispatcher(), host, settings.dashboard_port if port is None else port)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), help="Default: the SANDBOX_PORT setting.")
def sandbox(host: str, port: int | None) -> None:
    """Serve the local stand-in for Brickset, Rebrickable, eBay and BrickLink."""
    from sandbox.__main__ import main as sandbox_main

    sys.exit(sandbox_main(["--host", host, "--port", str(port if port is not None else get_settings().sandbox_port)]))


@click.command("metrics")
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
