"""The operations pages: overview, queues, dead letters, runs, workers, schedules, API reference."""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pipeline.clock import utcnow
from pipeline.history import reads
from pipeline.history.events import STATUSES
from pipeline.history.reads import get_run
from pipeline.ops import actions, rabbit, workers
from pipeline.scheduling.ticks import schedule_view
from pipeline.sql import runs
from pipeline.web import deps
from pipeline.web.deps import Ctx, context, db_session
from pipeline.web.forms import parse_when, read_form

router = APIRouter(include_in_schema=False)
QueueName = Annotated[str, Path(pattern=rabbit.QUEUE_NAME)]
PAGE = 50


def render(request: Request, template: str, **data: Any) -> Response:
    data.setdefault("flash", request.query_params.get("flash"))
    data["authenticated"] = getattr(request.state, "authenticated", False)
    return deps.template(request, template, data)


def back(path: str, flash: str) -> Response:
    return RedirectResponse(f"{path}?flash={urllib.parse.quote(flash)}", status_code=303)


async def confirmed(request: Request) -> bool:
    """Destructive forms carry confirm=yes (set by the page's script or the confirmation page)."""
    return (await read_form(request)).get("confirm") == "yes"


def confirm_page(request: Request, question: str, cancel_to: str) -> Response:
    return render(request, "confirm.html", question=question, action=request.url.path, cancel_to=cancel_to)


@router.get("/")
def overview(request: Request, ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> Response:
    now = utcnow()
    try:
        queues = rabbit.queue_overview(ctx.settings, ctx.dispatcher.queues())
    except Exception as exc:  # the overview still shows history when RabbitMQ is away  # noqa: BLE001
        queues = rabbit.QueueOverview([], "none", f"RabbitMQ is unreachable: {type(exc).__name__}: {exc}")
    return render(
        request, "overview.html", queues=queues, workers=workers.list_workers(session, now),
        counts=runs.status_counts(session, now - timedelta(hours=24)),
        problems=reads.recent_problems(session), schedule=schedule_view(session, now, ctx.settings.schedule_file),
    )


@router.get("/queues")
def queues_page(request: Request, ctx: Ctx = Depends(context)) -> Response:
    return render(request, "queues.html", queues=rabbit.queue_overview(ctx.settings, ctx.dispatcher.queues()))


@router.post("/queues/{name}/purge")
def purge_page(request: Request, name: QueueName, confirm: bool = Depends(confirmed),
               ctx: Ctx = Depends(context)) -> Response:
    if not confirm:
        ready = rabbit.declare_passive(ctx.settings, name)[0]
        return confirm_page(request, f"Drop all {ready} ready messages of queue {name}?", "/queues")
    return back("/queues", f"Purged {rabbit.purge(ctx.settings, name)} messages from {name}.")


@router.get("/queues/{name}/dead-letters")
def dead_letters_page(request: Request, name: QueueName, limit: int = Query(100, ge=1, le=1000),
                      ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> Response:
    letters = actions.dead_letter_views(ctx.settings, session, name, limit)
    total = rabbit.declare_passive(ctx.settings, f"{rabbit.canonical(name)}.XQ")[0]
    return render(request, "dead_letters.html", queue=rabbit.canonical(name), letters=letters, total=total)


@router.post("/queues/{name}/dead-letters/requeue")
def requeue_all_page(name: QueueName, ctx: Ctx = Depends(context)) -> Response:
    done = rabbit.requeue_dead_letters(ctx.settings, name, ctx.journal)
    return back(f"/queues/{name}/dead-letters", f"Requeued {len(done)} messages to {name}.")


@router.post("/queues/{name}/dead-letters/purge")
def purge_dead_page(request: Request, name: QueueName, confirm: bool = Depends(confirmed),
                    ctx: Ctx = Depends(context)) -> Response:
    xq = f"{rabbit.canonical(name)}.XQ"
    if not confirm:
        count = rabbit.declare_passive(ctx.settings, xq)[0]
        return confirm_page(request, f"Delete all {count} dead letters of {name}? They cannot be requeued afterwards.",
                            f"/queues/{name}/dead-letters")
    return back(f"/queues/{name}/dead-letters", f"Deleted {rabbit.purge(ctx.settings, xq)} dead letters.")


@router.post("/queues/{name}/dead-letters/{message_id}/requeue")
def requeue_one_page(name: QueueName, message_id: uuid.UUID, ctx: Ctx = Depends(context)) -> Response:
    rabbit.requeue_dead_letters(ctx.settings, name, ctx.journal, {str(message_id)})
    return back(f"/queues/{name}/dead-letters", f"Requeued {message_id} to {name}.")


@router.post("/queues/{name}/dead-letters/{message_id}/delete")
def delete_one_page(request: Request, name: QueueName, message_id: uuid.UUID,
                    confirm: bool = Depends(confirmed), ctx: Ctx = Depends(context)) -> Response:
    if not confirm:
        return confirm_page(request, f"Delete dead letter {message_id} for good?", f"/queues/{name}/dead-letters")
    rabbit.delete_dead_letter(ctx.settings, name, str(message_id), ctx.journal)
    return back(f"/queues/{name}/dead-letters", f"Deleted {message_id}.")


@router.get("/runs")
def runs_page(request: Request, actor: str = "", status: str = "", since: str = "", until: str = "",
              message_id: str = "", offset: int = Query(0, ge=0, le=reads.MAX_OFFSET),
              session: Session = Depends(db_session)) -> Response:
    filters = reads.RunFilters(actor or None, status or None, parse_when(since, "since"),
                                 parse_when(until, "until"), message_id.strip() or None)
    rows, more = reads.runs_page(session, filters, PAGE, offset)
    query = {k: v for k, v in request.query_params.items() if k != "offset" and v}
    return render(request, "runs.html", runs=rows, more=more, offset=offset, page=PAGE, query=query,
                  qs=urllib.parse.urlencode(query), actors=runs.known_actors(session), statuses=STATUSES,
                  filters={"actor": actor, "status": status, "since": since, "until": until, "message_id": message_id})


@router.get("/runs/{message_id}")
def run_page(request: Request, message_id: str, session: Session = Depends(db_session)) -> Response:
    life = get_run(session, message_id)
    if life is None:
        raise HTTPException(404, f"no run with message id {message_id}")
    return render(request, "run.html", run=life.run, life=life.as_dict(), children=runs.children(session, message_id),
                  retryable=life.run.status in actions.RETRYABLE, cancellable=life.run.status in actions.CANCELLABLE)


@router.post("/runs/{message_id}/retry")
def retry_page(message_id: str, ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> Response:
    new_id = actions.retry_run(session, ctx.dispatcher, ctx.journal, message_id)
    return back(f"/runs/{new_id}", f"Sent again as {new_id} (retry of {message_id}).")


@router.post("/runs/{message_id}/cancel")
def cancel_page(message_id: str, ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> Response:
    actions.cancel_message(session, ctx.dispatcher, ctx.journal, message_id)
    return back(f"/runs/{message_id}", "Cancellation requested: a worker will skip it.")


@router.get("/workers")
def workers_page(request: Request, all: bool = False, session: Session = Depends(db_session)) -> Response:
    return render(request, "workers.html", workers=workers.list_workers(session, utcnow(), include_old=all),
                  gone_after=workers.GONE_AFTER_S, show_all=all)


@router.get("/schedules")
def schedules_page(request: Request, ctx: Ctx = Depends(context), session: Session = Depends(db_session)) -> Response:
    return render(request, "schedules.html", schedule=schedule_view(session, utcnow(), ctx.settings.schedule_file),
                  delayed=reads.delayed_runs(session))


@router.get("/api")
def api_reference(request: Request, ctx: Ctx = Depends(context)) -> Response:
    spec = request.app.openapi()
    routes = [
        {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
         "description": op.get("description", ""), "params": [p["name"] for p in op.get("parameters", [])],
         "body": "requestBody" in op}
        for path, methods in spec["paths"].items() for method, op in methods.items()
    ]
    return render(request, "api.html", routes=routes, actors=ctx.dispatcher.actors())
