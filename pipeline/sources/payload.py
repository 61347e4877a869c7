"""Typed reads from documented JSON bodies.

A body that is JSON but not of the documented shape (a required field
missing, a price that is not a number) is a `PermanentSourceError` naming the
record and the field: asking again would get the same body. Optional fields
that are absent, or `null`, read as None.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.sources.errors import PermanentSourceError


class Fields:
    """One JSON object of a reply, read field by field."""

    def __init__(self, obj: Any, service: str, endpoint: str, what: str) -> None:
        if not isinstance(obj, dict):
            raise PermanentSourceError(service, endpoint, f"{what} is not a JSON object: {_show(obj)}")
        self.obj: dict[str, Any] = obj
        self.service = service
        self.endpoint = endpoint
        self.what = what

    def bad(self, key: str, problem: str) -> PermanentSourceError:
        return PermanentSourceError(self.service, self.endpoint, f"{self.what}: field {key!r} {problem}")

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key)
        if value is None and required:
            raise self.bad(key, "is missing")
        return value

    def string(self, key: str) -> str:
        value = self.opt_string(key, required=True)
        assert value is not None
        return value

    def opt_string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.bad(key, f"is not a string: {_show(value)}")
        return str(value)

    def integer(self, key: str) -> int:
        value = self.opt_integer(key, required=True)
        assert value is not None
        return value

    def opt_integer(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)  # Brickset's getYears sends years as strings
        raise self.bad(key, f"is not an integer: {_show(value)}")

    def decimal(self, key: str) -> Decimal:
        value = self.opt_decimal(key, required=True)
        assert value is not None
        return value

    def opt_decimal(self, key: str, *, required: bool = False) -> Decimal | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.bad(key, f"is not a number: {_show(value)}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.bad(key, f"is not a number: {_show(value)}") from None
        if not number.is_finite():
            raise self.bad(key, f"is not a finite number: {_show(value)}")
        return number

    def opt_flag(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _FLAGS:
            return _FLAGS[value.strip().lower()]
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.bad(key, f"is not a boolean: {_show(value)}")

    def opt_moment(self, key: str) -> datetime | None:
        """An ISO-8601 timestamp as an aware datetime; a naive one is taken as UTC."""
        text = self.opt_string(key)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise self.bad(key, f"is not an ISO-8601 timestamp: {_show(text)}") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def record(self, key: str, what: str | None = None) -> Fields:
        """A nested object; an absent or null one reads as empty."""
        value = self._get(key, False)
        return Fields({} if value is None else value, self.service, self.endpoint, what or f"{self.what}.{key}")

    def items(self, key: str, *, required: bool = True) -> list[Any]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.bad(key, f"is not a list: {_show(value)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.items(key, required=False)
        if not all(isinstance(value, str) for value in values):
            raise self.bad(key, f"is not a list of strings: {_show(values)}")
        return tuple(values)


_FLAGS = {"true": True, "y": True, "yes": True, "1": True, "false": False, "n": False, "no": False, "0": False}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
