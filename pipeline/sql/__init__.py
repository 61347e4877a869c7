"""Every SQL statement of the system, one module per table (family); migrations aside.

Each module holds its table's statements and thin functions that run them on the
caller's session or connection (they never commit). Statements are SQLAlchemy
Core, except on the hot paths, where plain SQL runs on the session's psycopg
connection (`pipeline.db.driver`): COPY, set-wise upserts whose rows travel as
one array per column through `unnest`, and one-row statements a worker runs for
every message, where compiling a Core statement costs more than the round trip.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (a DML statement's result is a cursor's)."""
    return cast(CursorResult[Any], result).rowcount or 0
