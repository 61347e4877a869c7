"""The database itself: whether it exists, and which migration its schema is at."""

from __future__ import annotations

from sqlalchemy import Connection, text

_EXISTS = text("SELECT 1 FROM pg_database WHERE datname = :n")
_HAS_VERSIONS = text("SELECT to_regclass('alembic_version')")
_VERSION = text("SELECT version_num FROM alembic_version")


def database_exists(conn: Connection, name: str) -> bool:
    return conn.execute(_EXISTS, {"n": name}).scalar() is not None


def create_database(conn: Connection, name: str) -> None:
    """On a connection in autocommit (CREATE DATABASE runs outside a transaction)."""
    conn.execute(text(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"'))


def revision(conn: Connection) -> str | None:
    """The migration the schema is at; None before the first one."""
    if not conn.execute(_HAS_VERSIONS).scalar():
        return None
    return conn.execute(_VERSION).scalar()
