"""Each pipeline actor's argument checks, as functions of their own, so that a message is
refused before it is sent (`stonks send`, the admin API, the schedule table at start)
by the very checks the actor runs when the message arrives.

A check has the actor's signature and raises `InvalidInput` naming the argument; the
actor calls it first and works with what it returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pipeline.errors import InvalidInput

F = TypeVar("F", bound=Callable[..., Any])

CHECKS: dict[str, Callable[..., Any]] = {}


def argument_check(actor_name: str) -> Callable[[F], F]:
    """Register the decorated function as the argument check of `actor_name`."""
    def register(check: F) -> F:
        CHECKS[actor_name] = check
        return check

    return register


def shown_signature(fn: Callable[..., Any]) -> str:
    return str(inspect.signature(fn).replace(return_annotation=inspect.Signature.empty))


def misfit(actor: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> str | None:
    """Why the arguments do not fit the actor's signature, or None."""
    try:
        inspect.signature(actor.fn).bind(*args, **dict(kwargs or {}))
    except TypeError as exc:
        return f"{exc}; {actor.actor_name} takes {actor.actor_name}{shown_signature(actor.fn)}"
    return None


def refusal(actor: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> str | None:
    """Why the actor would refuse these arguments, or None: they do not fit its signature,
    or its check refuses a value."""
    kwargs = dict(kwargs or {})
    problem = misfit(actor, args, kwargs)
    if problem is not None:
        return problem
    check = CHECKS.get(actor.actor_name)
    if check is not None:
        try:
            check(*args, **kwargs)
        except InvalidInput as exc:
            return str(exc)
    return None


def arguments_refused(broker: Any, message: Any, exception: BaseException | None) -> bool:
    """A TypeError because the message's arguments do not fit the actor (sent by hand, or from
    before a change of signature): no retry can succeed. A TypeError from inside the actor can."""
    if not isinstance(exception, TypeError):
        return False
    try:
        actor = broker.get_actor(message.actor_name)
    except Exception:  # an unknown actor: Dramatiq's own rules apply  # noqa: BLE001
        return False
    return misfit(actor, message.args, message.kwargs) is not None
