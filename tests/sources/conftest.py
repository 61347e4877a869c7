"""The sandbox server for tests that talk HTTP to the stand-in services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox import SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the session, on a free port; reset before each test that uses it."""
    server = SandboxServer(host="127.0.0.1", port=0, seed=42).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_sandbox(request: pytest.FixtureRequest) -> None:
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Starts sandboxes with their own settings (limits, throttles, seeds); stops them after the test."""
    started: list[SandboxServer] = []

    def make(**settings: Any) -> SandboxServer:
        server = SandboxServer(host="127.0.0.1", port=0, **settings).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
