"""API quotas across worker processes (Redis), and spent quotas as deferrals rather than failures."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import Deferred
from pipeline.sources.errors import QuotaExceeded, RateLimited, TransientSourceError
from sandbox import SandboxServer
from tests.support.pipeline import (
    clear_pipeline_tables,
    run_of,
    sandbox_worker,
)
from tests.support.worker import wait_for

pytestmark = pytest.mark.usefixtures("services")

# The first test spends a token and a search. Whichever process takes the next four fetches,
# four searches cannot fit in the two calls left, so some fetch must be deferred.
QUOTA = 4


@pytest.fixture(scope="module")
def worker(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("quota-worker") / "worker.log"
    namespace = f"{os.environ['REDIS_NAMESPACE']}-quota"  # a quota of its own, whatever other tests spent
    with sandbox_worker(sandbox, log, processes=2, EBAY_DAILY_QUOTA=str(QUOTA), REDIS_NAMESPACE=namespace) as log:
        yield log


@pytest.fixture(scope="module")
def castle() -> list[str]:
    from pipeline.db import session_scope
    from pipeline.sql.catalog import CatalogEntry, upsert_figures

    clear_pipeline_tables()
    entries = [CatalogEntry(f"cas{n:04d}", None, f"Castle figure {n}", "Castle", None, None, None, "brickset")
               for n in range(1, 6)]
    with session_scope() as session:
        return [str(i) for i in upsert_figures(session, entries, datetime.now(UTC)).created]


def _ended(message_id: str, *statuses: str):
    return lambda: (r := run_of(message_id)) and r["status"] in statuses and r


def test_the_ebay_daily_quota_holds_across_worker_processes(broker, worker: Path, sandbox: SandboxServer,
                                                           castle: list[str]) -> None:
    from actors import fetch_prices_for_minifigure

    messages = [fetch_prices_for_minifigure.send(figure) for figure in castle[1:]]
    lives = [wait_for(_ended(m.message_id, "delayed", "succeeded", "failed", "dead_lettered"), timeout=60,
                      what="each fetch to end or be deferred") for m in messages]
    assert all(life["status"] in ("succeeded", "delayed") for life in lives)
    deferred = [life for life in lives if life["status"] == "delayed"]
    assert deferred and all("shared by all workers" in life["error"] for life in deferred)
    ebay = sandbox.stats()["ebay"]
    assert ebay["requests"] <= QUOTA  # tokens and searches of both processes, and of the previous test


def test_rebrickable_pace_is_one_request_a_second_for_everyone() -> None:
    import actors
    from actors.quotas import Quotas

    quotas = Quotas(actors.stack.rate_limits, f"{os.environ['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}", 100)
    started = time.monotonic()
    callers = [threading.Thread(target=lambda: [quotas.before_request("rebrickable") for _ in range(2)])
               for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert time.monotonic() - started > 2.0  # four requests need four distinct seconds


def test_ebay_calls_taken_ahead_count_at_once_and_those_not_made_go_back() -> None:
    import actors
    from actors.quotas import Quotas

    quotas = Quotas(actors.stack.rate_limits, f"{os.environ['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}", 10)
    redis, key = actors.stack.rate_limits.client, quotas.ebay.bucket()

    def count() -> int:
        return int(redis.get(key) or 0)

    with quotas.prepaid_ebay(4):
        assert count() == 4  # taken in one go
        for _ in range(3):
            quotas.before_request("ebay")
        assert count() == 4
        other = threading.Thread(target=quotas.before_request, args=("ebay",))  # another thread pays its own
        other.start()
        other.join()
        assert count() == 5
    assert count() == 4  # the call not made went back

    with quotas.prepaid_ebay(7):  # more than the 6 left: nothing ahead, each request takes its own
        assert count() == 4
        for _ in range(6):
            quotas.before_request("ebay")
        with pytest.raises(Deferred, match="daily quota of 10 calls"):
            quotas.before_request("ebay")
    assert count() == 10


def test_a_bucket_gives_exactly_its_limit_to_threads_racing_for_it() -> None:
    import actors
    from actors.quotas import BucketQuota

    quota = BucketQuota(actors.stack.rate_limits, f"{os.environ['REDIS_NAMESPACE']}:race-{uuid.uuid4().hex[:6]}",
                        limit=100, bucket_ms=3_600_000)  # an hour: a race of milliseconds almost never spans two
    taken: list[bool] = []

    def race() -> None:
        taken.extend(quota.take() for _ in range(20))

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (taken.count(True), taken.count(False)) == (100, 220)
    # The count is kept where Dramatiq's bucket limiter keeps it, with the bucket's expiry.
    (key,) = actors.stack.rate_limits.client.keys(f"{quota.key}@*")
    assert int(actors.stack.rate_limits.client.get(key)) == 100
    assert 0 < actors.stack.rate_limits.client.pttl(key) <= 3_600_000


def test_the_scripted_backend_counts_as_dramatiqs_own_does() -> None:
    import random

    from dramatiq.rate_limits.backends import RedisBackend

    from actors.broker import ScriptedRedisBackend

    url, prefix = os.environ["REDIS_URL"], f"{os.environ['REDIS_NAMESPACE']}:parity-{uuid.uuid4().hex[:6]}"
    theirs, ours = RedisBackend(url=url), ScriptedRedisBackend(url=url)
    chance = random.Random(7)
    for step in range(300):
        op, amount, bound = chance.choice(("incr", "decr")), chance.randint(1, 3), chance.randint(-2, 8)
        answers = [getattr(backend, op)(f"{prefix}:{name}", amount, bound, 60_000)
                   for backend, name in ((theirs, "theirs"), (ours, "ours"))]
        assert answers[0] == answers[1], (step, op, amount, bound)
        assert theirs.client.get(f"{prefix}:theirs") == ours.client.get(f"{prefix}:ours"), step
    assert 0 < ours.client.pttl(f"{prefix}:ours") <= 60_000


def test_a_group_barrier_clears_once_when_its_members_finish_together() -> None:
    from dramatiq.rate_limits import Barrier

    import actors

    barrier = Barrier(actors.stack.rate_limits, f"{os.environ['REDIS_NAMESPACE']}:barrier-{uuid.uuid4().hex}",
                      ttl=60_000)
    assert barrier.create(200)
    cleared: list[bool] = []

    def finish() -> None:
        cleared.extend(barrier.wait(block=False) for _ in range(25))

    threads = [threading.Thread(target=finish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cleared.count(True) == 1 and len(cleared) == 200


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (QuotaExceeded("ebay", "search", "error 2001", status=429, retry_after=90.0), 90.0),
        (QuotaExceeded("brickset", "getSets", "API limit exceeded"), "next day"),
        (RateLimited("ebay", "search", "error 2001", status=429), None),  # the quota has calls left
        (RateLimited("ebay", "search", "error 2001", status=429, retry_after=90.0), 90.0),
        (TransientSourceError("rebrickable", "/lego/sets/", "throttled", status=429, retry_after=120.0), 120.0),
        (TransientSourceError("rebrickable", "/lego/sets/", "throttled", status=429, retry_after=2.0), None),
        (TransientSourceError("ebay", "search", "HTTP 503", status=503), None),
    ],
)
def test_which_source_errors_become_deferrals(error: TransientSourceError, delay: object) -> None:
    from actors.quotas import QuotaState, deferral_for

    now = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)
    deferral = deferral_for(error, now, QuotaState(5000, 4700, None, "eBay's count"))
    if delay is None:
        assert deferral is None
    else:
        assert isinstance(deferral, Deferred)
        assert deferral.delay_s == (3600 + 60 if delay == "next day" else delay)


@pytest.mark.parametrize(("reset", "delay"), [(datetime(2026, 5, 2, 7, 0, tzinfo=UTC), 8 * 3600 + 60),
                                               (None, 3600 + 60)])
def test_an_ebay_429_when_the_days_usage_says_spent_defers_to_the_reset(reset: datetime | None, delay: float) -> None:
    from actors.quotas import QuotaState, deferral_for

    now = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)
    deferral = deferral_for(RateLimited("ebay", "search", "error 2001", status=429), now,
                            QuotaState(5000, 0, reset, "eBay's count"))
    assert isinstance(deferral, Deferred) and deferral.delay_s == delay
    assert "the daily quota is spent (eBay's count: 5000 calls)" in str(deferral)


def test_a_retry_after_pauses_every_caller_of_the_api_in_every_process() -> None:
    import actors
    from actors.quotas import Quotas

    namespace = f"{os.environ['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    slept: list[float] = []
    told = Quotas(actors.stack.rate_limits, namespace, 100, credentials={"ebay": "keys-a"})
    other_process = Quotas(actors.stack.rate_limits, namespace, 100, sleep=slept.append,
                           credentials={"ebay": "keys-a"})
    other_keys = Quotas(actors.stack.rate_limits, namespace, 100, sleep=slept.append, credentials={"ebay": "keys-b"})
    told.throttled("ebay", 2.0)
    told.throttled("ebay", 0.5)  # a shorter wait does not cut the longer one short
    other_process.before_request("ebay")
    other_keys.before_request("ebay")  # other credentials: not paused
    assert len(slept) == 1 and 1.8 < slept[0] <= 2.1
    told.throttled("ebay", 120.0)
    with pytest.raises(Deferred, match="asked every caller to wait 120 s"):
        Quotas(actors.stack.rate_limits, namespace, 100, credentials={"ebay": "keys-a"}).before_request("ebay")


def test_ebay_429s_through_retries_with_only_the_systems_count_known_are_a_spent_quota() -> None:
    from actors.quotas import QuotaState, deferral_for

    now = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)
    error = RateLimited("ebay", "search", "error 2001", status=429)
    ours = QuotaState(5000, 4000, None, "the system's count")
    assert deferral_for(error, now, ours, retries=1) is None  # a rate limit, as far as anyone knows
    deferral = deferral_for(error, now, ours, retries=2)
    assert isinstance(deferral, Deferred) and deferral.delay_s == 3600 + 60 and "eBay's count unknown" in str(deferral)
    assert deferral_for(error, now, QuotaState(5000, 4000, None, "eBay's count"), retries=5) is None


@pytest.mark.parametrize("shared", [True, False])
def test_no_thread_calls_ebay_before_a_retry_after_it_gave_another(shared: bool) -> None:
    import actors
    from actors.quotas import Quotas
    from pipeline.sources.ebay import BrowseQuery, EbayClient
    from sandbox import SANDBOX_CREDENTIALS, SandboxServer

    namespace = f"{os.environ['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    quotas = Quotas(actors.stack.rate_limits, namespace, 10_000, credentials={"ebay": "keys"})
    with SandboxServer(host="127.0.0.1", port=0) as server:
        def client() -> EbayClient:
            return EbayClient(server.base_urls()["ebay"], SANDBOX_CREDENTIALS["ebay_client_id"],
                              SANDBOX_CREDENTIALS["ebay_client_secret"], before_request=quotas.before_request,
                              on_throttled=quotas.throttled if shared else None)

        clients = [client() for _ in range(6)]
        for c in clients:
            c.token()
        c.search_page(BrowseQuery("lego", limit=1))  # the day's listings drawn before the clock matters
        server.inject("ebay", "429_retry_after", count=1, path_contains="/item_summary/search")
        searched: list[int] = []

        def search(c: EbayClient) -> None:
            for _ in range(8):  # for longer than the Retry-After
                searched.append(len(c.search_page(BrowseQuery("lego castle", limit=5)).items))
                time.sleep(0.15)

        threads = [threading.Thread(target=search, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        early = server.stats()["ebay"]["early"]
    assert len(searched) == 48
    assert early == 0 if shared else early > 0  # unshared, the other threads go on calling
