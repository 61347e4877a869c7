"""Prometheus metrics read from the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from pipeline.models import Minifigure, PriceSnapshot
from pipeline.ops.metrics import StonksCollector
from pipeline.settings import get_settings
from tests.support.pipeline import clear_pipeline_tables

pytestmark = pytest.mark.usefixtures("services")


def scrape() -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(StonksCollector(get_settings()))
    values = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_queue_depths_and_snapshot_freshness(broker, session) -> None:
    from tests.support.actors import echo

    clear_pipeline_tables()  # other tests' figures (dated 2031 on purpose) would be the newest snapshots
    for i in range(3):
        echo.send(f"waiting-{i}")
    fresh, stale = Minifigure(name="Fresh", source="test"), Minifigure(name="Stale", source="test")
    session.add_all([fresh, stale])
    session.flush()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    session.add(PriceSnapshot(minifigure_id=fresh.id, snapshot_date=yesterday, condition="USED", currency="USD",
                              n=6, median_price=Decimal("4.50"), method_version=1))
    session.commit()
    values = scrape()
    assert values['stonks_queue_messages{queue="default",state="ready"}'] == 3
    assert values["stonks_figures_without_snapshot_yesterday"] >= 1
    assert values["stonks_latest_snapshot_age_days"] == 1
    assert values["stonks_minifigures"] >= 2
    session.delete(fresh)
    session.delete(stale)
