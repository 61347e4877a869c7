"""Worker recycling: after N messages or X MB the worker reloads gracefully, losing and duplicating nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.models import Run, RunEvent, Worker
from tests.support.worker import running_worker, wait_for

pytestmark = pytest.mark.usefixtures("services")


def _run_all_once(session: Any, messages: list[Any], env: dict[str, str], log: Path, threads: int) -> list[str]:
    """Runs the messages on a recycling worker: each succeeds, once. Returns the worker ids seen."""
    import actors

    ids = [m.message_id for m in messages]
    actors.stack.writer.flush()
    with running_worker("tests.support.actors", threads=threads, env=env, log=log):
        def all_done() -> bool:
            actors.stack.writer.flush()
            session.expire_all()
            done = session.scalar(
                select(func.count()).select_from(Run).where(Run.message_id.in_(ids), Run.status == "succeeded")
            )
            return done == len(ids)

        wait_for(all_done, timeout=120, interval=0.5, what="every message succeeded")
    for m in messages:
        assert m.get_result(block=True, timeout=1000) == {"value": m.args[-1]}
    runs_started = session.scalar(
        select(func.count()).select_from(RunEvent).where(RunEvent.message_id.in_(ids), RunEvent.event == "running")
    )
    assert runs_started == len(ids), "a message ran twice"
    return session.scalars(select(Worker.worker_id)).all()


def test_worker_recycles_after_n_messages_without_loss_or_duplicates(broker, session, tmp_path: Path) -> None:
    from tests.support.actors import sleep_then_echo

    messages = [sleep_then_echo.send(0.2, f"m{i}") for i in range(30)]
    worker_ids = _run_all_once(session, messages, {"WORKER_MAX_MESSAGES": "5"}, tmp_path / "worker.log", threads=2)
    assert len(worker_ids) >= 3, f"expected several worker generations, saw {worker_ids}"
    assert "recycling: processed 5 messages" in (tmp_path / "worker.log").read_text()


def test_worker_recycles_once_its_memory_passes_the_limit(broker, session, tmp_path: Path) -> None:
    from tests.support.actors import hold_memory

    # A fresh worker process holds far less than 300 MB; each message keeps 60 MB more.
    messages = [hold_memory.send(60, 0.3, f"m{i}") for i in range(16)]
    worker_ids = _run_all_once(session, messages, {"WORKER_MAX_MEMORY_MB": "300"}, tmp_path / "worker.log", threads=1)
    assert len(worker_ids) >= 2, f"expected several worker generations, saw {worker_ids}"
    log = (tmp_path / "worker.log").read_text()
    assert log.count("MB (WORKER_MAX_MEMORY_MB=300); asking for a graceful reload") >= 2, log
