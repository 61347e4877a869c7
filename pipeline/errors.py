"""Errors that decide what the worker layer does with a failed message."""

from __future__ import annotations


class NotFound(LookupError):
    """What was asked for by name or id does not exist: a run, a queue, a message, a figure, a record."""


class InvalidInput(ValueError):
    """Bad arguments: permanent, recorded, never retried, nothing written."""


class Deferred(Exception):
    """The work cannot run yet (a quota ran out): run it later, it has not failed."""

    def __init__(self, message: str, delay_s: float) -> None:
        super().__init__(message)
        self.delay_s = delay_s
