"""Every injected fault, for every client: retried and recovered when brief, a clear error when it persists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pipeline.sources.ebay import BrowseQuery
from pipeline.sources.errors import TransientSourceError
from sandbox import SandboxServer, catalog
from tests.sources.clients_support import (
    ATTEMPTS,
    TIMEOUT_S,
    Sleeps,
    bricklink_client,
    brickset_client,
    ebay_client,
    fast_retry,
    rebrickable_client,
    requests_to,
)

CAT = catalog(42)
FIG = CAT.minifigs[3]
KINDS = ["429", "429_retry_after", "500", "503", "html_503", "slow", "truncated", "not_json"]
Probe = Callable[[Any], Any]

# service: (how to build its client, one call, a string in that call's path, the endpoint its errors name)
PROBES: dict[str, tuple[Callable[..., Any], Probe, str, str]] = {
    "brickset": (brickset_client, lambda c: c.check_key(), "/checkKey", "brickset checkKey"),
    "rebrickable": (rebrickable_client, lambda c: c.get_minifig(FIG.fig_num), f"/{FIG.fig_num}/",
                    f"rebrickable /lego/minifigs/{FIG.fig_num}/"),
    "ebay": (ebay_client, lambda c: c.search_page(BrowseQuery("lego", limit=5)), "/item_summary/search",
             "ebay /buy/browse/v1/item_summary/search"),
    "bricklink": (bricklink_client, lambda c: c.item(FIG.number), f"/{FIG.number}",
                  f"bricklink /items/MINIFIG/{FIG.number}"),
}


# eBay's 429 (error 2001) is a rate limit like the others: retried with backoff. Whether the day's
# quota is spent is the day's usage to say (actors.quotas), not this reply's.
CASES = [(service, kind) for service in PROBES for kind in KINDS]


@pytest.fixture(scope="module", autouse=True)
def warm_listings(sandbox: SandboxServer) -> None:
    ebay_client(sandbox, timeout_s=30.0).search_page(BrowseQuery("lego", limit=1))


def arm(sandbox: SandboxServer, service: str, kind: str, count: int | None) -> tuple[Any, Probe, str, str, Sleeps]:
    make, probe, path, endpoint = PROBES[service]
    sleeps = Sleeps()
    client = make(sandbox, retry=fast_retry(sleeps))
    if service == "ebay":
        client.token()  # faults here are about Browse; the token endpoint is tested apart
    sandbox.inject(service, kind, count=count, delay_s=TIMEOUT_S * 2.5 if kind == "slow" else None,
                   path_contains=path)
    return client, probe, path, endpoint, sleeps


@pytest.mark.parametrize(("service", "kind"), CASES)
def test_a_brief_fault_is_retried_and_the_call_succeeds(sandbox: SandboxServer, service: str, kind: str) -> None:
    client, probe, path, _, sleeps = arm(sandbox, service, kind, count=1)
    probe(client)
    assert requests_to(sandbox, service, path) == 2
    assert len(sleeps) == 1
    if kind == "429_retry_after":
        assert sleeps == [1.0]  # the service's Retry-After, not the backoff


@pytest.mark.parametrize(("service", "kind"), CASES)
def test_a_lasting_fault_is_a_clear_transient_error(sandbox: SandboxServer, service: str, kind: str) -> None:
    client, probe, path, endpoint, sleeps = arm(sandbox, service, kind, count=None)
    with pytest.raises(TransientSourceError) as caught:
        probe(client)
    assert str(caught.value).startswith(endpoint + ": ")
    assert requests_to(sandbox, service, path) == ATTEMPTS and len(sleeps) == ATTEMPTS - 1


def test_backoff_grows_exponentially(sandbox: SandboxServer) -> None:
    client, probe, _, _, sleeps = arm(sandbox, "rebrickable", "500", count=None)
    with pytest.raises(TransientSourceError, match="A server error occurred"):
        probe(client)
    assert sleeps == [0.01, 0.02, 0.04]


def test_a_long_retry_after_is_not_slept_but_handed_back(sandbox: SandboxServer) -> None:
    sleeps = Sleeps()
    client = rebrickable_client(sandbox, retry=fast_retry(sleeps, max_retry_after_s=0.5))
    sandbox.inject("rebrickable", "429_retry_after", count=None)
    with pytest.raises(TransientSourceError) as caught:
        client.get_themes()
    assert caught.value.retry_after == 1.0 and "Expected available in 1 second" in str(caught.value)
    assert requests_to(sandbox, "rebrickable") == 1 and sleeps == []


def test_retries_stop_when_the_time_budget_is_spent(sandbox: SandboxServer) -> None:
    client = bricklink_client(sandbox, retry=fast_retry(max_total_s=0.005))
    sandbox.inject("bricklink", "html_503", count=None)
    with pytest.raises(TransientSourceError, match="HTTP 503"):
        client.item(FIG.number)
    assert requests_to(sandbox, "bricklink") == 1


def test_the_quota_hook_sees_every_request_retries_included(sandbox: SandboxServer) -> None:
    seen: list[str] = []
    client = rebrickable_client(sandbox, before_request=seen.append)
    sandbox.inject("rebrickable", "503", count=2)
    client.get_minifig(FIG.fig_num)
    assert seen == ["rebrickable"] * 3 == ["rebrickable"] * requests_to(sandbox, "rebrickable")


def test_the_quota_hook_can_refuse_a_request(sandbox: SandboxServer) -> None:
    class OverQuota(Exception):
        pass

    def refuse(service: str) -> None:
        raise OverQuota(service)

    for make, probe, _, _ in PROBES.values():
        with pytest.raises(OverQuota):
            probe(make(sandbox, before_request=refuse))
    assert sum(stats["requests"] for stats in sandbox.stats().values()) == 0
