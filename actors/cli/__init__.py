"""The `stonks` command: the root group, and every command group added to it by name.

One module per topic: `db` (schema), `runs` (status, runs: the run history),
`messages` (send, cancel), `health`, `queues` (queues, purge), `dlq` (dead
letters), `inspection` (inspect, workers), `schedule`, `backfill`, `prices`, and `serve`
(up, dashboard, sandbox, metrics); `output` holds what they share: --json,
text tables and the exit codes of a failure. A command imports what only it
needs (the supervisor, the web app, Dramatiq's results) when it runs.
"""

from __future__ import annotations

import click

from actors.cli.backfill import backfill
from actors.cli.db import db_group
from actors.cli.dlq import dlq
from actors.cli.health import health
from actors.cli.inspection import inspect_, workers
from actors.cli.messages import cancel, send
from actors.cli.prices import prices
from actors.cli.queues import purge, queues
from actors.cli.runs import runs, status
from actors.cli.schedule import schedule
from actors.cli.serve import dashboard, metrics, sandbox, up
from pipeline.settings import get_settings


@click.group()
def cli() -> None:
    """Minifig Stonks: daily LEGO minifigure prices on Dramatiq and RabbitMQ."""
    get_settings()  # a malformed setting stops here, naming it


for command in (db_group, status, runs, send, cancel, health, queues, purge, dlq, workers, inspect_, schedule,
                backfill, prices, up, dashboard, sandbox, metrics):
    cli.add_command(command)


def main() -> None:
    cli()
