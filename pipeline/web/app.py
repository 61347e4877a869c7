"""The dashboard and admin API: `create_app(settings, dispatcher)`; served by `stonks dashboard`.

Pages are rendered on the server (Jinja2) with a little local JavaScript; every
asset is served from `static/`, so the dashboard works with no internet. The
OpenAPI document is at /openapi.json and a local reference page at /api
(FastAPI's /docs would load Swagger UI from a CDN, so it is off).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pika.exceptions
import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.clock import utcnow
from pipeline.errors import NotFound
from pipeline.history.store import record_now
from pipeline.ops import rabbit
from pipeline.ops.actions import Refused
from pipeline.ops.dispatch import BadArguments, Dispatcher, UnknownActor
from pipeline.settings import Settings
from pipeline.web import api, auth, pages, prices
from pipeline.web.deps import Ctx

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "–"
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "–"


def templates_for(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters.update(ago=_ago, ts=_ts)
    env.globals.update(sandbox=settings.stonks_sandbox, token_set=auth.token_of(settings) is not None)
    return templates


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "path", "query"))
        message = str(error.get("msg")).removeprefix("Value error, ")  # our checks' messages say it already
        parts.append(f"{where or 'request'}: {message}")
    return "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    def handler(status: int, message: Any = None) -> Any:
        def handle(request: Request, exc: Exception) -> Response:
            return auth.refuse(request, status, message(exc) if message else str(exc))

        return handle

    app.add_exception_handler(NotFound, handler(404))
    app.add_exception_handler(rabbit.QueueNotFound, handler(404))
    app.add_exception_handler(rabbit.MessageNotFound, handler(404))
    app.add_exception_handler(UnknownActor, handler(404))
    app.add_exception_handler(Refused, handler(409))
    app.add_exception_handler(rabbit.PublishRefused, handler(502))
    app.add_exception_handler(BadArguments, handler(422))
    app.add_exception_handler(RequestValidationError, handler(422, _validation_message))
    unreachable = handler(503, lambda exc: f"RabbitMQ is unreachable: {type(exc).__name__}: {exc}")
    app.add_exception_handler(pika.exceptions.AMQPError, unreachable)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return auth.refuse(request, exc.status_code, str(exc.detail))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(requests.RequestException, handler(503))


def create_app(settings: Settings, dispatcher: Dispatcher) -> FastAPI:
    app = FastAPI(
        title="Minifig Stonks admin API",
        version="1",
        description="Send work, follow it by message id, and operate the queues. "
        "State-changing requests need `Authorization: Bearer <DASHBOARD_TOKEN>`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.ctx = Ctx(settings, dispatcher, record_now(settings))
    app.state.templates = templates_for(settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (auth.router, api.router, prices.api, pages.router, prices.router):
        app.include_router(router)
    app.middleware("http")(auth.make_guard(settings))
    _install_error_handlers(app)
    return app


def serve(settings: Settings, dispatcher: Dispatcher, host: str, port: int) -> None:
    import uvicorn

    auth.check_bind(host, settings)
    app = create_app(settings, dispatcher)
    logger.info("dashboard on http://%s:%d (%s)", host, port,
                "token required" if auth.token_of(settings) else "read-only: no DASHBOARD_TOKEN")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
