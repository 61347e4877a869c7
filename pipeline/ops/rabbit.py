"""RabbitMQ as an operator sees it: queue depths, rates, dead letters; requeue and purge.

Dramatiq keeps three queues per queue name: `name` (ready), `name.DQ` (delayed,
held by workers until their eta) and `name.XQ` (dead letters, kept 7 days).
Depths and rates come from the management API; without it, a passive
queue_declare over AMQP still tells the ready count and the consumers.

Dead letters are read with basic_get and never acknowledged unless the message is
meant to leave: closing the channel puts every unacknowledged message back.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
import requests

from pipeline.errors import NotFound
from pipeline.history.events import RunEvent
from pipeline.history.store import RecordEvents
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

SUFFIXES = (".DQ", ".XQ")
SCAN_LIMIT = 10_000  # dead letters examined at most when looking for one message
QUEUE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$"


class QueueNotFound(NotFound):
    pass


class MessageNotFound(NotFound):
    pass


class PublishRefused(RuntimeError):
    """RabbitMQ did not take a requeued message; the dead letter stays where it was."""


def canonical(queue: str) -> str:
    return queue[:-3] if queue.endswith(SUFFIXES) else queue


def vhost_of(broker_url: str) -> str:
    vhost: str = pika.URLParameters(broker_url).virtual_host
    return vhost


@dataclass
class QueueStats:
    name: str
    ready: int | None = None
    delayed: int | None = None  # ready + held in name.DQ
    dead: int | None = None
    unacked: int | None = None  # name and name.DQ: delivered to workers, not yet acknowledged
    consumers: int | None = None
    publish_rate: float | None = None
    deliver_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueueOverview:
    queues: list[QueueStats]
    source: str  # "management" or "amqp"
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "note": self.note, "queues": [q.as_dict() for q in self.queues]}


def _management(settings: Settings) -> tuple[str, tuple[str, str] | None]:
    url = urllib.parse.urlsplit(settings.rabbitmq_management_url)
    unquote = urllib.parse.unquote
    auth = (unquote(url.username or ""), unquote(url.password or "")) if url.username else None
    netloc = url.hostname + (f":{url.port}" if url.port else "") if url.hostname else url.netloc
    return urllib.parse.urlunsplit((url.scheme, netloc, url.path.rstrip("/"), "", "")), auth


def _rate(stats: dict[str, Any], key: str) -> float:
    return float(stats.get(f"{key}_details", {}).get("rate", 0.0))


def management_overview(settings: Settings) -> list[QueueStats]:
    base, auth = _management(settings)
    vhost = urllib.parse.quote(vhost_of(settings.broker_url), safe="")
    resp = requests.get(f"{base}/api/queues/{vhost}", auth=auth, timeout=5)
    resp.raise_for_status()
    rows: dict[str, QueueStats] = {}
    for q in resp.json():
        name = canonical(q["name"])
        row = rows.setdefault(name, QueueStats(name, 0, 0, 0, 0, 0, 0.0, 0.0))
        ready, unacked = q.get("messages_ready", 0), q.get("messages_unacknowledged", 0)
        stats = q.get("message_stats") or {}
        if q["name"].endswith(".XQ"):
            row.dead = ready + unacked
            continue
        if q["name"].endswith(".DQ"):
            row.delayed = ready + unacked  # workers hold delayed messages unacknowledged until their eta
        else:
            row.ready, row.consumers = ready, q.get("consumers", 0)
            row.publish_rate = _rate(stats, "publish")
            row.deliver_rate = _rate(stats, "deliver_get")
        row.unacked = (row.unacked or 0) + unacked
    return sorted(rows.values(), key=lambda r: r.name)


@contextmanager
def channel(settings: Settings) -> Iterator[Any]:
    params = pika.URLParameters(settings.broker_url)
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    connection = pika.BlockingConnection(params)
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def declare_passive(settings: Settings, name: str) -> tuple[int, int]:
    """(messages ready, consumers) of an existing queue; QueueNotFound if there is none."""
    with channel(settings) as ch:
        try:
            ok = ch.queue_declare(queue=name, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                raise QueueNotFound(f"no queue named {name!r} on vhost {vhost_of(settings.broker_url)!r}") from None
            raise
    return ok.method.message_count, ok.method.consumer_count


def passive_counts(settings: Settings, names: list[str]) -> dict[str, tuple[int, int]]:
    """(ready, consumers) of each named queue that exists, over one connection: exact, right now."""
    found: dict[str, tuple[int, int]] = {}
    with channel(settings) as ch:
        for name in names:
            try:
                ok = ch.queue_declare(queue=name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise
                ch = ch.connection.channel()  # the broker closes a channel that asked for a missing queue
                continue
            found[name] = (ok.method.message_count, ok.method.consumer_count)
    return found


def amqp_overview(settings: Settings, names: list[str]) -> list[QueueStats]:
    counts = passive_counts(settings, [f"{n}{s}" for n in sorted(set(names)) for s in ("", ".DQ", ".XQ")])
    rows = []
    for name in sorted(set(names)):
        row = QueueStats(name)
        row.ready, row.consumers = counts.get(name, (None, None))
        row.delayed = counts.get(f"{name}.DQ", (None, 0))[0]
        row.dead = counts.get(f"{name}.XQ", (None, 0))[0]
        rows.append(row)
    return rows


def queue_overview(settings: Settings, known: list[str]) -> QueueOverview:
    """Every queue of the vhost, from the management API, or what AMQP can tell without it.

    The management API's figures lag by up to its statistics interval (5 s by
    default), so ready, dead-lettered and consumer counts are read again over AMQP.
    """
    try:
        rows = management_overview(settings)
    except (requests.RequestException, ValueError) as exc:
        note = (
            f"RabbitMQ's management API did not answer ({type(exc).__name__}); shown: what AMQP tells "
            "(ready messages waiting in the queue, consumers). Delayed messages held by workers, "
            "unacknowledged counts and rates need the management plugin (RABBITMQ_MANAGEMENT_URL)."
        )
        return QueueOverview(amqp_overview(settings, known), "amqp", note)
    names = {r.name for r in rows}
    rows += [QueueStats(n, 0, 0, 0, 0, 0, 0.0, 0.0) for n in known if n not in names]  # not declared yet
    exact = {r.name: r for r in amqp_overview(settings, [r.name for r in rows])}
    for row in rows:
        now = exact[row.name]
        row.ready = row.ready if now.ready is None else now.ready
        row.consumers = row.consumers if now.consumers is None else now.consumers
        row.dead = row.dead if now.dead is None else now.dead
    return QueueOverview(sorted(rows, key=lambda r: r.name), "management")


def purge(settings: Settings, name: str) -> int:
    """Drop every ready message of the named queue (e.g. `default`, `default.DQ`, `default.XQ`)."""
    declare_passive(settings, name)
    with channel(settings) as ch:
        purged: int = ch.queue_purge(queue=name).method.message_count
        return purged


@dataclass
class QueuedMessage:
    message_id: str
    queue: str  # canonical: where a requeue sends it
    actor: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    enqueued_at: datetime | None
    dead_since: datetime | None
    reason: str | None
    body: dict[str, Any] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("body")
        data["options"] = {k: v for k, v in self.options.items() if k != "traceback"}
        for key in ("enqueued_at", "dead_since"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _decode(queue: str, properties: Any, raw: bytes) -> QueuedMessage:
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"message_id": "?", "undecodable": raw[:200].decode("utf-8", "replace")}
    deaths = (properties.headers or {}).get("x-death") or [{}]
    death = deaths[0]
    stamp = body.get("message_timestamp")
    dead_time = death.get("time")
    return QueuedMessage(
        message_id=str(body.get("message_id", "?")),
        queue=canonical(body.get("queue_name") or queue),
        actor=body.get("actor_name"),
        args=list(body.get("args") or []),
        kwargs=dict(body.get("kwargs") or {}),
        options=dict(body.get("options") or {}),
        enqueued_at=datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else None,
        dead_since=dead_time.replace(tzinfo=UTC) if isinstance(dead_time, datetime) else None,
        reason=death.get("reason") if isinstance(death.get("reason"), str) else None,
        body=body,
    )


def peek(settings: Settings, name: str, limit: int = 100) -> list[QueuedMessage]:
    """Up to `limit` ready messages of the named queue, oldest first; all of them stay there.

    Only ready messages are seen: the ones a worker holds (in flight, or delayed
    until their eta) are not in the queue to read.
    """
    declare_passive(settings, name)
    found: list[QueuedMessage] = []
    with channel(settings) as ch:
        while len(found) < limit:
            method, properties, raw = ch.basic_get(queue=name, auto_ack=False)
            if method is None:
                break
            found.append(_decode(name, properties, raw))
    return found  # closing the connection put every one of them back


def peek_dead_letters(settings: Settings, queue: str, limit: int = 100) -> list[QueuedMessage]:
    return peek(settings, f"{canonical(queue)}.XQ", limit)


def revived(body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The message as it goes back to its queue: same id, fresh retry budget and age."""
    options = {k: v for k, v in body.get("options", {}).items()
               if k not in ("traceback", "eta", "retries", "requeue_timestamp")}
    options["requeues"] = int(body.get("options", {}).get("requeues", 0)) + 1
    # A fresh timestamp: the AgeLimit middleware would skip a message dead for over a day.
    return {**body, "queue_name": canonical(body["queue_name"]), "options": options, "message_timestamp": now_ms}




def requeue_dead_letters(
    settings: Settings, queue: str, journal: RecordEvents, message_ids: set[str] | None = None, by: str = "dashboard"
) -> list[str]:
    """Publish dead letters back to their queue, same message id; all of them if `message_ids` is None.

    For each message: the history records `requeued` first (so the worker's later
    events win), the publish is confirmed by RabbitMQ, and only then is the dead
    letter acknowledged. A failed publish puts the dead letter back.
    """
    xq = f"{canonical(queue)}.XQ"
    ready = declare_passive(settings, xq)[0]  # QueueNotFound (404) for a queue that does not exist
    remaining = ready if message_ids is None else SCAN_LIMIT
    wanted = None if message_ids is None else set(message_ids)
    done: list[str] = []
    with channel(settings) as ch:
        ch.confirm_delivery()
        for _ in range(remaining):
            if wanted is not None and not wanted:
                break
            method, properties, raw = ch.basic_get(queue=xq, auto_ack=False)
            if method is None:
                break
            letter = _decode(queue, properties, raw)
            if wanted is not None and letter.message_id not in wanted:
                continue  # left unacknowledged: back in the queue when the channel closes
            journal([RunEvent(letter.message_id, "requeued", "enqueued", queue=letter.queue,
                              data={"from": xq, "by": by})])
            try:
                ch.basic_publish(
                    exchange="", routing_key=letter.queue, mandatory=True,
                    body=json.dumps(revived(letter.body, int(time.time() * 1000)), separators=(",", ":")).encode(),
                    properties=pika.BasicProperties(delivery_mode=2, priority=properties.priority),
                )
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                ch.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
                error = f"requeue to {letter.queue!r} refused by RabbitMQ: {type(exc).__name__}"
                journal([RunEvent(letter.message_id, "requeue_failed", "dead_lettered", error=error)])
                raise PublishRefused(f"{error}; message {letter.message_id} is still in {xq}") from None
            ch.basic_ack(delivery_tag=method.delivery_tag)
            done.append(letter.message_id)
            if wanted is not None:
                wanted.discard(letter.message_id)
    if wanted:
        also = f" (requeued: {', '.join(done)})" if done else ""
        raise MessageNotFound(f"not in {xq}: {', '.join(sorted(wanted))}{also}")
    logger.info("requeued %d dead letters from %s", len(done), xq)
    return done


def delete_dead_letter(settings: Settings, queue: str, message_id: str, journal: RecordEvents,
                       by: str = "dashboard") -> None:
    xq = f"{canonical(queue)}.XQ"
    declare_passive(settings, xq)
    with channel(settings) as ch:
        for _ in range(SCAN_LIMIT):
            method, properties, raw = ch.basic_get(queue=xq, auto_ack=False)
            if method is None:
                break
            if _decode(queue, properties, raw).message_id == message_id:
                ch.basic_ack(delivery_tag=method.delivery_tag)
                # A deleted dead letter stays a dead-lettered run (and a run history lost is not "running").
                journal([RunEvent(message_id, "discarded", "dead_lettered", data={"from": xq, "by": by})])
                return
    raise MessageNotFound(f"no message {message_id} in {xq}")
