"""The broker and its middleware stack, built once from the settings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    GroupCallbacks,
    Middleware,
    MiddlewareError,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.rate_limits.backends import RedisBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend as ResultRedisBackend

from actors.middleware.cancel import Cancellation
from actors.middleware.history import RunHistory
from actors.middleware.logs import LogSetup
from actors.middleware.recycle import Recycle, put_this_python_first_on_path
from actors.middleware.retries import PolicyRetries
from actors.middleware.workers import Heartbeats, StartupChecks
from pipeline.history.writer import HistoryWriter
from pipeline.redis_clients import redis_client
from pipeline.settings import Settings, get_settings

logger = logging.getLogger(__name__)

QUEUES = ("scraping", "processing", "default")
MAX_AGE_MS = 24 * 3_600_000  # a message older than a day is stale: the schedule sends a fresh one
DEFAULT_TIME_LIMIT_MS = 600_000


class ScriptedRedisBackend(RedisBackend):  # type: ignore[misc]  # dramatiq leaves it unannotated
    """Dramatiq's Redis backend for rate limits and group barriers, with `incr` and `decr` as scripts.

    Dramatiq's own run an optimistic transaction (WATCH, GET, MULTI, SET, EXEC): four
    round trips or more, retried whenever another thread changed the key meanwhile,
    which is every time when a group's members finish together and each counts down
    the group's barrier. A script does the same in one round trip, atomically.
    """

    _INCR = """
    local value = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
    if value > tonumber(ARGV[2]) then return 0 end
    redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
    return 1
    """
    _DECR = """
    local value = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1])
    if value < tonumber(ARGV[2]) then return 0 end
    redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
    return 1
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._incr = self.client.register_script(self._INCR)
        self._decr = self.client.register_script(self._DECR)

    def incr(self, key: str, amount: int, maximum: int, ttl: int) -> bool:
        return bool(self._incr(keys=[key], args=[amount, maximum, ttl]))

    def decr(self, key: str, amount: int, minimum: int, ttl: int) -> bool:
        return bool(self._decr(keys=[key], args=[amount, minimum, ttl]))


class StackBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, calling only the middleware hooks that do something.

    Dramatiq calls every middleware's hook for every signal: four signals a message
    (before and after processing, before and after the acknowledgement) times the
    stack's sixteen middleware, most of them `Middleware`'s empty methods. This
    broker skips a hook that a middleware's class inherits unchanged from
    `Middleware`, and calls the others exactly as Dramatiq does: in the same
    order, a `MiddlewareError` from a "before" hook raised, any other exception
    logged. The hooks are worked out again whenever the middleware list changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Per hook: the middleware list it was worked out from, and the middleware that have it.
        self._hook_cache: dict[str, tuple[list[Middleware], list[Middleware]]] = {}
        super().__init__(*args, **kwargs)

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        self._emit("before_" + signal, MiddlewareError, args, kwargs)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        self._emit("after_" + signal, (), args, kwargs)

    def _emit(self, hook: str, passes: type[Exception] | tuple[()], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> None:
        for middleware in self._hooked(hook):
            try:
                getattr(middleware, hook)(self, *args, **kwargs)
            except passes:  # only a "before" hook's MiddlewareError stops the caller
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", hook, middleware, exc_info=True)

    def _hooked(self, hook: str) -> list[Middleware]:
        """The middleware with something in `hook`, in calling order ("after" hooks run in reverse)."""
        cached = self._hook_cache.get(hook)
        if cached is not None and cached[0] == self.middleware:  # identity first: no __eq__ on middleware
            return cached[1]
        base = getattr(Middleware, hook, None)
        ordered = self.middleware if hook.startswith("before_") else self.middleware[::-1]
        hooked = [m for m in ordered
                  if base is None or hook in getattr(m, "__dict__", ()) or getattr(type(m), hook, None) is not base]
        self._hook_cache[hook] = (list(self.middleware), hooked)
        return hooked


class Stack:
    """The broker plus the backends that actors and tools need to reach."""

    def __init__(self, settings: Settings) -> None:
        ns = settings.redis_namespace
        # No socket timeout: `get_result(block=True, timeout=...)` waits in Redis (BRPOPLPUSH)
        # for as long as asked, and redis-py 8's default of 5 s would cut any longer wait.
        results_client = redis_client(settings.redis_url, socket_timeout=None, socket_keepalive=True)
        self.results = ResultRedisBackend(client=results_client, namespace=f"{ns}-results")
        self.rate_limits = ScriptedRedisBackend(client=redis_client(settings.redis_url))  # quotas and group barriers
        self.namespace = ns  # prefix for our own limiter keys
        self.writer = HistoryWriter(settings.database_url, spool_dir=Path(settings.history_spool_dir))
        self.history = RunHistory(self.writer)
        middleware: list[Middleware] = []
        if settings.prometheus_enabled:
            from dramatiq.middleware.prometheus import Prometheus

            middleware.append(Prometheus())
        # Dramatiq runs "before" hooks in list order and "after" hooks in reverse.
        # CurrentMessage and RunHistory come before Pipelines, GroupCallbacks and
        # Retries so that, in the after hooks, they see what those decided (retry,
        # fail, pipe on) and the current message is still set while they enqueue.
        middleware += [
            LogSetup(settings.log_json),
            StartupChecks(settings.rabbitmq_consumer_timeout_ms),
            Heartbeats(settings.database_url, self.history),
            Recycle(settings.worker_max_messages, settings.worker_max_memory_mb, before_exit=self.writer.close),
            AgeLimit(max_age=MAX_AGE_MS),
            CurrentMessage(),
            Cancellation(settings.redis_url, settings.redis_namespace),  # before RunHistory: never runs
            self.history,
            TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            GroupCallbacks(self.rate_limits),
            # actors/batches.py adds BatchReports here, once its actors exist.
            PolicyRetries(),
            Results(backend=self.results, store_results=True, result_ttl=settings.result_ttl_ms),
        ]
        # Publisher confirms: send() returns only once RabbitMQ has the message.
        self.broker = StackBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware)


def build_stack(settings: Settings | None = None) -> Stack:
    put_this_python_first_on_path()  # the dramatiq main process imports this too: its reload then works
    stack = Stack(settings or get_settings())
    dramatiq.set_broker(stack.broker)
    for queue in QUEUES:
        stack.broker.declare_queue(queue)
    return stack
