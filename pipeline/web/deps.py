"""What every route needs: the settings, the dispatcher, the history journal, a session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session

from pipeline.db import session_scope
from pipeline.ops.actions import RecordEvents
from pipeline.ops.dispatch import Dispatcher
from pipeline.settings import Settings


@dataclass(frozen=True)
class Ctx:
    settings: Settings
    dispatcher: Dispatcher
    journal: RecordEvents


def context(request: Request) -> Ctx:
    return request.app.state.ctx


def db_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.ctx.settings.database_url) as session:
        yield session


def now_utc() -> datetime:
    return datetime.now(UTC)
