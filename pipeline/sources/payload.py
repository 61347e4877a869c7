"""Typed reads from documented JSON bodies: pydantic models, and `parse`, the one way in.

A body that is JSON but not of the documented shape (a required field
missing, a price that is not a number) is a `PermanentSourceError` naming the
record and the field: asking again would get the same body. Optional fields
that are absent, or `null`, read as None; a nested object that is absent or
`null` reads as empty, an absent or `null` list as no items. An empty string
is a string.

What parses also stores: text holds no NUL and no unpaired surrogate (which
PostgreSQL cannot hold), integers fit 64 bits, amounts are non-negative and fit
a price column, ids and codes are short printable ASCII. A record that broke
those rules would be refused by the database on every retry instead.

The field types below (`Text`, `Integer`, `Amount`, ...) are the readers; the
models of each API's replies are in `replies.py`. An error shows at most 80
characters of a value, and none of a secret's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from pipeline.sources.errors import PermanentSourceError

MAX_INTEGER = 2**63 - 1  # a bigint; no documented field is larger
MAX_AMOUNT = Decimal(10) ** 9  # prices are numeric(12,2); no minifigure costs a billion
AMOUNT_PLACES = Decimal("0.0001")  # BrickLink's precision; more is rounded away
MAX_PROBLEMS = 3  # named in one error; the rest are counted
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?")
_CODE = re.compile(r"[!-~]+")  # printable ASCII without spaces: ids, tokens, codes
_CURRENCY = re.compile(r"[A-Z]{3}")
_FLAGS = {"true": True, "y": True, "yes": True, "1": True, "false": False, "n": False, "no": False, "0": False}
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Wire(BaseModel):
    """One documented JSON object; fields the model does not name are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def parse(model: type[M], data: Any, *, service: str, endpoint: str, record: str) -> M:
    """`data` read as `model`, or a `PermanentSourceError` naming `record` and the fields at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PermanentSourceError(service, endpoint, _describe(exc, record)) from None


def named(what: str, obj: Any, *path: str, default: str | None = None) -> str:
    """`what` and the record's own id, e.g. "set 5", when `obj` has one at `path`; else `default` or `what`."""
    value = obj
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return f"{what} {_show(value)}"
    return default if default is not None else what


def _describe(exc: ValidationError, record: str) -> str:
    """What is wrong, by record and field: "set 5: field 'year' is not an integer: 'soon'"; the first few only."""
    problems = [_problem(error, record) for error in exc.errors(include_url=False)]
    shown: list[str] = []
    for where, what in problems[:MAX_PROBLEMS]:
        shown.append(what if shown and problems[len(shown) - 1][0] == where else f"{where}{what}")
    more = len(problems) - MAX_PROBLEMS
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _problem(error: Any, record: str) -> tuple[str, str]:
    """Where (the record, and the path to a nested object) and what is wrong there."""
    loc = tuple(error["loc"])
    if not loc:  # the record itself: not an object, or a rule across its fields
        if error["type"] == "payload":
            return f"{record}: ", str(error["msg"])
        return record, f" is not a JSON object: {_show(error.get('input'))}"
    where = record + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[:-1])
    last = loc[-1]
    if isinstance(last, int):
        return f"{where}[{last}]", f" {_phrase(error)}"
    return f"{where}: ", f"field {last!r} {_phrase(error)}"


def _phrase(error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "payload":
        return str(error["msg"])
    if kind == "missing" or value is None:
        return "is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"is not a JSON object: {_show(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"is not a list: {_show(value)}"
    return f"is not valid ({error['msg']})"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Refused(Exception):
    """A reader's refusal: what is wrong, and the value when it may be shown."""

    def __init__(self, problem: str, value: Any, tail: str = "") -> None:
        super().__init__(problem)
        self.problem, self.value, self.tail = problem, value, tail

    def message(self, secret: bool) -> str:
        return self.problem if secret else f"{self.problem}: {_show(self.value)}{self.tail}"


def _run(read: Callable[[Any], T], value: Any, secret: bool) -> T:
    try:
        return read(value)
    except Refused as refusal:
        raise PydanticCustomError("payload", "{problem}", {"problem": refusal.message(secret)}) from None


def required(read: Callable[[Any], T], *, secret: bool = False) -> PlainValidator:
    """A field `read` must accept; `null` is as missing as an absent field."""

    def check(value: Any) -> T:
        if value is None:
            raise PydanticCustomError("payload", "is missing")
        return _run(read, value, secret)

    return PlainValidator(check)


def optional(read: Callable[[Any], T], *, secret: bool = False) -> PlainValidator:
    """A field that may be absent or `null` (None); otherwise `read` must accept it."""
    return PlainValidator(lambda value: None if value is None else _run(read, value, secret))


# --- the readers ---------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A string, or an integer written as one; storable as PostgreSQL text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Refused("is not a string", value)
    found = str(value)
    if "\x00" in found or not _encodable(found):
        raise Refused("is not text (a NUL or an unpaired surrogate)", found)
    return found


def code(max_length: int | None = None) -> Callable[[Any], str]:
    """An id, token or code: printable ASCII without spaces, at most `max_length` characters."""

    def read(value: Any) -> str:
        found = text(value).strip()
        if not _CODE.fullmatch(found) or (max_length is not None and len(found) > max_length):
            limit = f" of at most {max_length} characters" if max_length is not None else ""
            raise Refused(f"is not an id{limit} (printable ASCII, no spaces)", found)
        return found

    return read


def currency(value: Any) -> str:
    found = text(value)
    if not _CURRENCY.fullmatch(found):
        raise Refused("is not an ISO 4217 currency code", found)
    return found


def one_of(*allowed: str) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        found = text(value)
        if found not in allowed:
            raise Refused(f"is not one of {', '.join(allowed)}", found)
        return found

    return read


def integer(low: int = -MAX_INTEGER, high: int = MAX_INTEGER) -> Callable[[Any], int]:
    """An integer from `low` to `high`; a string of digits counts (Brickset's getYears sends years so)."""

    def read(value: Any) -> int:
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refused("is not an integer", value)
        if not low <= value <= high:
            raise Refused("is out of range", value, f" is not from {low} to {high}")
        return value

    return read


def number(value: Any) -> Decimal:
    """A finite number in ASCII digits, exactly: Decimal alone would also take "1_000", "٣" and "NaN"."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused("is not a finite number", value)
    found = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    if not _NUMBER.fullmatch(found):
        raise Refused("is not a number", value)
    return Decimal(found)


def amount(value: Any) -> Decimal:
    """A price: from 0 to below MAX_AMOUNT, rounded to AMOUNT_PLACES when it has more places."""
    found = number(value)
    if not 0 <= found < MAX_AMOUNT:
        raise Refused(f"is not an amount from 0 to below {MAX_AMOUNT:,}", found)
    exponent = found.as_tuple().exponent
    return found.quantize(AMOUNT_PLACES) if isinstance(exponent, int) and exponent < -4 else found


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Refused("is not a boolean", value)


def moment(value: Any) -> datetime:
    """An ISO-8601 timestamp as an aware datetime; a naive one is taken as UTC."""
    found = text(value)
    try:
        when = datetime.fromisoformat(found.strip())
    except ValueError:
        raise Refused("is not an ISO-8601 timestamp", found) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def items(value: Any) -> tuple[Any, ...]:
    """A list of records, each read on its own (and named by its own id)."""
    if not isinstance(value, list):
        raise Refused("is not a list", value)
    return tuple(value)


def texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Refused("is not a list of strings", value)
    return tuple(text(item) for item in value)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _empty_if_null(value: Any) -> Any:
    return {} if value is None else value


def _no_items_if_null(value: Any) -> Any:
    return () if value is None else value


Text = Annotated[str, required(text)]
OptText = Annotated[str | None, optional(text)]
Currency = Annotated[str, required(currency)]
OptCurrency = Annotated[str | None, optional(currency)]
Integer = Annotated[int, required(integer())]
OptInteger = Annotated[int | None, optional(integer())]
Count = Annotated[int, required(integer(low=0))]
OptNumber = Annotated[Decimal | None, optional(number)]
Amount = Annotated[Decimal, required(amount)]
OptAmount = Annotated[Decimal | None, optional(amount)]
OptFlag = Annotated[bool | None, optional(flag)]
OptMoment = Annotated[datetime | None, optional(moment)]
Items = Annotated[tuple[Any, ...], required(items)]
OptItems = Annotated[tuple[Any, ...], PlainValidator(lambda value: () if value is None else _run(items, value, False))]
Texts = Annotated[tuple[str, ...], PlainValidator(lambda value: () if value is None else _run(texts, value, False))]
Nested = Annotated[T, BeforeValidator(_empty_if_null)]  # a nested object; absent or null reads as empty
Many = Annotated[tuple[T, ...], BeforeValidator(_no_items_if_null)]  # nested objects; absent or null: none
Later = Annotated[Any, BeforeValidator(_empty_if_null)]  # read later by its own model; absent or null: {}
