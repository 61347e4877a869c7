"""The broker and its middleware stack, built once from the settings."""

from __future__ import annotations

import logging
from pathlib import Path

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    GroupCallbacks,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend as ResultRedisBackend

from actors.cancel import Cancellation
from actors.history import RunHistory
from actors.limits import ScriptedRedisBackend
from actors.logs import LogSetup
from actors.recycle import Recycle, put_this_python_first_on_path
from actors.retries import PolicyRetries
from actors.workers import Heartbeats, StartupChecks
from pipeline.history import HistoryWriter
from pipeline.redis_clients import redis_client
from pipeline.settings import Settings, get_settings

logger = logging.getLogger(__name__)

QUEUES = ("scraping", "processing", "default")
MAX_AGE_MS = 24 * 3_600_000  # a message older than a day is stale: the schedule sends a fresh one
DEFAULT_TIME_LIMIT_MS = 600_000


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
        self.broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware)


def build_stack(settings: Settings | None = None) -> Stack:
    put_this_python_first_on_path()  # the dramatiq main process imports this too: its reload then works
    stack = Stack(settings or get_settings())
    dramatiq.set_broker(stack.broker)
    for queue in QUEUES:
        stack.broker.declare_queue(queue)
    return stack
