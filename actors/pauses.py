"""Pauses a service asked for (`Retry-After`), shared by every thread and process that calls it.

A pause is a Redis key per API and credentials, whose time to live is the wait: it only grows
(a shorter Retry-After does not cut a longer one short) and never past MAX_SHARED_PAUSE_S. A
process reads it at most every PAUSE_REFRESH_S; the one that was told pauses at once, and
keeps pausing alone when Redis fails.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping

import redis

logger = logging.getLogger(__name__)

PAUSE_REFRESH_S = 0.2  # how stale a process's view of another process's pause may be
MAX_SHARED_PAUSE_S = 900.0  # a Retry-After beyond this (a day, a date years away) pauses no one longer

_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""


class Pauses:
    """`credentials`: per service, a tag of the API and credentials its pause is shared by; a service
    without one is never paused."""

    def __init__(self, client: redis.Redis, namespace: str, credentials: Mapping[str, str]) -> None:
        self._redis = client
        self._script = client.register_script(_PAUSE)
        self._keys = {service: f"{namespace}:pause:{service}:{tag}" for service, tag in credentials.items()}
        self._namespace = namespace
        self._paused_until: dict[str, tuple[float, float]] = {}  # service -> (read at, paused until), monotonic
        self._lock = threading.Lock()

    def key(self, service: str) -> str:
        return self._keys.get(service) or f"{self._namespace}:pause:{service}"

    def throttled(self, service: str, seconds: float) -> None:
        """The service asked to wait `seconds`: every caller of it waits as long (an `on_throttled` hook).

        This process pauses at once; the others through Redis (when Redis fails, only this one)."""
        if service not in self._keys:
            return
        ms = max(1, math.ceil(min(seconds, MAX_SHARED_PAUSE_S) * 1000))
        self._note(service, time.monotonic() + ms / 1000, read=False)
        try:
            self._script(keys=[self.key(service)], args=[ms])
        except redis.RedisError as exc:
            logger.warning("%s: the pause of %.1f s is this process's only (Redis: %s)", service, ms / 1000, exc)

    def paused_for(self, service: str) -> float:
        """Seconds left of the service's pause, as Redis had it at most PAUSE_REFRESH_S ago."""
        if service not in self._keys:
            return 0.0
        now = time.monotonic()
        read_at, until = self._paused_until.get(service, (-math.inf, 0.0))
        if now - read_at >= PAUSE_REFRESH_S:
            try:
                left_ms = self._redis.pttl(self.key(service))
            except redis.RedisError as exc:
                logger.warning("%s: other processes' pause unknown (Redis: %s)", service, exc)
                left_ms = 0
            until = self._note(service, now + left_ms / 1000 if left_ms and left_ms > 0 else 0.0, read=True)
        return max(until - now, 0.0)

    def _note(self, service: str, until: float, *, read: bool) -> float:
        """Keep the later of what this process knew and `until`; `read`: Redis was just asked."""
        with self._lock:
            read_at, known = self._paused_until.get(service, (-math.inf, 0.0))
            now = time.monotonic()
            self._paused_until[service] = (now if read else read_at, max(known, until))
            return max(known, until)
