"""What every route needs: the settings, the dispatcher, the history journal, a session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from pipeline.db import session_scope
from pipeline.history.store import RecordEvents
from pipeline.ops.dispatch import Dispatcher
from pipeline.settings import Settings


@dataclass(frozen=True)
class Ctx:
    settings: Settings
    dispatcher: Dispatcher
    journal: RecordEvents


def context(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def db_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.ctx.settings.database_url) as session:
        yield session


def template(request: Request, name: str, data: dict[str, Any], **options: Any) -> Response:
    """The page `name` rendered with `data` by the app's templates."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, data, **options)
