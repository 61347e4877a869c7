"""SQLAlchemy 2 models: the catalog, observations, snapshots, run history, ticks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Any:
    return func.now()


class Minifigure(Base):
    """A catalog entry. BrickLink numbers are the key sellers write in titles."""

    __tablename__ = "minifigures"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    bricklink_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    rebrickable_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    theme: Mapped[str | None] = mapped_column(Text, index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_priced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class PriceObservation(Base):
    """One listing seen on one day, however many times it was seen that day."""

    __tablename__ = "price_observations"
    __table_args__ = (
        UniqueConstraint("source", "listing_id", "observed_on"),
        Index("ix_price_observations_figure_day", "minifigure_id", "observed_on"),
        Index("ix_price_observations_observed_on", "observed_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    minifigure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minifigures.id", ondelete="CASCADE"), nullable=False
    )
    source: Mapped[str] = mapped_column(String(16))
    listing_id: Mapped[str] = mapped_column(String(64))
    observed_on: Mapped[date] = mapped_column(Date)
    marketplace: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    shipping: Mapped[Decimal | None] = mapped_column(Money)
    shipping_currency: Mapped[str | None] = mapped_column(String(3))
    shipping_type: Mapped[str | None] = mapped_column(String(16))
    condition: Mapped[str | None] = mapped_column(String(8))
    condition_id: Mapped[str | None] = mapped_column(String(8))
    condition_text: Mapped[str | None] = mapped_column(Text)
    buying_options: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    bid_count: Mapped[int | None] = mapped_column(Integer)
    seller: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    excluded_reason: Mapped[str | None] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    times_seen: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class FigureSearch(Base):
    """A figure searched for on a day and marketplace, and what the search found: a day with no
    snapshot and a search of no listings has "no live listings", one with no search was not priced."""

    __tablename__ = "figure_searches"

    minifigure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("minifigures.id", ondelete="CASCADE"),
                                                     primary_key=True)
    searched_on: Mapped[date] = mapped_column(Date, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(16), primary_key=True)
    listings: Mapped[int] = mapped_column(Integer)  # distinct listings the latest search of the day returned
    included: Mapped[int] = mapped_column(Integer)  # of which classification counted
    searched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PriceSnapshot(Base):
    """Daily asking-price statistics per figure, condition and currency."""

    __tablename__ = "price_snapshots"
    __table_args__ = (UniqueConstraint("minifigure_id", "snapshot_date", "condition", "currency"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    minifigure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minifigures.id", ondelete="CASCADE"), nullable=False
    )
    snapshot_date: Mapped[date] = mapped_column(Date, index=True)
    condition: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    price_kind: Mapped[str] = mapped_column(String(8), default="asking", server_default="asking")
    n: Mapped[int] = mapped_column(Integer)
    min_price: Mapped[Decimal | None] = mapped_column(Money)
    max_price: Mapped[Decimal | None] = mapped_column(Money)
    mean_price: Mapped[Decimal | None] = mapped_column(Money)
    median_price: Mapped[Decimal | None] = mapped_column(Money)
    p25_price: Mapped[Decimal | None] = mapped_column(Money)
    p75_price: Mapped[Decimal | None] = mapped_column(Money)
    excluded: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict, server_default="{}")
    excluded_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    method_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Run(Base):
    """One message's life, from enqueue to its end."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_actor_enqueued", "actor", "enqueued_at"),
        Index("ix_runs_status_updated", "status", "updated_at"),
    )

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    args: Mapped[Any | None] = mapped_column(JSONB)
    kwargs: Mapped[Any | None] = mapped_column(JSONB)
    options: Mapped[Any | None] = mapped_column(JSONB)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(128))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    schedule_name: Mapped[str | None] = mapped_column(String(128))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress_done: Mapped[int | None] = mapped_column(Integer)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class RunEvent(Base):
    """Append-only log of what happened to a message, one row per event."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    data: Mapped[Any | None] = mapped_column(JSONB)


class ScheduleTick(Base):
    """A claimed schedule tick: the unique key makes each tick fire once."""

    __tablename__ = "schedule_ticks"
    __table_args__ = (UniqueConstraint("schedule_name", "scheduled_for"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    schedule_name: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    claimed_by: Mapped[str] = mapped_column(String(128))
    runner: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(64))
    late_by_ms: Mapped[int | None] = mapped_column(Integer)
    catch_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Claimed but not yet sent while NULL: a scheduler sends it (again) with the same message id.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_error: Mapped[str | None] = mapped_column(Text)


class Worker(Base):
    """A worker process as its heartbeats describe it."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_flight: Mapped[Any | None] = mapped_column(JSONB)
    processed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rss_mb: Mapped[int | None] = mapped_column(Integer)


class Batch(Base):
    """A fan-out of messages (a group) whose outcome is kept here, keyed by the message that sent it.

    Dramatiq's group callback never fires when a member fails for good; this row,
    its members and a delayed check make a failed member visible instead.
    """

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # prices | backfill
    day: Mapped[date | None] = mapped_column(Date)  # the day a prices batch aggregates
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[Any | None] = mapped_column(JSONB)


class BatchMember(Base):
    """One key of a batch (a figure, a day): pending until its message stores it (in the same
    transaction) or fails for good. A message may carry several keys (a chunk of figures)."""

    __tablename__ = "batch_members"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # a figure id or an ISO day
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SnapshotDay(Base):
    """A day whose snapshots were computed from all of its listings (not only some figures')."""

    __tablename__ = "snapshot_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    aggregated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method_version: Mapped[int] = mapped_column(Integer)
    listings: Mapped[int] = mapped_column(Integer)
    snapshots: Mapped[int] = mapped_column(Integer)
    listings_deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppliedMessage(Base):
    """A message whose writes are committed: a redelivery of it finds this row and changes nothing."""

    __tablename__ = "applied_messages"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(128))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    result: Mapped[Any | None] = mapped_column(JSONB)


# At import, as SQLAlchemy advises: a mapping mistake shows when a process starts, and a
# worker's first query does not pay for it (in a fresh worker, 3% of a price batch's CPU).
configure_mappers()
