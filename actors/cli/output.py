"""What the `stonks` commands print, and how they fail.

Every command prints text, or JSON with --json. The operations commands share
their exit codes: 0 done, 1 not found or not confirmed, 2 bad usage, 3 a service
(RabbitMQ, PostgreSQL) is unreachable, 4 refused (the message is in a state where
that cannot be done).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
import pika.exceptions
import sqlalchemy.exc

from pipeline.errors import NotFound
from pipeline.ops import actions

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[("" if c is None else str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except NotFound as exc:  # a queue, a message, a run, a record
            click.echo(str(exc), err=True)
            sys.exit(1)
        except actions.Refused as exc:
            click.echo(str(exc), err=True)
            sys.exit(4)
        except (pika.exceptions.AMQPError, sqlalchemy.exc.OperationalError, OSError) as exc:
            click.echo(f"a service is unreachable: {type(exc).__name__}: {exc}", err=True)
            sys.exit(3)

    return wrapper
