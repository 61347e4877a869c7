"""`stonks inspect` and `stonks workers`: what the workers run, know and count, and what waits."""

from __future__ import annotations

import sys
from typing import Any

import click

from actors.cli.output import emit, handles_errors, json_option, table
from pipeline.clock import utcnow
from pipeline.settings import get_settings


def _workers(include_old: bool = False) -> list[Any]:
    from pipeline.db import session_scope
    from pipeline.ops.workers import list_workers

    with session_scope() as session:
        return list_workers(session, utcnow(), include_old=include_old)


@click.command("workers")
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


@click.command("inspect")
@click.argument("what", type=click.Choice(["active", "registered", "stats", "scheduled"]))
@json_option
@handles_errors
def inspect_(what: str, as_json: bool) -> None:
    """Like `celery inspect`: running messages, actors, worker counters, delayed messages and next ticks."""
    from actors.dispatcher import dispatcher
    from pipeline.db import session_scope
    from pipeline.ops import inspection

    now = utcnow()
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
