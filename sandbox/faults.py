"""Faults injected on demand: HTTP errors in each service's envelope, slowness, broken bodies.

A fault names a service (or "*"), a kind, how many requests it spoils (None: until
cleared), the chance that a matching request is spoilt, and optionally a substring
the request's path and query must contain. Chances are drawn from a generator
seeded by the server's seed, and only for faults with a chance below one, so a
run of the same requests spoils the same ones.

Kinds every service knows: 429, 429_retry_after, 500, 503 (in the service's own
error envelope), html_503 (nginx's page), slow (answers normally after delay_s),
truncated (the normal JSON cut in half) and not_json (200 with an HTML page).
eBay adds expire_token: when it strikes, every token issued until then dies and
the request goes on, so a search meets 401 errorId 1001. Brickset adds api_limit.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass

from .messages import Request, Response, text_response
from .service import Service

COMMON_KINDS = frozenset({"429", "429_retry_after", "500", "503", "html_503", "slow", "truncated", "not_json"})
ANY_SERVICE = "*"
RETRY_AFTER_S = 1  # what a 429_retry_after fault asks for; a request before it has passed counts as early

NGINX_503 = """<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
NOT_JSON_PAGE = """<!DOCTYPE html>
<html><head><title>Just a moment...</title></head>
<body><p>Checking your browser before accessing the site.</p></body></html>
"""


@dataclass
class Fault:
    service: str
    kind: str
    count: int | None = 1
    probability: float = 1.0
    delay_s: float | None = None
    path_contains: str | None = None

    def concerns(self, service: Service, target: str) -> bool:
        if self.service not in (ANY_SERVICE, service.name):
            return False
        if self.kind not in COMMON_KINDS and self.kind not in service.extra_faults:
            return False
        return self.path_contains is None or self.path_contains in target


def check_fault(fault: Fault, services: dict[str, Service]) -> None:
    """Raises ValueError naming what is wrong with a fault before it is armed."""
    if fault.service != ANY_SERVICE and fault.service not in services:
        raise ValueError(f"unknown service {fault.service!r}; use one of {sorted(services)} or '*'")
    targets = services.values() if fault.service == ANY_SERVICE else [services[fault.service]]
    if fault.kind not in COMMON_KINDS and not any(fault.kind in s.extra_faults for s in targets):
        known = sorted(COMMON_KINDS.union(*(s.extra_faults for s in targets)))
        raise ValueError(f"unknown fault kind {fault.kind!r} for {fault.service!r}; use one of {known}")
    if fault.count is not None and fault.count < 1:
        raise ValueError("count must be at least 1, or null for until cleared")
    if not 0.0 <= fault.probability <= 1.0:
        raise ValueError("probability must lie between 0 and 1")
    if fault.kind == "slow" and (fault.delay_s is None or fault.delay_s < 0):
        raise ValueError("a slow fault needs delay_s, a number of seconds")


class FaultBoard:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(f"{seed}:faults")

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rng = random.Random(f"{self._seed}:faults")

    def armed(self) -> list[dict[str, object]]:
        with self._lock:
            return [dataclasses.asdict(fault) for fault in self._faults]

    def draw(self, service: Service, target: str) -> Fault | None:
        """The first armed fault that strikes this request, used up by one."""
        with self._lock:
            for fault in self._faults:
                if not fault.concerns(service, target):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                return fault
        return None


def answer_with_fault(fault: Fault, service: Service, request: Request) -> Response:
    """The answer a fault makes; a slow fault's is the normal one, its delay waited out by the caller."""
    kind = fault.kind
    if kind == "slow":
        return service.handle(request)
    if kind == "truncated":
        response = service.handle(request)
        response.body = response.body[: len(response.body) // 2]
        return response
    if kind == "not_json":
        return text_response(200, NOT_JSON_PAGE)
    if kind == "html_503":
        return text_response(503, NGINX_503, "text/html")
    if kind == "429_retry_after":
        response = service.error(request, 429, RETRY_AFTER_S)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    if kind in ("429", "500", "503"):
        return service.error(request, int(kind), None)
    return service.apply_fault(kind, request) or service.handle(request)
