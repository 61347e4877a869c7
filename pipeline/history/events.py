"""Run events: one thing that happened to a message, and its JSON forms.

A run event is written as a journal line (`RunEvent.to_line`, orjson, read back by
`from_json`), as a spool line (`to_json`) and, folded with the message's other events,
as a row of `runs` (`pipeline.sql.runs`). `storable_json` is JSON PostgreSQL accepts.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from pipeline.clock import utcnow

TERMINAL = ("succeeded", "partially_failed", "failed", "dead_lettered", "skipped", "cancelled")
STATUSES = ("enqueued", "delayed", "running", "retrying", *TERMINAL)
MAX_RESULT_BYTES = 4096


@dataclass
class RunEvent:
    """One thing that happened to a message. `status` is None for events that keep it."""

    message_id: str
    event: str
    status: str | None
    at: datetime = field(default_factory=utcnow)
    actor: str | None = None
    queue: str | None = None
    args: Any = None
    kwargs: Any = None
    options: Any = None
    attempt: int | None = None
    retries: int | None = None
    worker: str | None = None
    error: str | None = None
    traceback: str | None = None
    result: Any = None
    duration_ms: int | None = None
    group_id: str | None = None
    parent_id: str | None = None
    schedule_name: str | None = None
    scheduled_for: datetime | None = None
    progress_done: int | None = None
    progress_total: int | None = None
    data: Any = None

    def _raw(self) -> dict[str, Any]:
        # The fields that are set: a line half as long, and None is the default on reading.
        raw = {name: value for name, value in self.__dict__.items() if value is not None}
        raw["at"] = self.at.isoformat()
        if self.scheduled_for is not None:
            raw["scheduled_for"] = self.scheduled_for.isoformat()
        return raw

    def to_json(self) -> str:
        return json.dumps(self._raw(), default=str)

    def to_line(self) -> bytes:
        """The event as one line of UTF-8 JSON, newline included: the journals' format.

        orjson takes a tenth of json's time, which every message pays twice in the
        worker. Where the two would differ, json writes the line: orjson writes NaN
        and infinities as null (so any null sends the line to json, and the event's
        own unset fields are left out to keep nulls rare), and refuses what json
        accepts otherwise (integers beyond 64 bits, keys that are not strings, lone
        surrogates). Nested datetimes go through `str`, as json's `default` has them.
        """
        raw = self._raw()
        try:
            line = orjson.dumps(raw, default=str, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            line = b"null"
        if b"null" in line:
            line = json.dumps(raw, default=str).encode("ascii")
        return line + b"\n"

    @classmethod
    def from_json(cls, line: str | bytes) -> RunEvent:
        # json's lines (and those of earlier versions) are read by json: orjson would
        # read their NaN as an error and an integer beyond 64 bits as a float.
        raw = None
        json_lead = line.startswith(_JSON_LEAD.encode()) if isinstance(line, bytes) else line.startswith(_JSON_LEAD)
        if not json_lead:
            with contextlib.suppress(orjson.JSONDecodeError):  # not UTF-8: json reads what replacing leaves
                raw = orjson.loads(line)
        if raw is None:
            raw = json.loads(line.decode("utf-8", "replace") if isinstance(line, bytes) else line)
        if not isinstance(raw, dict):
            raise ValueError(f"a run event is a JSON object, not {type(raw).__name__}")
        raw["at"] = datetime.fromisoformat(raw["at"])
        raw.setdefault("status", None)  # left out when unset, like every other field
        if raw.get("scheduled_for") is not None:
            raw["scheduled_for"] = datetime.fromisoformat(raw["scheduled_for"])
        return cls(**raw)


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_JSON_LEAD = '{"message_id": '  # json's separators have spaces, orjson's none


def small_result(value: Any) -> Any:
    """The result as stored in history: JSON, and small."""
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, str) and len(value) < 1000):
        return value
    try:
        encoded = json.dumps(value, default=str)
    except (TypeError, ValueError):
        return {"repr": repr(value)[:MAX_RESULT_BYTES]}
    if len(encoded) > MAX_RESULT_BYTES:
        return {"truncated": True, "preview": encoded[:MAX_RESULT_BYTES]}
    return json.loads(encoded)


def storable_json(value: Any) -> str:
    """JSON PostgreSQL accepts: no NaN or infinities, no NUL characters, anything else as text."""
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        text = None
    if text is None or "\\u0000" in text:
        text = json.dumps(_storable(value), default=str, allow_nan=False)
    return text


def _storable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    if isinstance(value, (int, bool, type(None))):
        return value
    return _storable(str(value))


def storable_text(value: str | None) -> str | None:
    return value.replace("\x00", "") if value and "\x00" in value else value

