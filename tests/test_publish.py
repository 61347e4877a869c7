"""Publishing a fan-out in one AMQP transaction: all members stored, each recorded, the callback fires."""

from __future__ import annotations

from pathlib import Path

import dramatiq
import pytest

from tests.support.worker import running_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")


def ready(broker, queue: str) -> int:
    return broker.channel.queue_declare(queue, passive=True, durable=True).method.message_count


def test_every_message_is_stored_when_enqueue_all_returns_and_each_is_recorded(broker) -> None:
    from actors.groups import enqueue_all
    from tests.support.actors import echo
    from tests.test_worker_e2e import status_is

    messages = [echo.message(f"tx-{i}") for i in range(60)]
    enqueue_all(broker, messages)
    assert ready(broker, "default") == 60  # committed, not on its way
    for message in messages[::15]:
        run = wait_for(status_is(message.message_id, "enqueued"), what="the enqueue recorded")
        assert run["actor"] == "echo" and run["args"] == [message.args[0]]


def test_a_group_run_in_one_transaction_fires_its_callback_once_all_succeeded(broker, tmp_path: Path) -> None:
    from actors.groups import run_group
    from tests.support.actors import echo
    from tests.test_worker_e2e import status_is

    group = dramatiq.group([echo.message(f"member-{i}") for i in range(20)])
    callback = echo.message("all done")
    group.add_completion_callback(callback)
    run_group(group)
    with running_worker("tests.support.actors", threads=4, log=tmp_path / "worker.log"):
        done = wait_for(status_is(callback.message_id, "succeeded"), timeout=60, what="the completion callback")
    assert done["result"] == {"value": "all done"}


def test_run_group_refuses_what_it_cannot_publish_in_one_go(broker) -> None:
    from actors.groups import run_group
    from tests.support.actors import echo

    nested = dramatiq.group([dramatiq.pipeline([echo.message("a"), echo.message("b")])])
    with pytest.raises(TypeError, match="group of messages"):
        run_group(nested)
    assert ready(broker, "default") == 0
