"""Off-the-shelf phone tracker apps (the OsmAnd/Traccar client HTTP protocol) as position sources.

The app is set up with the center's URL and a device identifier; that identifier is a random token an
admin issues per unit, so the app needs no other credentials. Only the token's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from datetime import datetime

from core.bounds import MAX_LAT, MAX_LON
from core.errors import Invalid
from units.live import Fix

KNOT_MPS = 0.514444  # the protocol gives speed in knots


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _number(params: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"{name} is not a number", field=name) from None
    if not low <= value <= high:
        raise Invalid(f"{name} is out of range {low}..{high}", field=name)
    return value


def _timestamp(raw: str | None) -> float:
    """Seconds or milliseconds since the epoch, or an ISO 8601 time; the receipt time when absent."""
    if not raw:
        return time.time()
    try:
        value = float(raw)
    except ValueError:
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise Invalid("timestamp is neither epoch seconds nor ISO 8601", field="timestamp") from None
    return value / 1000 if value > 1e11 else value


def parse_fix(unit_id: int, params: Mapping[str, str]) -> Fix:
    """One position report in the protocol's query parameters."""
    lat = _number(params, "lat", -MAX_LAT, MAX_LAT)  # what Redis GEO can hold
    lon = _number(params, "lon", -MAX_LON, MAX_LON)
    if lat is None or lon is None:
        raise Invalid("lat and lon are required", field="lat" if lat is None else "lon")
    speed_knots = _number(params, "speed", 0, 400)
    return Fix(
        unit_id, lat, lon, _timestamp(params.get("timestamp")),
        accuracy_m=_number(params, "accuracy", 0, 100_000),
        speed_mps=None if speed_knots is None else speed_knots * KNOT_MPS,
        heading=_number(params, "bearing", 0, 360),
    )  # fmt: skip
