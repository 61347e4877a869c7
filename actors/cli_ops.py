"""Operations commands: dashboard, queues, purge, dlq, workers, inspect, cancel.

Every command takes --json. Exit codes: 0 done, 1 not found or not confirmed,
2 bad usage, 3 a service (RabbitMQ, PostgreSQL) is unreachable, 4 refused (the
message is in a state where that cannot be done).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
import pika.exceptions
import sqlalchemy.exc

from pipeline.cli import cli, emit
from pipeline.errors import NotFound
from pipeline.history.store import record_now
from pipeline.ops import actions, rabbit
from pipeline.settings import get_settings

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (rabbit.QueueNotFound, rabbit.MessageNotFound, actions.NotFound) as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        except actions.Refused as exc:
            click.echo(str(exc), err=True)
            sys.exit(4)
        except (pika.exceptions.AMQPError, sqlalchemy.exc.OperationalError, OSError) as exc:
            click.echo(f"a service is unreachable: {type(exc).__name__}: {exc}", err=True)
            sys.exit(3)

    return wrapper


def dispatcher() -> Any:
    from actors.dispatcher import dispatcher as make

    return make()


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[("" if c is None else str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


@cli.command("dashboard")
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
    from pipeline.web.app import serve

    serve(settings, dispatcher(), host, settings.dashboard_port if port is None else port)


@cli.command("queues")
@json_option
@handles_errors
def queues(as_json: bool) -> None:
    """Ready, delayed, dead-lettered and unacknowledged messages, consumers and rates per queue."""
    overview = rabbit.queue_overview(get_settings(), dispatcher().queues())
    unknown = "-"  # not available without the management API
    rows = [[q.name, *(unknown if v is None else v for v in (q.ready, q.delayed, q.dead, q.unacked, q.consumers)),
             *(unknown if r is None else f"{r:.1f}" for r in (q.publish_rate, q.deliver_rate))]
            for q in overview.queues]
    text = table(rows, ["queue", "ready", "delayed", "dead", "unacked", "consumers", "publish/s", "deliver/s"])
    emit(overview.as_dict(), as_json, text + (f"\n\n{overview.note}" if overview.note else ""))


@cli.command("purge")
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


@cli.group("dlq")
def dlq() -> None:
    """Dead letters: messages that failed their last retry, kept 7 days in QUEUE.XQ."""


def _queues_for(queue: str | None) -> list[str]:
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
    from pipeline.models import Run

    with session_scope() as session:
        run = session.get(Run, message_id)
        if run is None or not run.queue:
            raise NotFound(f"no run with message id {message_id} in history: name its queue with --queue")
        return run.queue


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


def _workers(include_old: bool = False) -> list[Any]:
    from pipeline.db import session_scope
    from pipeline.ops.workers import list_workers

    with session_scope() as session:
        return list_workers(session, datetime.now(UTC), include_old=include_old)


@cli.command("workers")
@click.option("--all", "all_", is_flag=True, help="Include workers last seen more than a day ago.")
@json_option
@handles_errors
def workers(all_: bool, as_json: bool) -> None:
    """Worker processes from their heartbeats; `gone` after three missed heartbeats."""
    views = _workers(all_)
    rows = [[w.worker_id, w.state, ",".join(w.queues), len(w.in_flight), w.processed, w.failed, w.rss_mb,
             f"{w.seen_ago_s:.0f} s ago"] for w in views]
    header = ["worker", "state", "queues", "in flight", "processed", "failed", "rss MB", "last seen"]
    emit([w.as_dict() for w in views], as_json, table(rows, header) if rows else "no workers")
    sys.exit(0 if any(w.state == "alive" for w in views) else 1)


@cli.command("cancel")
@click.argument("message_id")
@json_option
@handles_errors
def cancel(message_id: str, as_json: bool) -> None:
    """Cancel a message that has not started (a worker skips it); a running one cannot be."""
    from pipeline.db import session_scope

    with session_scope() as session:
        data = actions.cancel_message(session, dispatcher(), record_now(get_settings()), message_id, by="cli")
    emit(data, as_json, f"{message_id}: cancellation requested ({data['detail']})")


@cli.command("inspect")
@click.argument("what", type=click.Choice(["active", "registered", "stats", "scheduled"]))
@json_option
@handles_errors
def inspect_(what: str, as_json: bool) -> None:
    """Like `celery inspect`: running messages, actors, worker counters, delayed messages and next ticks."""
    from pipeline.db import session_scope
    from pipeline.ops import inspection

    now = datetime.now(UTC)
    with session_scope() as session:
        if what == "active":
            data: Any = inspection.active(session, now)
            text = table([[r["worker"], r["message_id"], r["actor"], r["running_s"]] for r in data],
                         ["worker", "message_id", "actor", "running s"]) if data else "nothing running"
        elif what == "registered":
            data = inspection.registered(dispatcher())
            text = table([[a["name"], a["queue"], a["signature"]] for a in data], ["actor", "queue", "signature"])
        elif what == "stats":
            data = inspection.stats(session, now)
            rows = [[w["worker"], w["state"], w["processed"], w["failed"], w["in_flight"], w["rss_mb"], w["uptime_s"]]
                    for w in data["workers"]]
            text = table(rows, ["worker", "state", "processed", "failed", "in flight", "rss MB", "uptime s"])
            text += "\n\ntotals (live workers): " + ", ".join(f"{k} {v}" for k, v in data["totals"].items())
        else:
            data = inspection.scheduled(session, get_settings(), dispatcher(), now)
            text = _scheduled_text(data)
    emit(data, as_json, text)


def _scheduled_text(data: dict[str, Any]) -> str:
    parts = ["delayed (waiting for a later attempt):"]
    parts += [f"  {r['since'][:19]}  {r['status']:<9} {r['actor']:<32} {r['message_id']}" for r in data["delayed_runs"]]
    parts += [f"  eta {m['eta'][:19] if m['eta'] else '?'}  in {m['queue']}.DQ  {m['actor']:<26} {m['message_id']}"
              for m in data["delay_queue_messages"]]
    if len(parts) == 1:
        parts.append("  none")
    parts += ["", "next schedule ticks:"]
    parts += [f"  {t['next_tick'] or '-':<27} {t['name']:<30} {t['actor']} ({t['state']})" for t in data["schedule"]]
    if data["schedule_note"]:
        parts.append(f"  {data['schedule_note']}")
    return "\n".join(parts)
