"""Seed 000's price update as a typical Celery project writes it: the baseline of bench/seed_workload.py.

    celery -A bench.celery_app -b $BENCH_CELERY_BROKER_URL worker -Q scraping,processing -P prefork -c 16

(`-b`: the celery command would take BROKER_URL, Dramatiq's, from the environment.)

`update_all_prices` picks the stalest figures and runs a chord: one
`fetch_prices_for_minifigure` per figure, then one `aggregate_daily_snapshots`
as its callback. The work is the system's, with the same code wherever it is
not the write path: the same eBay client (`pipeline.sources`), query and
listing classification (`pipeline.services.prices`), engine settings
(`pipeline.db.get_engine`), tables and statistics (`pipeline.quality.summarize`,
the rounding the system's SQL reproduces). The writes are the seed's: one
INSERT … ON CONFLICT per listing and one per snapshot through SQLAlchemy, with
the system's conflict rules, one commit per task. The statements are built
once and executed with each row's values: a statement built per row (the
usual `insert(Model).values(...)` in the loop) costs more Python than the
round trip, and would measure SQLAlchemy rather than the design.

Settings: the project's (DATABASE_URL, EBAY_*, REDIS_URL), plus
BENCH_CELERY_BROKER_URL (an amqp:// vhost of its own) and BENCH_CELERY_KEY_PREFIX
(the prefix of its result keys in Redis).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery import Celery, chord
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.db import get_engine
from pipeline.models import Minifigure, PriceObservation, PriceSnapshot
from pipeline.quality import EXCLUSION_REASONS, METHOD_VERSION, is_thin, summarize
from pipeline.services import prices
from pipeline.settings import get_settings
from pipeline.sources import make_ebay_client
from pipeline.sources.ebay import EbayClient
from pipeline.sources.errors import TransientSourceError
from pipeline.sql.observations import COLUMNS, ObservationRow

app = Celery("stonks_bench", broker=os.environ.get("BENCH_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
             backend=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_routes={"bench.celery_app.aggregate_daily_snapshots": {"queue": "processing"},
                 "bench.celery_app.*": {"queue": "scraping"}},
    task_acks_late=True,  # at least once, as Dramatiq acknowledges after the actor
    result_expires=3600,
    result_backend_transport_options={"global_keyprefix": os.environ.get("BENCH_CELERY_KEY_PREFIX", "stonks_bench")},
    broker_connection_retry_on_startup=True,
)
RETRIED = (TransientSourceError, OperationalError)
PRICE_COLUMNS = ("min_price", "max_price", "mean_price", "median_price", "p25_price", "p75_price")

_local = threading.local()  # one eBay client per worker thread (or per prefork child), as the system keeps


def session() -> Session:
    factory = getattr(_local, "sessions", None)
    if factory is None:
        factory = _local.sessions = sessionmaker(bind=get_engine(), expire_on_commit=False)
    return factory()


def ebay() -> EbayClient:
    client = getattr(_local, "ebay", None)
    if client is None:
        client = _local.ebay = make_ebay_client(get_settings())
    return client


@app.task(autoretry_for=RETRIED, retry_backoff=True, max_retries=5)
def update_all_prices(batch_size: int = 50) -> dict[str, Any]:
    with session() as db:
        stalest = prices.stalest_figures(db, batch_size)
    today = datetime.now(UTC).date().isoformat()
    chord(fetch_prices_for_minifigure.s(str(i)) for i in stalest)(aggregate_daily_snapshots.si(today))
    return {"queued": len(stalest)}


def _observation_upsert() -> Any:
    """One listing's INSERT … ON CONFLICT, with the rules of pipeline.sql.observations; built once."""
    stmt = insert(PriceObservation.__table__)
    old, new = PriceObservation.__table__.c, stmt.excluded
    newly_included = and_(old.excluded_reason.is_not(None), new.excluded_reason.is_(None))
    facts = ("marketplace", "title", "price", "currency", "shipping", "shipping_currency", "shipping_type",
             "condition", "condition_id", "condition_text", "buying_options", "bid_count", "seller", "url")
    return stmt.on_conflict_do_update(
        index_elements=["source", "listing_id", "observed_on"],
        set_={
            "minifigure_id": case((newly_included, new.minifigure_id), else_=old.minifigure_id),
            "excluded_reason": case((or_(old.minifigure_id == new.minifigure_id, newly_included),
                                     new.excluded_reason), else_=old.excluded_reason),
            **{name: new[name] for name in facts},
            "last_seen_at": func.greatest(old.last_seen_at, new.last_seen_at),
            "times_seen": old.times_seen + 1,
        },
    )


OBSERVATION_UPSERT = _observation_upsert()


def observation_values(row: ObservationRow) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in COLUMNS if name not in ("buying_options", "seen_at")}
    return {**values, "buying_options": [o for o in row.buying_options.split(",") if o],
            "first_seen_at": row.seen_at, "last_seen_at": row.seen_at, "times_seen": 1}


@app.task(autoretry_for=RETRIED, retry_backoff=True, max_retries=5)
def fetch_prices_for_minifigure(minifigure_id: str) -> dict[str, Any]:
    settings = get_settings()
    with session() as db:
        figure = prices.load_figure(db, uuid.UUID(minifigure_id))
    query = prices.browse_query(figure, None, settings.ebay_category_id)
    items = ebay().search(query, max_items=prices.MAX_LISTINGS)
    now = datetime.now(UTC)
    rows = prices.observation_rows(figure, items, settings.ebay_marketplace_id, now)
    with session() as db:
        for row in rows:  # one statement, one round trip, per listing
            db.execute(OBSERVATION_UPSERT, observation_values(row))
        db.execute(update(Minifigure).where(Minifigure.id == figure.id).values(last_priced_at=now))
        db.commit()
    return {"minifigure_id": minifigure_id, "listings": len(rows)}


@app.task(autoretry_for=RETRIED, retry_backoff=True, max_retries=5)
def aggregate_daily_snapshots(target_date: str | None = None) -> dict[str, Any]:
    """A day's snapshots per figure, condition and currency, computed in Python, upserted one at a time."""
    now = datetime.now(UTC)
    day = date.fromisoformat(target_date) if target_date else now.date() - timedelta(days=1)
    o = PriceObservation
    with session() as db:
        listings = db.execute(select(o.minifigure_id, o.condition, o.currency, o.price, o.excluded_reason)
                              .where(o.observed_on == day, o.condition.is_not(None))).all()
        groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
        for listing in listings:
            groups[(listing.minifigure_id, listing.condition, listing.currency)].append(listing)
        for (figure_id, condition, currency), members in groups.items():
            db.execute(SNAPSHOT_UPSERT, snapshot_values(figure_id, day, condition, currency, members, now))
        db.commit()
    return {"day": day.isoformat(), "snapshots": len(groups)}


def _snapshot_upsert() -> Any:
    stmt = insert(PriceSnapshot.__table__)
    keys = ("minifigure_id", "snapshot_date", "condition", "currency")
    stats = ("price_kind", "n", *PRICE_COLUMNS, "excluded", "excluded_total", "thin", "method_version", "computed_at")
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={k: stmt.excluded[k] for k in stats})


SNAPSHOT_UPSERT = _snapshot_upsert()


def snapshot_values(figure_id: uuid.UUID, day: date, condition: str, currency: str, members: list[Any],
                    now: datetime) -> dict[str, Any]:
    included = [m.price for m in members if m.excluded_reason is None]
    excluded = Counter(m.excluded_reason for m in members if m.excluded_reason is not None)
    stats = summarize(included) if included else None
    figures = (stats.min, stats.max, stats.mean, stats.median, stats.p25, stats.p75) if stats else (None,) * 6
    return {
        "minifigure_id": figure_id, "snapshot_date": day, "condition": condition, "currency": currency,
        "price_kind": "asking", "n": len(included), **dict(zip(PRICE_COLUMNS, figures, strict=True)),
        "excluded": {reason: excluded[reason] for reason in EXCLUSION_REASONS if excluded[reason]},
        "excluded_total": sum(excluded.values()), "thin": is_thin(len(included)),
        "method_version": METHOD_VERSION, "computed_at": now,
    }
