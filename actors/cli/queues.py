"""`stonks queues` and `stonks purge`: the RabbitMQ queues of the actors."""

from __future__ import annotations

import sys

import click

from actors.cli.output import emit, handles_errors, json_option, table
from pipeline.ops import rabbit
from pipeline.settings import get_settings


@click.command("queues")
@json_option
@handles_errors
def queues(as_json: bool) -> None:
    """Ready, delayed, dead-lettered and unacknowledged messages, consumers and rates per queue."""
    from actors.dispatcher import dispatcher

    overview = rabbit.queue_overview(get_settings(), dispatcher().queues())
    unknown = "-"  # not available without the management API
    rows = [[q.name, *(unknown if v is None else v for v in (q.ready, q.delayed, q.dead, q.unacked, q.consumers)),
             *(unknown if r is None else f"{r:.1f}" for r in (q.publish_rate, q.deliver_rate))]
            for q in overview.queues]
    text = table(rows, ["queue", "ready", "delayed", "dead", "unacked", "consumers", "publish/s", "deliver/s"])
    emit(overview.as_dict(), as_json, text + (f"\n\n{overview.note}" if overview.note else ""))


@click.command("purge")
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handles_errors
def purge(queue: str, yes: bool, as_json: bool) -> None:
    """Drop every ready message of QUEUE (`default`, or `default.DQ`, `default.XQ`)."""
    settings = get_settings()
    ready = rabbit.declare_passive(settings, queue)[0]
    if not yes and not click.confirm(f"Drop {ready} ready messages of {queue}?"):
        click.echo("nothing purged", err=True)
        sys.exit(1)
    purged = rabbit.purge(settings, queue)
    emit({"queue": queue, "purged": purged}, as_json, f"purged {purged} messages from {queue}")
