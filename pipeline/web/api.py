"""The JSON admin API under /v1: send work, follow it by message id, operate the queues."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from pipeline.clock import utcnow
from pipeline.history import reads
from pipeline.history.events import TERMINAL
from pipeline.history.reads import get_run
from pipeline.ops import actions, rabbit, workers
from pipeline.quality import parse_condition
from pipeline.scheduling.ticks import schedule_view
from pipeline.services.catalog import FIRST_YEAR, check_year
from pipeline.services.inputs import parse_past_day, parse_text
from pipeline.sql import catalog
from pipeline.web.deps import Ctx, context, db_session
from pipeline.web.forms import parse_when

router = APIRouter(prefix="/v1")
QueueName = Annotated[str, Path(pattern=rabbit.QUEUE_NAME, description="a queue name, e.g. `default`")]
CELERY_STATE = {"enqueued": "PENDING", "delayed": "PENDING", "running": "STARTED", "retrying": "RETRY",
                "succeeded": "SUCCESS", "failed": "FAILURE", "dead_lettered": "FAILURE",
                "partially_failed": "FAILURE", "cancelled": "REVOKED", "skipped": "IGNORED"}


# The bodies apply the actors' own checks (InvalidInput is a ValueError: a 422 naming the field),
# so a message the API accepts does not fail later on its arguments.
class SyncCatalog(BaseModel):
    theme: str | None = Field(None, max_length=200, examples=["Star Wars"])
    year: int | None = Field(None, ge=FIRST_YEAR, le=2100, description="at most next year")
    limit: int = Field(500, ge=1, le=10_000)

    @field_validator("theme")
    @classmethod
    def _theme(cls, value: str | None) -> str | None:
        return parse_text(value, "theme")

    @field_validator("year")
    @classmethod
    def _year(cls, value: int | None) -> int | None:
        return check_year(value, utcnow().year)


class FetchPrices(BaseModel):
    condition: Literal["NEW", "USED", "SEALED"] | None = None

    @field_validator("condition", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return parse_condition(value) if isinstance(value, str) else value


class AggregateSnapshots(BaseModel):
    target_date: date | None = Field(None, description="YYYY-MM-DD, not after today; default: yesterday (UTC)")

    @field_validator("target_date")
    @classmethod
    def _past(cls, value: date | None) -> date | None:
        today = utcnow().date()
        return None if value is None else parse_past_day(value.isoformat(), "target_date", today, today)


class SendMessage(BaseModel):  # type: ignore[no-redef]  # the pydantic plugin: a field named kwargs
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)


class Requeue(BaseModel):
    message_ids: list[uuid.UUID] | None = Field(None, description="omit to requeue every dead letter of the queue")


class Accepted(BaseModel):
    message_id: str
    actor: str
    status_url: str


def accepted(actor: str, message_id: str) -> Accepted:
    return Accepted(message_id=message_id, actor=actor, status_url=f"/v1/tasks/{message_id}")


def send(ctx: Ctx, actor: str, kwargs: dict[str, Any]) -> Accepted:
    return accepted(actor, ctx.dispatcher.send(actor, {k: v for k, v in kwargs.items() if v is not None}))


@router.post("/admin/sync-catalog", status_code=202, response_model=Accepted, tags=["admin"])
def sync_catalog(body: SyncCatalog | None = None, ctx: Ctx = Depends(context)) -> Accepted:
    """Sync the minifigure catalog (sync_catalog_from_brickset)."""
    return send(ctx, "sync_catalog_from_brickset", (body or SyncCatalog()).model_dump())


@router.post("/admin/fetch-prices/{minifigure_id}", status_code=202, response_model=Accepted, tags=["admin"])
def fetch_prices(minifigure_id: uuid.UUID, body: FetchPrices | None = None, ctx: Ctx = Depends(context),
                 session: Session = Depends(db_session)) -> Accepted:
    """Fetch current asking prices of one minifigure (fetch_prices_for_minifigure)."""
    if catalog.get(session, minifigure_id) is None:
        raise HTTPException(404, f"no minifigure with id {minifigure_id}")
    return send(ctx, "fetch_prices_for_minifigure",
                {"minifigure_id": str(minifigure_id), "condition": (body or FetchPrices()).condition})


@router.post("/admin/aggregate-snapshots", status_code=202, response_model=Accepted, tags=["admin"])
def aggregate_snapshots(body: AggregateSnapshots | None = None, ctx: Ctx = Depends(context)) -> Accepted:
    """Aggregate a day's observations into snapshots (aggregate_daily_snapshots)."""
    day = (body or AggregateSnapshots()).target_date
    return send(ctx, "aggregate_daily_snapshots", {"target_date": day.isoformat() if day else None})


@router.get("/actors", tags=["actors"])
def list_actors(ctx: Ctx = Depends(context)) -> list[dict[str, Any]]:
    """Registered actors with their queue and signature (`celery inspect registered`)."""
    return [a.as_dict() for a in ctx.dispatcher.actors()]


@router.post("/actors/{actor}/messages", status_code=202, response_model=Accepted, tags=["actors"])
def send_message(actor: str, body: SendMessage, ctx: Ctx = Depends(context)) -> Accepted:
    """Send any registered actor a message; arguments are checked against its signature."""
    return accepted(actor, ctx.dispatcher.send(actor, body.kwargs, args=body.args))


@router.post("/health-check", tags=["admin"])
def health_check(wait_s: float = Query(0, ge=0, le=30, description="wait this long for the answer"),
                 ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> dict[str, Any]:
    """Send health_check through a worker; with wait_s, answer with its result."""
    message_id = ctx.dispatcher.send("health_check", {})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        session.expire_all()
        life = get_run(session, message_id)
        if life is not None and life.run.status in TERMINAL:
            return task_view(life.as_dict())
        time.sleep(0.2)
    return accepted("health_check", message_id).model_dump()


def task_view(data: dict[str, Any]) -> dict[str, Any]:
    status = data["status"]
    return {**data, "state": CELERY_STATE.get(status, status.upper()), "ready": status in TERMINAL,
            "successful": status == "succeeded"}


@router.get("/tasks/{message_id}", tags=["tasks"])
def get_task(message_id: uuid.UUID, session: Session = Depends(db_session)) -> dict[str, Any]:
    """Status, result, error, events and progress of a message, from the run history."""
    life = get_run(session, str(message_id))
    if life is None:
        raise HTTPException(404, f"no run with message id {message_id} (not sent, or its history is not written yet)")
    return task_view(life.as_dict())


@router.delete("/tasks/{message_id}", status_code=202, tags=["tasks"])
def cancel_task(message_id: uuid.UUID, ctx: Ctx = Depends(context),
                session: Session = Depends(db_session)) -> dict[str, Any]:
    """Cancel a message that has not started; 409 if it is running or has ended."""
    return actions.cancel_message(session, ctx.dispatcher, ctx.journal, str(message_id), by="api")


@router.post("/tasks/{message_id}/retry", status_code=202, response_model=Accepted, tags=["tasks"])
def retry_task(message_id: uuid.UUID, ctx: Ctx = Depends(context),
               session: Session = Depends(db_session)) -> Accepted:
    """Send a failed run again with its original arguments (a new message linked to the old one)."""
    life = get_run(session, str(message_id))
    new_id = actions.retry_run(session, ctx.dispatcher, ctx.journal, str(message_id), by="api")
    return accepted(life.run.actor or "?" if life else "?", new_id)


@router.get("/runs", tags=["tasks"])
def list_runs(actor: str | None = None, status: str | None = None, since: str | None = None,
              until: str | None = None, message_id: str | None = Query(None, description="a prefix"),
              limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=reads.MAX_OFFSET),
              session: Session = Depends(db_session)) -> dict[str, Any]:
    """Run history, newest first; `since`/`until` are ISO dates or times (UTC unless zoned)."""
    filters = reads.RunFilters(actor, status, parse_when(since, "since"), parse_when(until, "until"), message_id)
    rows, more = reads.runs_page(session, filters, limit, offset)
    return {"runs": [reads.run_row(r) for r in rows], "next_offset": offset + limit if more else None}


@router.get("/workers", tags=["workers"])
def list_workers(session: Session = Depends(db_session)) -> list[dict[str, Any]]:
    """Workers from their heartbeats; `gone` when three heartbeats were missed."""
    return [w.as_dict() for w in workers.list_workers(session, utcnow())]


@router.get("/queues", tags=["queues"])
def list_queues(ctx: Ctx = Depends(context)) -> dict[str, Any]:
    """Ready, delayed, dead-lettered and unacknowledged counts, consumers and rates per queue."""
    return rabbit.queue_overview(ctx.settings, ctx.dispatcher.queues()).as_dict()


@router.delete("/queues/{name}/messages", tags=["queues"])
def purge_queue(name: QueueName, ctx: Ctx = Depends(context)) -> dict[str, Any]:
    """Drop every ready message of a queue (`celery purge`)."""
    return {"queue": name, "purged": rabbit.purge(ctx.settings, name)}


@router.get("/queues/{name}/dead-letters", tags=["queues"])
def dead_letters(name: QueueName, limit: int = Query(100, ge=1, le=1000), ctx: Ctx = Depends(context),
                 session: Session = Depends(db_session)) -> dict[str, Any]:
    """Dead letters with their actor, arguments, error and traceback; they stay in the queue."""
    return {"queue": name, "dead_letters": actions.dead_letter_views(ctx.settings, session, name, limit)}


@router.post("/queues/{name}/dead-letters/requeue", tags=["queues"])
def requeue(name: QueueName, body: Requeue | None = None, ctx: Ctx = Depends(context)) -> dict[str, Any]:
    """Publish dead letters back to their queue with the same message id (all, or the ones named)."""
    ids = {str(i) for i in body.message_ids} if body and body.message_ids is not None else None
    return {"queue": name, "requeued": rabbit.requeue_dead_letters(ctx.settings, name, ctx.journal, ids, by="api")}


@router.post("/queues/{name}/dead-letters/{message_id}/requeue", tags=["queues"])
def requeue_one(message_id: uuid.UUID, name: QueueName, ctx: Ctx = Depends(context)) -> dict[str, Any]:
    done = rabbit.requeue_dead_letters(ctx.settings, name, ctx.journal, {str(message_id)}, by="api")
    return {"queue": name, "requeued": done}


@router.delete("/queues/{name}/dead-letters/{message_id}", tags=["queues"])
def delete_dead_letter(message_id: uuid.UUID, name: QueueName, ctx: Ctx = Depends(context)) -> dict[str, Any]:
    rabbit.delete_dead_letter(ctx.settings, name, str(message_id), ctx.journal, by="api")
    return {"queue": name, "deleted": str(message_id)}


@router.delete("/queues/{name}/dead-letters", tags=["queues"])
def purge_dead_letters(name: QueueName, ctx: Ctx = Depends(context)) -> dict[str, Any]:
    return {"queue": name, "purged": rabbit.purge(ctx.settings, f"{rabbit.canonical(name)}.XQ")}


@router.get("/schedules", tags=["schedules"])
def list_schedules(ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> dict[str, Any]:
    """Every schedule entry with its next tick, its last tick and that run, and whether it is late."""
    return schedule_view(session, utcnow(), ctx.settings.schedule_file).as_dict()
