"""Worker recycling: after N messages the worker reloads gracefully, losing and duplicating nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from pipeline.models import Run, RunEvent, Worker
from tests.support.worker import running_worker, wait_for


def test_worker_recycles_after_n_messages_without_loss_or_duplicates(broker, session, tmp_path: Path) -> None:  # noqa: ANN001
    import actors
    from tests.support.actors import sleep_then_echo

    messages = [sleep_then_echo.send(0.2, f"m{i}") for i in range(30)]
    ids = [m.message_id for m in messages]
    actors.stack.writer.flush()
    env = {"WORKER_MAX_MESSAGES": "5"}
    with running_worker("tests.support.actors", threads=2, env=env, log=tmp_path / "worker.log"):
        def all_done() -> bool:
            actors.stack.writer.flush()
            session.expire_all()
            done = session.scalar(
                select(func.count()).select_from(Run).where(Run.message_id.in_(ids), Run.status == "succeeded")
            )
            return done == len(ids)

        wait_for(all_done, timeout=120, interval=0.5, what="every message succeeded")
    for m in messages:
        assert m.get_result(block=True, timeout=1000) == {"value": m.args[1]}
    runs_started = session.scalar(
        select(func.count()).select_from(RunEvent).where(RunEvent.message_id.in_(ids), RunEvent.event == "running")
    )
    assert runs_started == len(ids), "a message ran twice"
    worker_ids = session.scalars(select(Worker.worker_id)).all()
    assert len(worker_ids) >= 3, f"expected several worker generations, saw {worker_ids}"
    log = (tmp_path / "worker.log").read_text()
    assert "recycling: processed 5 messages" in log
