"""Proxies from the environment, read once per origin rather than on every request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.sources.http import environment_proxies
from sandbox import SandboxServer
from tests.sources.clients_support import rebrickable_client


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    environment_proxies.cache_clear()
    yield
    environment_proxies.cache_clear()


def test_the_environment_names_the_proxy_and_no_proxy_exempts_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "sandbox.internal")
    assert environment_proxies("https", "rebrickable.com")["https"] == "http://proxy.internal:3128"
    assert "https" not in environment_proxies("https", "sandbox.internal")


def test_a_client_goes_through_the_proxy_the_environment_names(sandbox: SandboxServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The sandbox answers absolute-form requests, as an HTTP proxy receives them; the
    # origin's name does not resolve, so only the proxy can have answered.
    monkeypatch.setenv("HTTP_PROXY", sandbox.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = rebrickable_client(sandbox)
    client.base_url = client.base_url.replace(sandbox.url, "http://rebrickable.invalid")
    try:
        assert client.get_themes()
    finally:
        client.close()
