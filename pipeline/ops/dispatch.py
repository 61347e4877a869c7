"""What the dashboard needs from the task layer, without importing it.

`pipeline` never imports Dramatiq, so the web app takes a `Dispatcher`: the
`actors` package implements it with the real broker (`actors.dispatcher`), tests may
pass their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol


class UnknownActor(LookupError):
    """No actor of that name is registered."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown actor {name!r}; registered actors: {', '.join(sorted(known)) or 'none'}")
        self.name = name


class BadArguments(ValueError):
    """The arguments do not fit the actor's signature."""


@dataclass(frozen=True)
class ActorInfo:
    name: str
    queue: str
    signature: str  # e.g. "(minifigure_id: str, condition: str | None = None)"
    max_retries: int | None
    time_limit_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Dispatcher(Protocol):
    def actors(self) -> list[ActorInfo]:
        """Every registered actor, sorted by name."""
        ...

    def queues(self) -> list[str]:
        """The canonical queue names the broker declares."""
        ...

    def send(
        self, actor: str, kwargs: dict[str, Any], *, args: Sequence[Any] = (), parent_id: str | None = None
    ) -> str:
        """Enqueue a message (raises UnknownActor, BadArguments); returns its message id."""
        ...

    def mark_cancelled(self, message_id: str) -> None:
        """Make workers skip the message when it is delivered."""
        ...
