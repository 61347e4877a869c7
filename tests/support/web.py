"""Helpers for dashboard tests: settings with a token, a recording dispatcher, a running dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from pipeline.ops.dispatch import ActorInfo, BadArguments, UnknownActor
from pipeline.settings import Settings, get_settings
from tests.support.worker import ROOT, wait_for

TOKEN = "test-" + uuid.uuid4().hex
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def settings_with(**overrides: Any) -> Settings:
    if "dashboard_token" in overrides and isinstance(overrides["dashboard_token"], str):
        overrides["dashboard_token"] = SecretStr(overrides["dashboard_token"])
    return get_settings().model_copy(update=overrides)


class RecordingDispatcher:
    """Stands in for the broker where a test only checks what would be sent."""

    ACTORS: ClassVar[dict[str, str]] = {
        "health_check": "()",
        "sync_catalog_from_brickset": "(theme=None, year=None, limit=500)",
        "fetch_prices_for_minifigure": "(minifigure_id, condition=None)",
        "aggregate_daily_snapshots": "(target_date=None)",
    }

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], tuple[Any, ...], str | None]] = []
        self.cancelled: list[str] = []

    def actors(self) -> list[ActorInfo]:
        return [ActorInfo(n, "default", s, 0, 10_000) for n, s in sorted(self.ACTORS.items())]

    def queues(self) -> list[str]:
        return ["default", "processing", "scraping"]

    def send(
        self, actor: str, kwargs: dict[str, Any], *, args: Sequence[Any] = (), parent_id: str | None = None
    ) -> str:
        if actor not in self.ACTORS:
            raise UnknownActor(actor, list(self.ACTORS))
        if actor == "health_check" and (args or kwargs):
            raise BadArguments("health_check() takes no arguments")
        self.sent.append((actor, kwargs, tuple(args), parent_id))
        return str(uuid.uuid4())

    def mark_cancelled(self, message_id: str) -> None:
        self.cancelled.append(message_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_dashboard(env: dict[str, str] | None = None, log: Any = None) -> Iterator[str]:
    """`stonks dashboard` as a real process on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors.cli", "dashboard", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}")
        try:
            return requests.get(f"{url}/login", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=30, what="the dashboard to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def publish_raw(queue: str, body: bytes) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(get_settings().broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange="", routing_key=queue, body=body,
                              properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
    finally:
        connection.close()


def craft_dead_letter(actor: str = "fragile_fetch", queue: str = "default", args: tuple[Any, ...] = ("x",),
                      error: str = "UpstreamDown: price source down") -> str:
    """Put a message straight into QUEUE.XQ, as Dramatiq leaves one after its last retry."""
    from dramatiq import Message

    import actors

    actors.broker.get_queue_message_counts(queue)  # declares the queue, its .DQ and .XQ as Dramatiq does

    message = Message(queue_name=queue, actor_name=actor, args=args, kwargs={},
                      options={"retries": 3, "traceback": f"Traceback (most recent call last):\n{error}\n"})
    publish_raw(f"{queue}.XQ", message.encode())
    return message.message_id


def insert_figure(name: str, theme: str = "Star Wars", days: int = 100, conditions: tuple[str, ...] = ("NEW", "USED"),
                  start: Any = None, bricklink_id: str | None = None) -> Any:
    """A minifigure with `days` daily asking-price snapshots per condition (USD), prices drifting upwards."""
    import math
    from datetime import date, timedelta
    from decimal import Decimal

    from pipeline.db import session_scope
    from pipeline.models import Minifigure, PriceSnapshot

    start = start or date(2031, 1, 1)
    figure_id = uuid.uuid4()
    with session_scope() as session:
        session.add(Minifigure(id=figure_id, bricklink_id=bricklink_id or f"tst{uuid.uuid4().hex[:6]}", name=name,
                               theme=theme, year=2020, source="test"))
        session.flush()
        for offset, condition in enumerate(conditions):
            base = 24.0 if condition == "NEW" else 14.0
            for day in range(days):
                median = base + day * 0.05 + 1.5 * math.sin(day / 6 + offset)
                money = lambda v: Decimal(f"{v:.2f}")  # noqa: E731
                session.add(PriceSnapshot(
                    minifigure_id=figure_id, snapshot_date=start + timedelta(days=day), condition=condition,
                    currency="USD", n=8 + day % 7, min_price=money(median * 0.6), max_price=money(median * 1.6),
                    mean_price=money(median * 1.05), median_price=money(median), p25_price=money(median * 0.85),
                    p75_price=money(median * 1.18), excluded={"lot": day % 4, "custom": 1} if day % 4 else {},
                    excluded_total=(day % 4 + 1) if day % 4 else 0, thin=day % 7 == 0, method_version=1))
    return figure_id


def forget_runs(*message_ids: str) -> None:
    """Drop the history of messages a test sent and then flushed away: they will never run."""
    from sqlalchemy import delete

    import actors
    from pipeline.db import session_scope
    from pipeline.models import Run, RunEvent

    actors.stack.writer.flush()
    with session_scope() as session:
        session.execute(delete(RunEvent).where(RunEvent.message_id.in_(message_ids)))
        session.execute(delete(Run).where(Run.message_id.in_(message_ids)))
