"""`stonks send` and `stonks cancel`: one message, sent by actor name or cancelled before it starts."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from actors.arguments import refusal
from actors.cli.output import emit, handles_errors, json_option
from pipeline.history.store import record_now
from pipeline.ops import actions
from pipeline.settings import get_settings


def _json_arg(value: str | None, kind: type, name: str) -> Any:
    if value is None:
        return kind()
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits, nested too deeply
        raise click.BadParameter(f"not JSON: {str(exc)[:200] or type(exc).__name__}", param_hint=name) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {'object' if kind is dict else 'array'}", param_hint=name)
    return parsed


def resolve_actor(name: str) -> Any:
    from dramatiq.errors import ActorNotFound

    import actors

    try:
        return actors.broker.get_actor(name)
    except ActorNotFound:
        known = ", ".join(sorted(actors.broker.actors))
        raise click.UsageError(f"unknown actor {name!r}; registered actors: {known}") from None


def check_arguments(actor: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Reject arguments the actor would refuse (its signature, then its own checks), before anything is sent."""
    problem = refusal(actor, args, kwargs)
    if problem is not None:
        raise click.UsageError(problem)


@click.command("send")
@click.argument("actor_name")
@click.option("--args", "args_json", help='Positional arguments as a JSON array, e.g. \'["sw0001a"]\'.')
@click.option("--kwargs", "kwargs_json", help='Keyword arguments as a JSON object, e.g. \'{"limit": 10}\'.')
@click.option("--delay", type=click.IntRange(0), help="Delay in milliseconds.")
@click.option("--wait", is_flag=True, help="Wait for the result and print it.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait with --wait.")
@click.option("--json", "as_json", is_flag=True)
def send(actor_name: str, args_json: str | None, kwargs_json: str | None, delay: int | None,
         wait: bool, timeout: float, as_json: bool) -> None:
    """Enqueue ACTOR_NAME with JSON arguments (Dramatiq's `celery call`)."""
    args = _json_arg(args_json, list, "--args")
    kwargs = _json_arg(kwargs_json, dict, "--kwargs")
    actor = resolve_actor(actor_name)
    check_arguments(actor, args, kwargs)
    message = actor.send_with_options(args=tuple(args), kwargs=kwargs, delay=delay)
    data: dict[str, Any] = {"message_id": message.message_id, "actor": actor_name, "queue": actor.queue_name}
    text = message.message_id
    if wait:
        from dramatiq.results import ResultFailure, ResultTimeout

        try:
            data["result"] = message.get_result(block=True, timeout=int(timeout * 1000))
        except ResultTimeout:
            click.echo(f"no result within {timeout} s; see `stonks status {message.message_id}`", err=True)
            sys.exit(3)
        except ResultFailure as exc:
            click.echo(f"{message.message_id} failed: {exc}", err=True)
            sys.exit(4)
        text += "\n" + json.dumps(data["result"], indent=2, default=str)
    emit(data, as_json, text)


@click.command("cancel")
@click.argument("message_id")
@json_option
@handles_errors
def cancel(message_id: str, as_json: bool) -> None:
    """Cancel a message that has not started (a worker skips it); a running one cannot be."""
    from actors.dispatcher import dispatcher
    from pipeline.db import session_scope

    with session_scope() as session:
        data = actions.cancel_message(session, dispatcher(), record_now(get_settings()), message_id, by="cli")
    emit(data, as_json, f"{message_id}: cancellation requested ({data['detail']})")
