"""Scraping actors (queue `scraping`): catalog sync and eBay price fetches, names and arguments of seed 000.

    >>> from actors import fetch_prices_for_set_number
    >>> fetch_prices_for_set_number.send("sw0001a").get_result(block=True, timeout=60_000)

Bad arguments fail at once (`InvalidInput`, never retried, nothing written); a
spent API quota defers the message (see actors.quotas); other source errors
retry, then dead-letter.
"""

from __future__ import annotations

import contextvars
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import dramatiq
from sqlalchemy.orm import Session

from actors.arguments import argument_check
from actors.batches import current_message_id, fan_out
from actors.processing import aggregate_snapshot_for_minifigure
from actors.quotas import Prepaid, catalog_client, deferring, ebay_client, quotas
from pipeline.clock import utcnow
from pipeline.db import session_scope
from pipeline.errors import InvalidInput
from pipeline.quality import Condition
from pipeline.services import catalog, prices
from pipeline.services.inputs import (
    parse_condition,
    parse_count,
    parse_set_number,
    parse_text,
    parse_uuid,
)
from pipeline.services.prices import Figure
from pipeline.settings import MAX_FIGURES_PER_MESSAGE, get_settings
from pipeline.sources.errors import PermanentSourceError
from pipeline.sql import receipts

QUEUE = "scraping"
THROWS = (InvalidInput, PermanentSourceError)
MAX_SYNC_LIMIT = 10_000
MAX_BATCH_SIZE = 1_000



@argument_check("sync_catalog_from_brickset")
def sync_arguments(theme: str | None = None, year: int | None = None,
                   limit: int = 500) -> tuple[str | None, int | None, int]:
    return (parse_text(theme, "theme"), catalog.check_year(year, utcnow().year),
            parse_count(limit, "limit", 1, MAX_SYNC_LIMIT))


@argument_check("fetch_prices_for_minifigure")
def figure_arguments(minifigure_id: str, condition: str | None = None) -> tuple[uuid.UUID, Condition | None]:
    return parse_uuid(minifigure_id, "minifigure_id"), parse_condition(condition)


@argument_check("fetch_prices_for_minifigures")
def figures_arguments(minifigure_ids: list[str], condition: str | None = None) -> tuple[list[uuid.UUID],
                                                                                        Condition | None]:
    if not isinstance(minifigure_ids, list) or not 1 <= len(minifigure_ids) <= MAX_FIGURES_PER_MESSAGE:
        raise InvalidInput(f"minifigure_ids must be a list of 1 to {MAX_FIGURES_PER_MESSAGE} minifigure ids, "
                           f"not {minifigure_ids!r:.200}")
    ids = [parse_uuid(value, "minifigure_ids[]") for value in minifigure_ids]
    if len(set(ids)) != len(ids):
        raise InvalidInput("minifigure_ids repeats a figure")
    return ids, parse_condition(condition)


@argument_check("fetch_prices_for_set_number")
def set_number_arguments(set_number: str, condition: str | None = None) -> tuple[str, Condition | None]:
    return parse_set_number(set_number), parse_condition(condition)


@argument_check("update_all_prices")
def batch_arguments(batch_size: int = 50) -> int:
    return parse_count(batch_size, "batch_size", 1, MAX_BATCH_SIZE)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=20 * 60_000, throws=THROWS)
@deferring
def sync_catalog_from_brickset(theme: str | None = None, year: int | None = None, limit: int = 500) -> dict[str, Any]:
    """Upsert the catalog from CATALOG_SOURCE (the seed's name is kept), then price the new figures."""
    now = utcnow()
    wanted = sync_arguments(theme, year, limit)
    found = catalog.collect(catalog_client(), *wanted)
    with session_scope() as session:
        summary, created = catalog.store(session, found, now)
    settings = get_settings()
    batch = fan_out("prices", now.date(), [str(i) for i in created], fetch_prices_for_minifigures.message, now,
                    per_message=settings.fetch_figures_per_message)
    return {"source": settings.catalog_source, "theme": wanted[0], "year": wanted[1], **summary,
            "prices_batch": batch["batch_id"]}


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=5 * 60_000, throws=THROWS)
@deferring
def fetch_prices_for_minifigure(minifigure_id: str, condition: str | None = None) -> dict[str, Any]:
    """Search eBay for one figure, classify the listings, upsert today's observations."""
    figure_id, wanted = figure_arguments(minifigure_id, condition)
    return _fetch(lambda session: prices.load_figure(session, figure_id), wanted)


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=5 * 60_000, throws=THROWS)
@deferring
def fetch_prices_for_set_number(set_number: str, condition: str | None = None) -> dict[str, Any]:
    """The same, by BrickLink number (sw0001a; sw0001 when it has one variant) or Rebrickable id."""
    number, wanted = set_number_arguments(set_number, condition)
    return _fetch(lambda session: prices.find_figure(session, number), wanted)


def _fetch(find: Callable[[Session], Figure], condition: Condition | None) -> dict[str, Any]:
    """Find the figure, then search and store; one transaction finds it and reads the receipt.

    A redelivery of a message whose writes are committed returns its receipt: not even a search.
    """
    settings, message_id = get_settings(), current_message_id()
    with session_scope() as session:
        figure = find(session)
        earlier = receipts.claimed_result(session, message_id)
    if earlier is not None:
        return earlier
    query = prices.browse_query(figure, condition, settings.ebay_category_id)
    items = prices.search_listings(ebay_client(), query)
    with session_scope() as session:
        return prices.store_listings(session, figure, query, items, settings.ebay_marketplace_id, utcnow(),
                                     message_id, condition)


@dramatiq.actor(queue_name=QUEUE, max_retries=5, time_limit=20 * 60_000, throws=THROWS)
@deferring
def fetch_prices_for_minifigures(minifigure_ids: list[str], condition: str | None = None) -> dict[str, Any]:
    """Several figures in one message (a price batch's members): searched several at a time on the
    process's search threads, all stored in one transaction, set-wise.

    A figure that cannot be fetched (not in the catalog, a search eBay refuses) fails alone: its batch
    member fails with the reason, and the others go on. A transient error, or a spent quota, stops the
    searches that have not begun: what was fetched is stored, then the error retries (or defers) the
    message, whose next delivery searches only the figures not stored yet.
    """
    ids, wanted = figures_arguments(minifigure_ids, condition)
    settings, message_id = get_settings(), current_message_id()
    with session_scope() as session:
        figures, unknown = prices.load_figures(session, ids)
        earlier = prices.chunk_receipt(session, message_id)
    seen = earlier["figures"].keys() | earlier["failed"].keys()
    failed = {str(i): f"minifigure_id {i} is not in the catalog" for i in unknown if str(i) not in seen}
    todo = [f for f in figures if str(f.id) not in seen]
    with quotas().prepaid_ebay(len(todo)) as prepaid:  # a call each, most likely: one page of up to 200 listings
        fetched, refused, stopped = search_figures(todo, wanted, settings.ebay_category_id, prepaid)
    failed.update(refused)
    if fetched or failed:
        with session_scope() as session:
            summary = prices.store_fetched(session, fetched, failed, settings.ebay_marketplace_id, utcnow(),
                                           message_id, wanted)
    else:
        summary = {**earlier, "redelivered": True}
    if stopped is not None:
        raise stopped
    return summary


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # with its process id: a forked child makes its own


def search_pool() -> ThreadPoolExecutor:
    """This process's search threads (FETCH_SEARCH_THREADS), shared by its messages; each keeps its client."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = os.getpid(), ThreadPoolExecutor(get_settings().fetch_search_threads, "ebay-search")
        return _pool[1]


def search_figures(figures: list[Figure], condition: Condition | None, category_id: str,
                   prepaid: Prepaid) -> tuple[list[prices.Fetched], dict[str, str], Exception | None]:
    """Each figure's search, several at a time on the search threads: what was fetched (in the figures'
    order), the figures eBay refused for good (with the reason), and the transient error that stopped
    the rest, if one did (the searches already under way finish; the others do not start).
    """
    stop = threading.Event()

    def search(figure: Figure) -> prices.Fetched | None:
        if stop.is_set():
            return None
        query = prices.browse_query(figure, condition, category_id)
        with quotas().drawing_on(prepaid):
            try:
                return prices.Fetched(figure, query, prices.search_listings(ebay_client(), query))
            except PermanentSourceError:
                raise
            except BaseException:
                stop.set()
                raise

    # Each search runs in a copy of this thread's context: its log lines name the message.
    futures = [search_pool().submit(contextvars.copy_context().run, search, figure) for figure in figures]
    fetched: list[prices.Fetched] = []
    refused: dict[str, str] = {}
    stopped: Exception | None = None
    try:
        for figure, future in zip(figures, futures, strict=True):
            try:
                found = _outcome(future)
            except PermanentSourceError as exc:
                refused[str(figure.id)] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001  (the caller stores what was fetched, then raises it)
                stopped = stopped or exc
            else:
                if found is not None:
                    fetched.append(found)
    except BaseException:  # the time limit, a shutdown: the searches not begun are not wanted any more
        stop.set()
        raise
    return fetched, refused, stopped


def _outcome(future: Future[prices.Fetched | None]) -> prices.Fetched | None:
    while True:  # short waits: the actor's time limit can interrupt this thread between them
        try:
            return future.result(timeout=0.5)
        except FutureTimeout:
            continue


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=2 * 60_000, throws=THROWS)
def update_all_prices(batch_size: int = 50) -> dict[str, Any]:
    """A group of fetches for the stalest figures (never priced first), FETCH_FIGURES_PER_MESSAGE figures a
    message; its callback aggregates today."""
    size = batch_arguments(batch_size)
    now = utcnow()
    with session_scope() as session:
        stalest = prices.stalest_figures(session, size)
    return fan_out("prices", now.date(), [str(i) for i in stalest], fetch_prices_for_minifigures.message, now,
                   per_message=get_settings().fetch_figures_per_message)


def fetch_then_aggregate(minifigure_id: str, condition: str | None = None) -> dramatiq.pipeline:
    """Fetch one figure's prices, then aggregate its snapshot of today: a running `dramatiq.pipeline`.

    The admin path's "refresh this figure"; `.get_result(block=True)` gives the aggregation's summary.
    """
    steps = dramatiq.pipeline([
        fetch_prices_for_minifigure.message(minifigure_id, condition),
        aggregate_snapshot_for_minifigure.message_with_options(args=(minifigure_id,), pipe_ignore=True),
    ])
    running: dramatiq.pipeline = steps.run()
    return running
