"""Publishing many messages at once: one AMQP transaction instead of a confirmation each.

`broker.enqueue` waits for RabbitMQ to confirm every message, and RabbitMQ
confirms a persistent message once it is on disk: a fan-out of a few hundred
members waited seconds for one fsync after another. `enqueue_all` publishes them
on a transactional channel and commits once: when `tx_commit` returns, every
message is routed and stored, and if it fails, none of them was. The
middleware sees each message as if it were enqueued alone (`before_enqueue` for
all, then `after_enqueue` for all once the commit is done).

`run_group` is `dramatiq.group(...).run()` for a group of plain messages with
completion callbacks, publishing its members with `enqueue_all`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast
from uuid import uuid4

import dramatiq
import pika
import pika.exceptions
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import Barrier

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # as many as `RabbitmqBroker.enqueue` makes


def _tx_channel(broker: RabbitmqBroker) -> Any:
    """This thread's transactional channel on the broker's connection for this thread."""
    channel = getattr(broker.state, "tx_channel", None)
    connection = broker.connection
    if channel is None or not channel.is_open or channel.connection is not connection:
        channel = broker.state.tx_channel = connection.channel()
        channel.tx_select()
    return channel


def enqueue_all(broker: RabbitmqBroker, messages: Sequence[Message[Any]]) -> None:
    """Publish every message in one transaction; raises ConnectionClosed if that cannot be done."""
    if not messages:
        return
    for queue in sorted({m.queue_name for m in messages}):
        broker.declare_queue(queue, ensure=True)
    for message in messages:
        broker.emit_before("enqueue", message, None)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            channel = _tx_channel(broker)
            for message in messages:
                channel.basic_publish(
                    exchange="",
                    routing_key=message.queue_name,
                    body=message.encode(),
                    properties=pika.BasicProperties(delivery_mode=2, priority=message.options.get("broker_priority")),
                )
            channel.tx_commit()
            break
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            # Nothing of an uncommitted transaction is delivered: start again on a new connection.
            broker.state.tx_channel = None
            del broker.connection
            if attempt == ATTEMPTS:
                raise ConnectionClosed(exc) from None
            logger.debug("publishing %d messages: %s; again [%d/%d]", len(messages), exc, attempt, ATTEMPTS)
    for message in messages:
        broker.emit_after("enqueue", message, None)


def group_barrier(broker: dramatiq.Broker, completion_uuid: str) -> Barrier:
    """The barrier of a group's completion, as the GroupCallbacks middleware keeps it."""
    middleware = next((m for m in broker.middleware if isinstance(m, GroupCallbacks)), None)
    if middleware is None:
        raise RuntimeError("group callbacks need the GroupCallbacks middleware")
    return Barrier(middleware.rate_limiter_backend, completion_uuid, ttl=middleware.barrier_ttl)


def run_group(group: dramatiq.group) -> dramatiq.group:
    """`group.run()` for plain messages, the members published in one transaction."""
    broker = cast(RabbitmqBroker, group.broker)
    children = list(group.children)
    if any(not isinstance(child, Message) for child in children):
        raise TypeError("run_group takes a group of messages (no pipelines or nested groups)")
    if group.completion_callbacks:
        completion_uuid = str(uuid4())  # a new barrier on every run, as dramatiq does
        group_barrier(broker, completion_uuid).create(len(children))
        options = {"group_completion_uuid": completion_uuid, "group_completion_callbacks": group.completion_callbacks}
        children = [child.copy(options=options) for child in children]
    enqueue_all(broker, children)
    return group
