"""Bounded field types for everything a client may send: ids, text, times, coordinates.

One place says what the center can store and compute with, so that no route accepts a value that
PostgreSQL, Redis or the datum conversions cannot hold (which would answer 500, or be accepted and then
stuck). Each type is a pydantic ``Annotated`` type, usable in body models and in path and query
parameters alike; the bounds also show in the OpenAPI schema.

- ids: 1 .. 2^63-1 (PostgreSQL ``bigint``); in a path, plain decimal digits only (``1.0``, `` 1``,
  ``+1`` and ``1e0`` are refused, not read as 1); in a body, a JSON integer (not a string or a float).
- text: no NUL (PostgreSQL text cannot hold it), no lone surrogate (not encodable as UTF-8), and no
  other C0 control character except, in free text, tab, line feed and carriage return.
- times: ISO 8601 strings with a UTC offset (``Z`` or ``+08:00``), between 2000-01-01 and 2100-01-01
  UTC; numbers (epoch seconds) are refused, except for a fix time (trackers send epoch seconds).
- coordinates: finite, latitude within Redis GEO's +-85.05112878 degrees, longitude within +-180.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    Strict,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

MAX_ID = 2**63 - 1  # PostgreSQL bigint
# Redis GEO indexes latitudes within the Web Mercator square only
MAX_LAT = 85.05112878
MAX_LON = 180.0
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# what free text may not hold: C0 controls except tab, LF and CR; DEL; lone surrogates
_BAD_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# what a one-line value (a name, a code, an id from another system) may not hold: any control at all
_BAD_IN_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# the same, for the OpenAPI schema (so that generators and clients know)
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
LINE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def clean_text(value: str) -> str:
    """Free text: refuses NUL, lone surrogates and control characters other than tab and newlines."""
    bad = _BAD_IN_TEXT.search(value)
    if bad:
        raise ValueError(f"must not contain the control character {_describe(bad.group())}")
    return value


def clean_line(value: str) -> str:
    """A one-line value: refuses every control character (NUL, tab, newlines and the rest)."""
    bad = _BAD_IN_LINE.search(value)
    if bad:
        raise ValueError(f"must not contain the control character {_describe(bad.group())}")
    return value


@dataclass(frozen=True, slots=True)
class _Clean:
    """Annotated metadata: the string checked by ``check`` after its type and length, and the rule shown
    in the JSON schema as a pattern."""

    check: Callable[[str], str]
    pattern: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._maybe, handler(source))

    def _maybe(self, value: Any) -> Any:
        return self.check(value) if isinstance(value, str) else value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = self.pattern
        return out


# free text (descriptions, notes, addresses, reasons): Annotated[str, Field(max_length=500), TEXT]
TEXT = _Clean(clean_text, TEXT_PATTERN)
# a one-line value (names, codes, ids of other systems): Annotated[str, Field(max_length=64), LINE]
LINE = _Clean(clean_line, LINE_PATTERN)


def _digits_only(value: object) -> object:
    """A path id as sent: plain ASCII decimal digits, nothing else."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be plain decimal digits")
    return value


# an id in a path: digits only, 1 .. 2^63-1
PathId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_digits_only)]
# an id in a JSON body: an integer, 1 .. 2^63-1
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]

Latitude = Annotated[float, Field(ge=-MAX_LAT, le=MAX_LAT, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-MAX_LON, le=MAX_LON, allow_inf_nan=False)]


# a number that is neither NaN nor infinite (JSON parsers here accept both)
Finite = Annotated[float, Field(allow_inf_nan=False)]


def in_geo_range(lat: float, lon: float) -> bool:
    """Whether Redis GEO can hold the point (and so the center can dispatch to it)."""
    return -MAX_LAT <= lat <= MAX_LAT and -MAX_LON <= lon <= MAX_LON


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: object) -> object:
    """A time as an ISO 8601 string (or a datetime in code), never a number of seconds."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date and time with an offset, e.g. 2026-11-21T09:30:00+08:00")
    return value


def _in_window(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a UTC offset (Z or +08:00)")
    # check the year first: converting a time near year 1 or 9999 to UTC overflows
    if not EARLIEST.year - 1 <= value.year <= LATEST.year or not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()} (UTC)")
    return value


# a time: ISO 8601 with an offset, 2000-01-01 .. 2100-01-01 UTC
Instant = Annotated[
    datetime,
    BeforeValidator(_iso_only),
    AfterValidator(_in_window),
    Field(description="ISO 8601 with a UTC offset, between 2000-01-01 and 2100-01-01"),
]


def fix_time(value: object) -> float:
    """A fix time as epoch seconds, from what a phone or tracker sends: an ISO 8601 time with an offset
    (the format of every answer of the center) or epoch seconds (what trackers send). Any real time is
    read: how far from the center's clock a fix may be is the position desk's verdict, per fix, so that
    one bad clock in a batch refuses that fix only."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(str(_iso_only(value)))
        except ValueError:
            when = None
        if when is None or when.utcoffset() is None:
            raise ValueError(
                "must be an ISO 8601 time with an offset (2026-11-21T09:30:00+08:00) or epoch seconds"
            )
        value = when.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be an ISO 8601 time with an offset or epoch seconds")
    if value <= 0:
        raise ValueError("must be after 1970-01-01")
    return float(value)


# a fix time: ISO 8601 with an offset, or epoch seconds; read as epoch seconds
FixTime = Annotated[
    float,
    PlainValidator(fix_time),
    WithJsonSchema({
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number", "exclusiveMinimum": 0}],
        "description": "the fix time: ISO 8601 with an offset, or epoch seconds; default: now",
    }),
]  # fmt: skip
