"""Each test run gets its own database, RabbitMQ vhost and Redis namespace, and removes them.

They are made lazily, by the `services` fixture, for the tests that use it (directly, through
`broker` or `session`, or with `pytestmark = pytest.mark.usefixtures("services")`); those tests
carry the `services` marker, so `pytest -m "not services"` runs the pure suite without any service.
A test without the marker that connects to PostgreSQL, RabbitMQ or Redis fails, naming the service.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import services as isolation

# The pipeline tests' fixtures (`sandbox`: a started sandbox for the module), for every test module.
pytest_plugins = ["tests.support.pipeline"]

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


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """This run's database (migrated), vhost and Redis namespace, made on first use."""
    isolation.create_database(DATABASE)
    isolation.create_vhost(VHOST)
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
    isolation.drop_database(DATABASE)
    isolation.delete_vhost(VHOST)
    isolation.delete_redis_namespace(REDIS_URL, RUN_ID)


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
def broker(services: dict[str, str]) -> Iterator[Any]:
    """The project's broker, with every queue emptied before and after the test."""
    import actors
    import tests.support.actors  # noqa: F401

    flush_queues(actors.broker)
    yield actors.broker
    flush_queues(actors.broker)


@pytest.fixture()
def session(services: dict[str, str]) -> Iterator[Any]:
    from pipeline.db import session_scope

    with session_scope() as s:
        yield s


SERVICE_PORTS = {5432: "PostgreSQL", 5672: "RabbitMQ", 15672: "RabbitMQ's management API", 6379: "Redis"}


@pytest.fixture(autouse=True)
def _no_services_unless_asked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure test (no `services` marker) that connects to a service fails, naming it."""
    if request.node.get_closest_marker("services") is not None:
        return
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[1] in SERVICE_PORTS:
            raise AssertionError(f"this test connects to {SERVICE_PORTS[address[1]]} without the `services` "
                                 "fixture: request it (or a fixture that needs it, such as broker or session)")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "service_restarts: restarts a real service; runs after every other test")
    config.addinivalue_line("markers", "services: uses PostgreSQL, RabbitMQ or Redis (the `services` fixture)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "services" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.services)
    # Tests that restart RabbitMQ, PostgreSQL or Redis go last, so no other test sees the outage.
    items.sort(key=lambda item: item.get_closest_marker("service_restarts") is not None)
