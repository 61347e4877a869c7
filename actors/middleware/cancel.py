"""Cancellation of messages that have not started: workers skip a message marked in Redis.

`DELETE /v1/tasks/{id}` (and `stonks cancel`) mark the message id; when a worker
receives the message, this middleware skips it before it runs, and the run
history records it as `cancelled`. A message that has started cannot be stopped
this way: the API checks the history and answers 409 for it.

A Redis round trip per message halved the worker's throughput, so each worker
process keeps the set of cancelled ids in memory, refreshed from a sorted-set
index every REFRESH_S; when that refresh is stale (Redis away or slow), it asks
Redis about each message instead. A cancel therefore reaches the workers within
about REFRESH_S: a message that starts in that window runs, and the API, which
reads the run history, reports it as started rather than cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from dramatiq.middleware import Middleware, SkipMessage

from pipeline.redis_clients import redis_client

logger = logging.getLogger(__name__)

# Longer than a message can wait: the dead-letter TTL is 7 days, the age limit one day.
MARK_TTL_S = 8 * 86_400
REFRESH_S = 0.2
STALE_S = 2.0


def cancel_key(namespace: str, message_id: str) -> str:
    return f"{namespace}:cancelled:{message_id}"


def index_key(namespace: str) -> str:
    return f"{namespace}:cancelled-index"


def mark_cancelled(client: redis.Redis, namespace: str, message_id: str) -> None:
    now = time.time()
    with client.pipeline() as pipe:
        pipe.set(cancel_key(namespace, message_id), "1", ex=MARK_TTL_S)
        pipe.zadd(index_key(namespace), {message_id: now})
        pipe.zremrangebyscore(index_key(namespace), 0, now - MARK_TTL_S)
        pipe.execute()


class Cancellation(Middleware):
    def __init__(self, redis_url: str, namespace: str) -> None:
        self.client = redis_client(redis_url, socket_connect_timeout=3, socket_timeout=3)
        self.namespace = namespace
        self._cancelled: set[str] = set()
        self._since = 0.0
        self._fresh_at = 0.0
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._thread = threading.Thread(target=self._refresh_loop, name="cancellations", daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        while True:
            started = time.time()
            try:
                ids = self.client.zrangebyscore(index_key(self.namespace), self._since - 5, "+inf")
            except redis.RedisError:
                time.sleep(1.0)
                continue
            # The ids first, then the stamp that vouches for them (see `_is_cancelled`).
            self._cancelled.update([i.decode() if isinstance(i, bytes) else str(i) for i in ids])
            self._since, self._fresh_at = started, time.monotonic()
            time.sleep(REFRESH_S)

    def _is_cancelled(self, message_id: str) -> bool:
        # No lock: the refresh thread adds the ids before it moves `_fresh_at`, each in one
        # step under the GIL, so a fresh stamp is never read without the ids it vouches for.
        if time.monotonic() - self._fresh_at < STALE_S:
            return message_id in self._cancelled
        return bool(self.client.exists(cancel_key(self.namespace, message_id)))

    def before_process_message(self, broker: Any, message: Any) -> None:
        try:
            cancelled = self._is_cancelled(message.message_id)
        except redis.RedisError as exc:  # Redis away: run the message rather than lose it
            logger.warning("cancellation check failed for %s, running it: %s", message.message_id, exc)
            return
        if cancelled:
            message.options["cancelled"] = True
            message.options["skip_reason"] = "cancelled before it started"
            logger.info("skipping cancelled message %s", message.message_id)
            raise SkipMessage(f"message {message.message_id} was cancelled")
