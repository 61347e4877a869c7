"""`stonks dlq`: dead letters, listed with their error from the run history, shown, requeued or deleted."""

from __future__ import annotations

import sys
from typing import Any

import click

from actors.cli.output import emit, handles_errors, json_option, table
from pipeline.errors import NotFound
from pipeline.history.store import record_now
from pipeline.ops import actions, rabbit
from pipeline.settings import get_settings


@click.group("dlq")
def dlq() -> None:
    """Dead letters: messages that failed their last retry, kept 7 days in QUEUE.XQ."""


def _queues_for(queue: str | None) -> list[str]:
    from actors.dispatcher import dispatcher

    return [rabbit.canonical(queue)] if queue else dispatcher().queues()


@dlq.command("list")
@click.argument("queue", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@handles_errors
def dlq_list(queue: str | None, limit: int, as_json: bool) -> None:
    """Dead letters of QUEUE (default: every queue) with their error from the run history."""
    from pipeline.db import session_scope

    settings = get_settings()
    letters: list[dict[str, Any]] = []
    with session_scope() as session:
        for name in _queues_for(queue):
            try:
                letters += actions.dead_letter_views(settings, session, name, limit)
            except rabbit.QueueNotFound:
                if queue:
                    raise
    rows = [[d["queue"], d["message_id"], d["actor"], (d["dead_since"] or "")[:19], (d["error"] or "")[:80]]
            for d in letters]
    text = table(rows, ["queue", "message_id", "actor", "dead since", "error"]) if rows else "no dead letters"
    emit(letters, as_json, text)


def _queue_of(message_id: str, queue: str | None) -> str:
    """Where a dead letter is: the --queue given, or its queue in the run history."""
    if queue:
        return rabbit.canonical(queue)
    from pipeline.db import session_scope
    from pipeline.history.reads import get_run

    with session_scope() as session:
        life = get_run(session, message_id)
        if life is None or not life.run.queue:
            raise NotFound(f"no run with message id {message_id} in history: name its queue with --queue")
        return life.run.queue


@dlq.command("show")
@click.argument("message_id")
@click.option("--queue", help="Its queue (default: the one the run history names).")
@json_option
@handles_errors
def dlq_show(message_id: str, queue: str | None, as_json: bool) -> None:
    """One dead letter: actor, arguments, error and traceback."""
    from pipeline.db import session_scope

    name = _queue_of(message_id, queue)
    with session_scope() as session:
        found = [d for d in actions.dead_letter_views(get_settings(), session, name, rabbit.SCAN_LIMIT)
                 if d["message_id"] == message_id]
    if not found:
        raise rabbit.MessageNotFound(f"no message {message_id} in {name}.XQ")
    d = found[0]
    text = "\n".join([f"message  {d['message_id']}", f"queue    {d['queue']}.XQ (dead since {d['dead_since']})",
                      f"actor    {d['actor']}", f"args     {d['args']} {d['kwargs']}", f"error    {d['error']}",
                      "", (d["traceback"] or "(no traceback)").rstrip()])
    emit(d, as_json, text)


@dlq.command("requeue")
@click.argument("message_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every dead letter of --queue (or of every queue).")
@click.option("--queue", help="The queue whose dead letters to requeue.")
@json_option
@handles_errors
def dlq_requeue(message_ids: tuple[str, ...], all_: bool, queue: str | None, as_json: bool) -> None:
    """Send dead letters back to their queue with the same message id and a fresh retry budget."""
    if bool(message_ids) == all_:
        raise click.UsageError("name MESSAGE_IDS, or pass --all")
    settings = get_settings()
    journal = record_now(settings)
    done: list[str] = []
    if all_:
        for name in _queues_for(queue):
            done += rabbit.requeue_dead_letters(settings, name, journal, None, by="cli")
    else:
        by_queue: dict[str, set[str]] = {}
        for mid in message_ids:
            by_queue.setdefault(_queue_of(mid, queue), set()).add(mid)
        for name, ids in by_queue.items():
            done += rabbit.requeue_dead_letters(settings, name, journal, ids, by="cli")
    emit({"requeued": done}, as_json, "\n".join(f"requeued {m}" for m in done) or "no dead letters")


@dlq.command("purge")
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handles_errors
def dlq_purge(queue: str, yes: bool, as_json: bool) -> None:
    """Delete every dead letter of QUEUE for good."""
    settings = get_settings()
    xq = f"{rabbit.canonical(queue)}.XQ"
    count = rabbit.declare_passive(settings, xq)[0]
    if not yes and not click.confirm(f"Delete {count} dead letters of {rabbit.canonical(queue)} for good?"):
        click.echo("nothing deleted", err=True)
        sys.exit(1)
    purged = rabbit.purge(settings, xq)
    emit({"queue": xq, "purged": purged}, as_json, f"deleted {purged} dead letters from {xq}")
