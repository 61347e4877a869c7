"""What every stand-in service offers the server: its prefix, its routes and its error envelope."""

from __future__ import annotations

import abc
import threading
from collections import defaultdict
from datetime import date
from typing import ClassVar

from .messages import Request, Response


class Service(abc.ABC):
    name: ClassVar[str]
    prefix: ClassVar[str]  # the path the service lives under: "/ebay"
    extra_faults: ClassVar[frozenset[str]] = frozenset()  # fault kinds only this service knows

    @abc.abstractmethod
    def handle(self, request: Request) -> Response:
        """Answers a request the way the real service would."""

    @abc.abstractmethod
    def error(self, request: Request, status: int, retry_after: int | None) -> Response:
        """An injected HTTP error (429, 500, 503) in the service's own envelope."""

    def apply_fault(self, kind: str, request: Request) -> Response | None:
        """Applies one of `extra_faults`: a response to send, or None to answer normally."""
        raise ValueError(f"{self.name} has no fault {kind!r}")

    def reset(self) -> None:  # noqa: B027  (a service with nothing to forget keeps this one)
        """Forgets quotas, counters and issued tokens."""


class DailyQuota:
    """Calls per caller (an API key, an app) per day, refused past a limit; refused calls count too."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, date], int] = defaultdict(int)

    def spend(self, caller: str, day: date) -> bool:
        """Counts a call; False when it goes past the day's limit."""
        with self._lock:
            self._calls[(caller, day)] += 1
            return self._calls[(caller, day)] <= self._limit

    def usage(self, caller: str) -> dict[date, int]:
        with self._lock:
            return {day: calls for (who, day), calls in self._calls.items() if who == caller}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
