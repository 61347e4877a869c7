"""Each test run gets its own database, RabbitMQ vhost and Redis namespace, and removes them."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import services

RUN_ID = f"stonks_test_{uuid.uuid4().hex[:10]}"
DATABASE = RUN_ID
VHOST = RUN_ID
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Set before anything reads the settings: every process the tests start inherits them.
os.environ.update(
    {
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        "BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
        "REDIS_URL": REDIS_URL,
        "REDIS_NAMESPACE": RUN_ID,
        "HISTORY_SPOOL_DIR": tempfile.mkdtemp(prefix=f"{RUN_ID}-spool-"),
        "dramatiq_restart_delay": "500",
    }
)
for key in ("EBAY_CLIENT_ID", "REBRICKABLE_API_KEY", "BRICKSET_API_KEY", "DASHBOARD_TOKEN", "SCHEDULE_FILE"):
    os.environ.pop(key, None)


@pytest.fixture(scope="session", autouse=True)
def isolated_services() -> Iterator[dict[str, str]]:
    services.create_database(DATABASE)
    services.create_vhost(VHOST)
    from pipeline import db

    db.upgrade()
    yield {"database": DATABASE, "vhost": VHOST, "namespace": RUN_ID}
    db.get_engine().dispose()
    try:
        import actors

        actors.stack.writer.close(timeout=5)
        actors.broker.close()
    except Exception:  # the broker may never have been used in this run
        pass
    services.drop_database(DATABASE)
    services.delete_vhost(VHOST)
    services.delete_redis_namespace(REDIS_URL, RUN_ID)


def flush_queues(broker: Any) -> None:
    """Empty every declared queue, on a fresh connection (an idle one may have been closed)."""
    import pika

    for attempt in range(3):
        del broker.connection
        try:
            for queue in broker.get_declared_queues():
                broker.flush(queue)
            return
        except (pika.exceptions.AMQPError, ConnectionError):
            if attempt == 2:
                raise


@pytest.fixture()
def broker() -> Iterator[Any]:
    """The project's broker, with every queue emptied before and after the test."""
    import actors
    import tests.support.actors  # noqa: F401

    flush_queues(actors.broker)
    yield actors.broker
    flush_queues(actors.broker)


@pytest.fixture()
def session() -> Iterator[Any]:
    from pipeline.db import session_scope

    with session_scope() as s:
        yield s


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "service_restarts: restarts a real service; runs after every other test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that restart RabbitMQ, PostgreSQL or Redis go last, so no other test sees the outage.
    items.sort(key=lambda item: item.get_closest_marker("service_restarts") is not None)
