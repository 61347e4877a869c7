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


def refusal(actor: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> str | None:
    """Why the actor would refuse these arguments, or None: they do not fit its signature,
    or its check refuses a value."""
    kwargs = dict(kwargs or {})
    try:
        inspect.signature(actor.fn).bind(*args, **kwargs)
    except TypeError as exc:
        return f"{exc}; {actor.actor_name} takes {actor.actor_name}{shown_signature(actor.fn)}"
    check = CHECKS.get(actor.actor_name)
    if check is not None:
        try:
            check(*args, **kwargs)
        except InvalidInput as exc:
            return str(exc)
    return None
