"""Typed reads from documented JSON bodies.

A body that is JSON but not of the documented shape (a required field
missing, a price that is not a number) is a `PermanentSourceError` naming the
record and the field: asking again would get the same body. Optional fields
that are absent, or `null`, read as None.

What parses also stores: text holds no NUL and no unpaired surrogate (which
PostgreSQL cannot hold), integers fit 64 bits, amounts are non-negative and fit
a price column, ids and codes are short printable ASCII. A record that broke
those rules would be refused by the database on every retry instead.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pipeline.sources.errors import PermanentSourceError

MAX_INTEGER = 2**63 - 1  # a bigint; no documented field is larger
MAX_AMOUNT = Decimal(10) ** 9  # prices are numeric(12,2); no minifigure costs a billion
AMOUNT_PLACES = Decimal("0.0001")  # BrickLink's precision; more is rounded away
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?")
_CODE = re.compile(r"[!-~]+")  # printable ASCII without spaces: ids, tokens, codes
_CURRENCY = re.compile(r"[A-Z]{3}")
T = TypeVar("T")


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
        return _present(self.opt_string(key, required=True))

    def opt_string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.bad(key, f"is not a string: {_show(value)}")
        return self._text(key, str(value))

    def code(self, key: str, max_length: int | None = None) -> str:
        return _present(self.opt_code(key, max_length, required=True))

    def opt_code(self, key: str, max_length: int | None = None, *, required: bool = False) -> str | None:
        """An id, token or code: printable ASCII without spaces, at most `max_length` characters."""
        value = self.opt_string(key, required=required)
        if value is None:
            return None
        value = value.strip()
        if not _CODE.fullmatch(value) or max_length is not None and len(value) > max_length:
            limit = f" of at most {max_length} characters" if max_length is not None else ""
            raise self.bad(key, f"is not an id{limit} (printable ASCII, no spaces): {_show(value)}")
        return value

    def currency(self, key: str) -> str:
        return _present(self.opt_currency(key, required=True))

    def opt_currency(self, key: str, *, required: bool = False) -> str | None:
        value = self.opt_string(key, required=required)
        if value is not None and not _CURRENCY.fullmatch(value):
            raise self.bad(key, f"is not an ISO 4217 currency code: {_show(value)}")
        return value

    def integer(self, key: str, *, low: int = -MAX_INTEGER, high: int = MAX_INTEGER) -> int:
        return _present(self.opt_integer(key, required=True, low=low, high=high))

    def opt_integer(self, key: str, *, required: bool = False, low: int = -MAX_INTEGER,
                    high: int = MAX_INTEGER) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            value = int(value)  # Brickset's getYears sends years as strings
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.bad(key, f"is not an integer: {_show(value)}")
        if not low <= value <= high:
            raise self.bad(key, f"is out of range: {_show(value)} is not from {low} to {high}")
        return value

    def decimal(self, key: str) -> Decimal:
        return _present(self.opt_decimal(key, required=True))

    def opt_decimal(self, key: str, *, required: bool = False) -> Decimal | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.bad(key, f"is not a finite number: {_show(value)}")
        text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
        if not _NUMBER.fullmatch(text):  # ASCII digits only: Decimal would also take "1_000", "٣" and "NaN"
            raise self.bad(key, f"is not a number: {_show(value)}")
        return Decimal(text)

    def amount(self, key: str) -> Decimal:
        return _present(self.opt_amount(key, required=True))

    def opt_amount(self, key: str, *, required: bool = False) -> Decimal | None:
        """A price: from 0 to below MAX_AMOUNT, rounded to AMOUNT_PLACES when it has more places."""
        number = self.opt_decimal(key, required=required)
        if number is None:
            return None
        if not 0 <= number < MAX_AMOUNT:
            raise self.bad(key, f"is not an amount from 0 to below {MAX_AMOUNT:,}: {_show(number)}")
        exponent = number.as_tuple().exponent
        return number.quantize(AMOUNT_PLACES) if isinstance(exponent, int) and exponent < -4 else number

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
        return tuple(self._text(key, value) for value in values)

    def _text(self, key: str, value: str) -> str:
        if "\x00" in value or not _encodable(value):
            raise self.bad(key, f"is not text (a NUL or an unpaired surrogate): {_show(value)}")
        return value


_FLAGS = {"true": True, "y": True, "yes": True, "1": True, "false": False, "n": False, "no": False, "0": False}


def _present(value: T | None) -> T:
    assert value is not None  # the opt_ reader was told the field is required
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
