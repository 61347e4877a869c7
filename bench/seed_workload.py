"""Seed 000's workload end to end: this system against the same steps as Celery tasks, and against the I/O limit.

    .venv/bin/python -m bench.seed_workload [--figures 200] [--catalog brickset] [--rounds 3] [--latency-ms 0]

The workload: price N figures from eBay (the sandbox), store the day's
listings, aggregate the day's snapshots. A scratch database, two RabbitMQ
vhosts (one per framework) and a Redis namespace are made for the run and
removed at the end, with every process the run started. The sandbox runs in a
process of its own (eBay's daily limit lifted, EBAY_DAILY_QUOTA too, so nothing
is deferred); it is warmed up first (it draws a day's listings on the first
search of the day) and reset before each run. The catalog is synced once from
the sandbox (`--catalog`: brickset, the seed's source, or rebrickable); before
each run the listings, snapshots, batches, run history and `last_priced_at`
are emptied, so every run starts from the same rows. One side's workers run at
a time, started and ready (consuming, and the system's history sidecar running) before the clock
starts.

- system: `dramatiq actors`, 2 processes x 8 threads, the full middleware
  stack, default settings. The clock runs from `update_all_prices.send(batch_size=N)`
  to the commit of the day's snapshots: the group of `fetch_prices_for_minifigures`
  messages (FETCH_FIGURES_PER_MESSAGE figures at most in each, searched on
  FETCH_SEARCH_THREADS threads per process), then `finish_batch`, its
  completion callback, which aggregates them. Set either in the environment to
  measure another shape.
- Celery: `bench/celery_app.py` on the same RabbitMQ (its own vhost), results
  and chord counters in Redis; `update_all_prices.delay(N)` to the commit of its
  chord callback's snapshots. Twice: the prefork pool with 16 processes (as
  many slots as the system's 16 threads; the seed's `--concurrency=2` would
  have 2), and the threads pool as 2 workers x 8 threads (the system's shape).
- plain client: the same N searches (same queries, same pages) with
  `EbayClient` from 16 threads, then 4, of one process: no queue, no database.
  The faster of the two is the I/O limit.

Rounds alternate the order of the sides; ratios compare the best run of each.
Each run's rows are compared with the system's first run: the listings
themselves, then the figure each counts for (a tie between two figures goes to
the one fetched first, so it moves with the order of the fetches), then the
snapshots. CPU s is what the workers' processes (or the plain client) spent
from the send to the commit, read from /proc. The commit is seen by a
notification (a trigger on the scratch database's snapshots): the clock does not
poll, which took CPU from the side measured. `--latency-ms` answers every
search that much later, as a remote API would (the sandbox's `slow` fault).
Prints figures; asserts nothing (targets: the system >= 2x Celery, >= 0.5x the plain client).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import consumers, cpu_seconds
from bench.scratch import Clocked, Outcome, Run, remove, start_sandbox
from pipeline.history.journal import spool_key
from pipeline.history.sidecar import sidecar_running
from pipeline.services.prices import Figure
from tests.support import services

TIE_NOTE = ("  (a listing that two figures' searches both find and classify alike counts for the figure fetched first: "
            "the order of the fetches decides)")


def sync_catalog(run: Run) -> list[Figure]:
    """The catalog from the sandbox, the first N figures; then one search to draw today's listings."""
    from sqlalchemy import select

    from pipeline.db import session_scope
    from pipeline.models import Minifigure
    from pipeline.services import catalog, prices
    from pipeline.settings import get_settings
    from pipeline.sources import make_catalog_client, make_ebay_client

    settings = get_settings()
    found = catalog.collect(make_catalog_client(settings), None, None, run.figures)
    with session_scope() as session:
        catalog.store(session, found, datetime.now(UTC))
    with session_scope() as session:
        ids = session.scalars(select(Minifigure.id).order_by(Minifigure.id))
        figures = [prices.load_figure(session, i) for i in ids]
    client = make_ebay_client(settings)
    client.search(prices.browse_query(figures[0], None, settings.ebay_category_id))
    client.close()
    return figures


def wait_until(run: Run, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} after 120 s; logs in {run.tmp}")
        run.processes.check()
        time.sleep(0.2)


def wait_consuming(run: Run, broker_url: str, consumers_per_queue: int) -> None:
    wait_until(run, lambda: min(consumers(broker_url, q) for q in ("scraping", "processing")) >= consumers_per_queue,
               "workers not consuming")


def run_system(run: Run) -> Outcome:
    import actors

    run.reset()
    worker = run.processes.start("dramatiq", [sys.executable, "-m", "dramatiq", "actors", "--processes", "2",
                                              "--threads", "8"])
    try:
        wait_consuming(run, run.env["BROKER_URL"], 2)
        # The history's sidecar, forked beside the workers, still importing would take CPU on the clock.
        spool, key = Path(run.env["HISTORY_SPOOL_DIR"]), spool_key(run.env["DATABASE_URL"])
        wait_until(run, lambda: sidecar_running(spool, key), "the run history's sidecar not running")
        actors.broker.declare_queue("scraping", ensure=True)  # the producer's own first declare, off the clock
        clocked = run.clock([worker], lambda: actors.update_all_prices.send(batch_size=run.figures))
    finally:
        run.processes.stop(worker)
    (status,), = run.sql("SELECT status FROM batches")
    return run.outcome("system: dramatiq actors, 2 processes x 8 threads", clocked, f"(batch {status})")


def run_celery(run: Run, pool: str) -> Outcome:
    from bench import celery_app

    run.reset()
    base = [sys.executable, "-m", "celery", "-A", "bench.celery_app", "-b", run.env["BENCH_CELERY_BROKER_URL"],
            "worker", "-Q", "scraping,processing", "-l", "WARNING"]  # -b: the CLI would read BROKER_URL, Dramatiq's
    if pool == "prefork":
        label, nodes = "Celery: prefork pool, 16 processes", [[*base, "-P", "prefork", "-c", "16", "-n", "prefork@%h"]]
    else:
        label = "Celery: threads pool, 2 workers x 8 threads"
        nodes = [[*base, "-P", "threads", "-c", "8", "-n", f"threads{i}@%h"] for i in (1, 2)]
    workers = [run.processes.start(f"celery-{pool}-{i}", cmd) for i, cmd in enumerate(nodes)]
    try:
        wait_consuming(run, run.env["BENCH_CELERY_BROKER_URL"], len(nodes))
        with celery_app.app.pool.acquire(block=True) as conn:  # the producer's connection, off the clock
            conn.ensure_connection()
        clocked = run.clock(workers, lambda: celery_app.update_all_prices.delay(run.figures))
    finally:
        for worker in workers:
            run.processes.stop(worker)
    return run.outcome(label, clocked)


def run_plain(run: Run, figures: list[Figure], threads: int) -> Outcome:
    from pipeline.services import prices
    from pipeline.settings import get_settings
    from pipeline.sources import make_ebay_client

    run.reset()
    settings, local, clients = get_settings(), threading.local(), []

    def fetch(figure: Figure) -> int:
        if not hasattr(local, "client"):
            local.client = make_ebay_client(settings)
            clients.append(local.client)
        query = prices.browse_query(figure, None, settings.ebay_category_id)
        return len(local.client.search(query, max_items=prices.MAX_LISTINGS))

    sandbox = {run.processes.running["sandbox"].pid}
    sandbox_cpu, cpu, started = cpu_seconds(sandbox), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        listings = sum(pool.map(fetch, figures))
    clocked = Clocked(time.perf_counter() - started, time.process_time() - cpu, cpu_seconds(sandbox) - sandbox_cpu)
    for client in clients:
        client.close()
    return Outcome(f"plain client: EbayClient, {threads} threads, no queue, no DB", clocked, run.searches(),
                   note=f"({listings:,} found, repeats included)")


def compared(o: Outcome, first: Outcome) -> str:
    """How a run's rows differ from the system's first run: the listings themselves, then the figure each counts for."""
    if not o.listings:
        return ""
    if o.listings == first.listings and o.snapshots == first.snapshots:
        return "same"
    facts = {(listing, *rest) for listing, _, *rest in o.listings}
    if facts != {(listing, *rest) for listing, _, *rest in first.listings}:
        return f"OTHER LISTINGS: {len(o.listings ^ first.listings)} rows differ"
    figure = {listing: fig for listing, fig, *_ in first.listings}
    moved = sum(fig != figure[listing] for listing, fig, *_ in o.listings)
    return f"same listings, {moved} on another figure, {len(o.snapshots - first.snapshots)} snapshots differ"


def report(run: Run, catalog: str, outcomes: list[Outcome]) -> None:
    system = [o for o in outcomes if o.label.startswith("system")]
    first = system[0]
    latency = f", each search answered {run.latency_s * 1000:g} ms late" if run.latency_s else ""
    print(f"seed 000's workload: {run.figures} figures (the sandbox's {catalog} catalog), {first.searches} eBay "
          f"searches, {len(first.listings):,} listings, {len(first.snapshots):,} snapshots; {os.cpu_count()} CPUs"
          f"{latency}")
    print(f"  {'':53}{'wall s':>6} {'figures/s':>9} {'searches':>8} {'CPU s':>6} {'sandbox':>7}  rows, against the "
          "system's first run")
    for o in outcomes:
        c = o.clocked
        print(f"  {o.label:53}{c.seconds:6.2f} {run.figures / c.seconds:9.1f} {o.searches:8} {c.cpu:6.2f} "
              f"{c.sandbox_cpu:7.2f}  {compared(o, first)} {o.note}".rstrip())
    print("  (CPU s: of the workers' processes, or of the plain client, from the send to the snapshots' commit)")
    if any("another figure" in compared(o, first) for o in outcomes):
        print(TIE_NOTE)
    best = min(o.clocked.seconds for o in system)
    for kind, target in (("Celery: prefork", 2), ("Celery: threads", 2), ("plain client", 0.5)):
        others = [o.clocked.seconds for o in outcomes if o.label.startswith(kind)]
        if others:
            print(f"  system / {kind + ':':17} {min(others) / best:5.2f}x the rate, best run of each "
                  f"(target >= {target}x)")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=int, default=200)
    parser.add_argument("--catalog", choices=("brickset", "rebrickable"), default="brickset")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side, in alternating order")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer every search this much later")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    run = Run(args.figures, args.catalog, args.latency_ms / 1000)
    os.environ.update(run.env)  # before anything reads the settings
    try:
        services.create_database(run.id)
        services.create_vhost(run.id)
        services.create_vhost(run.celery_vhost)
        from pipeline import db

        db.upgrade()
        run.notify_snapshots()
        start_sandbox(run)
        figures = sync_catalog(run)
        steps = [run_system, lambda r: run_celery(r, "prefork"), lambda r: run_celery(r, "threads"),
                 lambda r: run_plain(r, figures, 16), lambda r: run_plain(r, figures, 4)]
        outcomes = []
        for n in range(args.rounds):
            outcomes += [step(run) for step in (steps if n % 2 == 0 else steps[::-1])]
        report(run, args.catalog, sorted(outcomes, key=lambda o: (not o.label.startswith("system"), o.label)))
    finally:
        remove(run)


if __name__ == "__main__":
    main()
