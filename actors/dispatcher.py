"""The dashboard's dispatcher on the real broker: send by actor name, list actors, cancel."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from dramatiq.errors import ActorNotFound

from actors.arguments import refusal
from actors.middleware.cancel import mark_cancelled
from pipeline.ops.dispatch import ActorInfo, BadArguments, UnknownActor
from pipeline.redis_clients import redis_client


def signature(fn: Any) -> inspect.Signature:
    """The function's signature with its annotations evaluated, as its author wrote them."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:  # an annotation that does not evaluate here: show it as written  # noqa: BLE001
        return inspect.signature(fn)


class BrokerDispatcher:
    def __init__(self, broker: Any, redis_url: str, namespace: str) -> None:
        self.broker = broker
        self.namespace = namespace
        self._redis = redis_client(redis_url, socket_connect_timeout=3, socket_timeout=3)

    def actors(self) -> list[ActorInfo]:
        return [
            ActorInfo(
                name=name,
                queue=actor.queue_name,
                signature=str(signature(actor.fn)),
                max_retries=actor.options.get("max_retries"),
                time_limit_ms=actor.options.get("time_limit"),
            )
            for name, actor in sorted(self.broker.actors.items())
        ]

    def queues(self) -> list[str]:
        return sorted(self.broker.get_declared_queues())

    def send(
        self, actor: str, kwargs: dict[str, Any], *, args: Sequence[Any] = (), parent_id: str | None = None
    ) -> str:
        try:
            target = self.broker.get_actor(actor)
        except ActorNotFound:
            raise UnknownActor(actor, list(self.broker.actors)) from None
        problem = refusal(target, args, kwargs)
        if problem is not None:
            raise BadArguments(problem)
        options = {"parent_id": parent_id} if parent_id else {}
        message_id: str = target.send_with_options(args=tuple(args), kwargs=kwargs, **options).message_id
        return message_id

    def mark_cancelled(self, message_id: str) -> None:
        mark_cancelled(self._redis, self.namespace, message_id)


def dispatcher() -> BrokerDispatcher:
    """The dispatcher of this process's stack (`import actors` builds it and declares every actor)."""
    import actors
    from pipeline.settings import get_settings

    settings = get_settings()
    return BrokerDispatcher(actors.broker, settings.redis_url, settings.redis_namespace)
