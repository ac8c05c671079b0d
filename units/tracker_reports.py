"""What tracker apps send, read into the OsmAnd protocol's fields, whatever form it came in.

OsmAnd and older Traccar Client versions put the fields in the query string (also on POST); some
trackers send the same fields as a form-encoded body; today's Traccar Client POSTs a JSON body with
``device_id`` and a ``location`` object (``coords.latitude`` ..., speed in m/s); others send
``location=lat,lon`` or ``heading`` for ``bearing``. Every form becomes one flat mapping of the query
string's names (``id``, ``lat``, ``lon``, ``timestamp``, ``speed`` in knots, ``bearing``,
``accuracy``), which ``units.trackers.parse_fix`` then checks. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from core.errors import Invalid

MAX_FIELDS = 64  # a tracker sends a dozen; more is junk
MAX_VALUE_CHARS = 200  # the longest honest value is a device id or an ISO time
KNOTS_PER_MPS = 1 / 0.514444
# the JSON body's names for the query string's ones (speed is converted from m/s)
JSON_COORDS = {"latitude": "lat", "longitude": "lon", "accuracy": "accuracy", "heading": "bearing",
               "altitude": "altitude"}  # fmt: skip


def report_fields(query: Mapping[str, str], content_type: str, body: bytes) -> dict[str, str]:
    """The report's fields: the query string's, then the body's (form or JSON) over them."""
    fields = dict(query)
    media = content_type.split(";", 1)[0].strip().lower()
    if body.strip():
        if media == "application/json" or (not media and body.lstrip()[:1] == b"{"):
            fields.update(_json_fields(body))
        elif media in ("application/x-www-form-urlencoded", "text/plain", ""):
            fields.update(_form_fields(body))
    if "deviceid" in fields and not fields.get("id"):
        fields["id"] = fields["deviceid"]
    if "heading" in fields and not fields.get("bearing"):
        fields["bearing"] = fields["heading"]
    if "location" in fields and not (fields.get("lat") or fields.get("lon")):
        lat, sep, lon = fields["location"].partition(",")
        if not sep:
            raise Invalid("location is not 'lat,lon'", field="location")
        fields["lat"], fields["lon"] = lat.strip(), lon.strip()
    if len(fields) > MAX_FIELDS:
        raise Invalid(f"more than {MAX_FIELDS} fields", field="body")
    for name, value in fields.items():
        if len(name) > MAX_VALUE_CHARS or len(value) > MAX_VALUE_CHARS:
            raise Invalid(f"a field is longer than {MAX_VALUE_CHARS} characters", field=name[:40])
    return fields


def has_position(fields: Mapping[str, str]) -> bool:
    """Whether the report names a place at all (a cell- or wifi-only report does not)."""
    return bool(fields.get("lat") or fields.get("lon"))


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS, strict_parsing=True
        )
    except (UnicodeDecodeError, ValueError):
        raise Invalid("the body is neither form fields nor JSON", field="body") from None
    return dict(pairs)


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Invalid("the body is not JSON", field="body") from None
    if not isinstance(doc, dict):
        raise Invalid("the body is not a JSON object", field="body")
    out: dict[str, str] = {}
    if (device := doc.get("device_id")) is not None:
        out["id"] = _text(device, "device_id")
    location = doc.get("location")
    if isinstance(location, list):  # a batch from the app's queue: the newest is the last
        location = location[-1] if location else None
    if location is None:
        return out
    if not isinstance(location, dict):
        raise Invalid("location is not an object", field="location")
    if (at := location.get("timestamp")) is not None:
        out["timestamp"] = _text(at, "timestamp")
    coords = location.get("coords")
    if coords is None:
        return out  # no position in it: a report of what came, no fix
    if not isinstance(coords, dict):
        raise Invalid("location.coords is not an object", field="coords")
    for name, field in JSON_COORDS.items():
        if coords.get(name) is not None:
            value = _number(coords[name], name)
            if name in ("latitude", "longitude", "altitude") or value >= 0:  # -1: the app does not know
                out[field] = repr(value)
    if coords.get("speed") is not None and (mps := _number(coords["speed"], "speed")) >= 0:
        out["speed"] = repr(mps * KNOTS_PER_MPS)
    return out


def _text(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Invalid(f"{name} is not a string or a number", field=name)
    return str(value)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{name} is not a number", field=name)
    return float(value)
