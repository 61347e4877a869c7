"""What both runners do when woken: find each entry's due ticks, claim them, send the real actor's message.

A runner (periodiq or APScheduler) only decides when to wake. `Beat.check(entry)`
asks `due_ticks` what is due since the entry's last check (at start: its
catch-up window), claims each due tick in PostgreSQL and, if this process won
the claim, sends the entry's actor with the entry's kwargs and the options
`schedule_name` and `scheduled_for`. `Beat.sweep()` runs every
`SWEEP_INTERVAL`: it sends claims left unsent (a failed send, or a process that
died between claim and send) and checks every entry, so a stall (a suspended
process, a database outage) is noticed within the interval.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from dramatiq import Broker, Message
from sqlalchemy.exc import SQLAlchemyError

from actors.arguments import refusal
from pipeline.clock import utcnow
from pipeline.db import session_scope
from pipeline.scheduling.table import (
    DueTick,
    Entry,
    ScheduleTable,
    check_actors,
    due_ticks,
    first_check,
    load_table,
    table_path,
)
from pipeline.settings import get_settings
from pipeline.sql import ticks

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = timedelta(seconds=30)
STALE_CLAIM = timedelta(minutes=2)  # another process's unsent claim older than this is sent by us
MAX_EARLY = timedelta(seconds=2)  # a runner woken this much before a tick waits for it
_US = timedelta(microseconds=1)



def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def as_utc(moment: datetime) -> datetime:
    """A plain aware UTC datetime from any aware one (periodiq hands over pendulum's)."""
    moment = moment.astimezone(UTC)
    return datetime.combine(moment.date(), moment.time(), tzinfo=UTC)


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """In the main thread (periodiq sends there), SIGTERM and SIGINT wait until a send is recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Beat:
    def __init__(
        self, table: ScheduleTable, broker: Broker, runner: str, *,
        clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
        claimed_by: str | None = None,
    ) -> None:
        self.table = table
        self.broker = broker
        self.runner = runner
        self.clock = clock
        self.sleep = sleep
        self.claimed_by = claimed_by or process_id()
        self._last_checked: dict[str, datetime] = {}
        self._lock = threading.RLock()
        self._started = False

    def message_for(self, entry: Entry, scheduled_for: datetime, message_id: str | None = None) -> Message[Any]:
        """The message for a tick: the same from either runner, and again when a claim is resent."""
        message = self.broker.get_actor(entry.actor).message_with_options(
            kwargs=dict(entry.kwargs), schedule_name=entry.name, scheduled_for=as_utc(scheduled_for).isoformat()
        )
        return message if message_id is None else message.copy(message_id=message_id)

    def has_work(self, entry: Entry, now: datetime | None = None) -> bool:
        """Whether a check of `entry` now would fire or skip anything."""
        now = as_utc(now or self.clock())
        with self._lock:
            since = self._last_checked.get(entry.name) or first_check(entry, now)
        found = due_ticks(entry, since, now)
        return bool(found.fire or found.skipped)

    def check(self, entry: Entry, now: datetime | None = None) -> list[str]:
        """Fire what is due for `entry`; the ids of the messages this process sent."""
        now = as_utc(now or self.clock())
        with self._lock:
            since = self._last_checked.get(entry.name) or first_check(entry, now)
            found = due_ticks(entry, since, now)
            self._last_checked[entry.name] = max(since, now)
            if found.skipped:
                logger.warning(
                    "%s: skipping %d missed tick(s), the latest %s (catch_up: %s)",
                    entry.name, len(found.skipped), found.skipped[-1].isoformat(), entry.catch_up,
                )
            sent = []
            for due in found.fire:
                try:
                    message_id = self._fire(entry, due)
                except SQLAlchemyError as exc:
                    # Not claimed: look at this tick again at the next check (on time or by the policy).
                    logger.error("%s: cannot claim tick %s: %s", entry.name, due.scheduled_for.isoformat(), exc)
                    self._last_checked[entry.name] = min(self._last_checked[entry.name], due.scheduled_for - _US)
                    break
                if message_id:
                    sent.append(message_id)
            return sent

    def _fire(self, entry: Entry, due: DueTick) -> str | None:
        early = (due.scheduled_for - self.clock()).total_seconds()
        if 0 < early <= MAX_EARLY.total_seconds():
            self.sleep(early)  # periodiq rounds its clock up; a tick is never sent before its time
        message = self.message_for(entry, due.scheduled_for)
        late_ms = max(int((self.clock() - due.scheduled_for).total_seconds() * 1000), 0)
        with session_scope() as session:
            tick_id = ticks.claim_tick(
                session, schedule_name=entry.name, scheduled_for=due.scheduled_for, claimed_by=self.claimed_by,
                runner=self.runner, message_id=message.message_id, late_by_ms=late_ms, catch_up=due.catch_up,
            )
        if tick_id is None:
            logger.info("%s: tick %s already claimed by another scheduler", entry.name, due.scheduled_for.isoformat())
            return None
        logger.info(
            "%s: claimed tick %s%s, %d ms late; sending %s as %s", entry.name, due.scheduled_for.isoformat(),
            " (catch-up)" if due.catch_up else "", late_ms, entry.actor, message.message_id,
        )
        return message.message_id if self._send(tick_id, message) else None

    def _send(self, tick_id: int, message: Message[Any]) -> bool:
        """Send a claimed tick's message; on failure the claim stays unsent, with the error, for the sweep."""
        try:
            # The row lock is held across the send: no other sweep sends it meanwhile.
            with _stop_signals_held(), session_scope() as session:
                if ticks.lock_unsent(session, tick_id) is None:
                    return False  # sent already, or being sent by another process right now
                self.broker.enqueue(message)
                ticks.mark_sent(session, tick_id)
            return True
        except Exception as exc:
            logger.exception("tick %d: sending %s failed; the sweep sends it again", tick_id, message.message_id)
            try:
                with session_scope() as session:
                    ticks.record_send_error(session, tick_id, f"{type(exc).__name__}: {exc}"[:2000])
            except SQLAlchemyError:
                logger.warning("tick %d: could not record the send error", tick_id)
            return False

    def needs_sweep(self, now: datetime | None = None) -> bool:
        """Whether a sweep would do anything: an entry has work, or a claim waits to be sent."""
        now = as_utc(now or self.clock())
        if not self._started or any(self.has_work(e, now) for e in self.table.enabled):
            return True
        try:
            with session_scope() as session:
                stale_before = now - STALE_CLAIM
                unsent = ticks.unsent_ticks(session, claimed_by=self.claimed_by, stale_before=stale_before, limit=1)
                return bool(unsent)
        except SQLAlchemyError:
            return True

    def sweep(self, now: datetime | None = None) -> None:
        """Send unsent claims, then check every entry."""
        now = as_utc(now or self.clock())
        with self._lock:
            try:
                self._resend_unsent(now)
            except SQLAlchemyError as exc:
                logger.error("cannot look for unsent ticks: %s", exc)
            for entry in self.table.enabled:
                self.check(entry, now)
        if not self._started:
            self._started = True
            logger.info(
                "schedule running: %d entries from %s (runner %s, process %s)",
                len(self.table.enabled), self.table.source, self.runner, self.claimed_by,
            )

    def _resend_unsent(self, now: datetime) -> None:
        with session_scope() as session:
            pending = ticks.unsent_ticks(session, claimed_by=self.claimed_by, stale_before=now - STALE_CLAIM)
        for tick in pending:
            entry = self.table.get(tick.schedule_name)
            if entry is None or tick.message_id is None:
                logger.error("tick %d of %r is unsent and its entry is gone from the table",
                             tick.id, tick.schedule_name)
                continue
            logger.info("%s: sending unsent tick %s as %s", entry.name, tick.scheduled_for.isoformat(), tick.message_id)
            self._send(tick.id, self.message_for(entry, tick.scheduled_for, tick.message_id))


def load_checked_table(broker: Broker, schedule_file: str | None = None) -> ScheduleTable:
    """Load the table (SCHEDULE_FILE, or the default) and check every entry's actor and kwargs."""
    table = load_table(table_path(schedule_file or get_settings().schedule_file))
    check_actors(table, {name: inspect.signature(actor.fn) for name, actor in broker.actors.items()},
                 values=lambda actor, kwargs: refusal(broker.get_actor(actor), (), kwargs))
    return table
