"""Prometheus metrics beyond Dramatiq's own: queue depths and snapshot freshness.

Dramatiq's Prometheus middleware (PROMETHEUS_ENABLED) exports per-actor message
counts and durations from the workers. This collector adds what only the broker
and the database know, read fresh at each scrape. `stonks metrics` serves it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline import db
from pipeline.clock import utcnow
from pipeline.ops import rabbit
from pipeline.settings import Settings
from pipeline.sql import snapshots
from pipeline.sql.runs import counts_by_actor

logger = logging.getLogger(__name__)
QUEUES = ["scraping", "processing", "default"]

class StonksCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._queues()
        yield from self._database()

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("stonks_queue_messages", "Messages per queue and state", labels=["queue", "state"])
        consumers = GaugeMetricFamily("stonks_queue_consumers", "Consumers per queue", labels=["queue"])
        try:
            overview = rabbit.queue_overview(self.settings, QUEUES)
        except Exception as exc:  # a scrape reports what it can  # noqa: BLE001
            logger.warning("queue metrics unavailable: %s", exc)
            return
        for q in overview.queues:
            for state in ("ready", "delayed", "dead", "unacked"):
                value = getattr(q, state)
                if value is not None:
                    depth.add_metric([q.name, state], value)
            if q.consumers is not None:
                consumers.add_metric([q.name], q.consumers)
        yield depth
        yield consumers

    def _database(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        try:
            with db.get_engine(self.settings.database_url).connect() as conn:
                figures, stale, latest = snapshots.freshness(conn, now.date() - timedelta(days=1))
                runs = counts_by_actor(conn, now - timedelta(days=1))
        except Exception as exc:  # a scrape reports what it can  # noqa: BLE001
            logger.warning("database metrics unavailable: %s", exc)
            return
        yield GaugeMetricFamily("stonks_minifigures", "Figures in the catalog", value=figures)
        yield GaugeMetricFamily(
            "stonks_figures_without_snapshot_yesterday", "Figures with no snapshot for yesterday (UTC)", value=stale
        )
        age = GaugeMetricFamily("stonks_latest_snapshot_age_days", "Days since the newest snapshot's date")
        if latest is not None:
            age.add_metric([], (utcnow().date() - latest).days)
        yield age
        by_status = GaugeMetricFamily("stonks_runs_last_day", "Runs in the last 24 h by actor and status",
                                      labels=["actor", "status"])
        for actor, status, count in runs:
            by_status.add_metric([actor or "?", status], count)
        yield by_status
