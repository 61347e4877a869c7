"""Engine, session scope, migrations, and the plain psycopg connections of the history writers."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline.settings import get_settings
from pipeline.sql import schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# alembic logs a line per plugin when it is first imported, at INFO: noise in every start-up log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@functools.cache
def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    # Short connect timeout: a worker must notice a database outage quickly. Every
    # checkout is pinged, so a connection that died (PostgreSQL restarted) is replaced
    # before anyone uses it: the first request after an outage succeeds.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5, "application_name": "minifig-stonks"},
    )


@functools.cache
def _sessionmaker(url: str | None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = _sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def driver(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under the session's transaction: for the hot path's plain SQL.

    A statement run here skips SQLAlchemy's compiling and caching, which cost more
    Python than the round trip for a one-row statement; psycopg prepares a statement
    on the server once a connection has run it a few times.
    """
    return session.connection().connection.driver_connection  # type: ignore[return-value]


def ensure_database(url: str | None = None) -> None:
    """Create the configured database if the server does not have it yet."""
    from sqlalchemy.engine import make_url

    target = make_url(url or get_settings().database_url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not schema.database_exists(conn, target.database or ""):
                schema.create_database(conn, target.database or "")
    finally:
        admin.dispose()


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | None = None) -> str | None:
    with get_engine(url).connect() as conn:
        return schema.revision(conn)


@functools.cache
def _scripts():  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql+psycopg://unused"))


@functools.cache
def head_revision() -> str:
    head: str | None = _scripts().get_current_head()
    assert head is not None
    return head


def known_revision(revision: str) -> bool:
    """Whether this code's migrations include `revision` (a newer release's is unknown here)."""
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def close_quietly(conn: psycopg.Connection[Any] | None) -> None:
    """Close a connection that may already be broken."""
    if conn is not None:
        with contextlib.suppress(psycopg.Error):
            conn.close()


def libpq_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)



def connected(conn: psycopg.Connection[Any] | None, dsn: str) -> psycopg.Connection[Any]:
    """`conn` if it is open, else a new autocommit connection: a writer's one connection."""
    if conn is None or conn.closed:
        conn = psycopg.connect(dsn, connect_timeout=3, autocommit=True)
    return conn

