"""The sandbox's state and dispatch: which service a request is for, the fault that strikes it, the counters."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from .faults import RETRY_AFTER_S, Fault, FaultBoard, answer_with_fault, check_fault
from .messages import Request, Response, json_response
from .service import Service

DATE_HEADER = "X-Sandbox-Date"
IN_FLIGHT_S = 0.3  # a request this soon after a Retry-After was given may have been sent before it was read


class _Stats:
    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._lock = threading.Lock()
        self._requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._faults: dict[str, int] = defaultdict(int)
        self._early: dict[str, int] = defaultdict(int)
        self._paused: dict[str, tuple[float, float]] = {}  # service -> when its last Retry-After binds, ends

    def record(self, service: str, path: str, fault: Fault | None) -> None:
        """Count the request. One that comes before a Retry-After this service gave has ended is early,
        unless it comes within IN_FLIGHT_S of it: sent before anyone could have read the answer."""
        now = time.monotonic()
        with self._lock:
            self._requests[service][path] += 1
            self._faults[service] += fault is not None
            binds, ends = self._paused.get(service, (0.0, 0.0))
            if binds <= now < ends:
                self._early[service] += 1
            if fault is not None and fault.kind == "429_retry_after":
                self._paused[service] = (now + IN_FLIGHT_S, now + RETRY_AFTER_S)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: {"requests": sum(self._requests[name].values()), "faults": self._faults[name],
                           "early": self._early[name], "paths": dict(sorted(self._requests[name].items()))}
                    for name in self._names}

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._early.clear()
            self._paused.clear()


@dataclass(frozen=True)
class Call:
    """A request bound for a service, and the fault that strikes it, if one does."""

    service: Service
    request: Request
    fault: Fault | None

    @property
    def delay_s(self) -> float:
        """How long to wait before answering: a slow fault's delay, else nothing."""
        return (self.fault.delay_s or 0.0) if self.fault is not None and self.fault.kind == "slow" else 0.0

    def answer(self) -> Response:
        """The service's answer, or the fault's; blocking, and never the delay (the caller waits it out)."""
        if self.fault is None:
            return self.service.handle(self.request)
        return answer_with_fault(self.fault, self.service, self.request)


class Switchboard:
    """The four services, the armed faults and the request counters, shared by every connection."""

    def __init__(self, seed: int, services: list[Service]) -> None:
        self.seed = seed
        self.services: dict[str, Service] = {service.name: service for service in services}
        self._faults = FaultBoard(seed)
        self._stats = _Stats(list(self.services))

    def inject(self, service: str, kind: str, count: int | None = 1, probability: float = 1.0,
               delay_s: float | None = None, path_contains: str | None = None) -> None:
        """Arms a fault; raises ValueError for an unknown service or kind."""
        fault = Fault(service, kind, count, probability, delay_s, path_contains)
        check_fault(fault, self.services)
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, object]]:
        return self._faults.armed()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Requests per service and per path, and how many of them a fault answered."""
        return self._stats.snapshot()

    def reset(self) -> None:
        """Clears faults, counters, quotas, throttles and issued tokens."""
        self._faults.reset()
        self._stats.clear()
        for service in self.services.values():
            service.reset()

    def base_urls(self, origin: str) -> dict[str, str]:
        return {name: origin + service.prefix for name, service in self.services.items()}

    def receive(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                origin: str) -> Call | Response:
        """A request (its raw target, as received) matched to its service, counted, and its fault drawn;
        or the answer at once when no service is there or the listing day is malformed."""
        parts = urlsplit(target)
        service = next((s for s in self.services.values()
                        if parts.path == s.prefix or parts.path.startswith(s.prefix + "/")), None)
        if service is None:
            return json_response(404, {"error": f"no sandbox service at {parts.path}",
                                       "services": self.base_urls(origin)})
        try:
            day = _listing_day(headers.get(DATE_HEADER))
        except ValueError:
            return json_response(400, {"error": f"{DATE_HEADER} must be a date, YYYY-MM-DD"})
        request = Request(method, parts.path[len(service.prefix):] or "/", parts.path, parts.query, headers, body,
                          origin, day)
        fault = self._faults.draw(service, target)
        self._stats.record(service.name, parts.path, fault)
        return Call(service, request, fault)


def _listing_day(header: str | None) -> date:
    if header:
        return date.fromisoformat(header.strip())
    return datetime.now(UTC).date()
