"""Unit kinds (patrol car, fire engine, grid worker, ...) as data from ``kinds.toml``.

The file is read once at start-up and checked strictly: a typo in it would otherwise surface as a unit
that is never recommended or a travel time that is wildly wrong, long after deployment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from core.datafile import read_toml
from roads.profiles import DEFAULT_PROFILE, PROFILES

AGENCIES = frozenset({"police", "fire", "medical", "traffic", "community"})
TIERS = (1, 2, 3)

_DEFAULT_PATH = Path(__file__).with_name("kinds.toml")
_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")
_FIELDS = frozenset(
    {"name_zh", "name_en", "agency", "default_tier", "speed_kmh", "max_speed_kmh", "stale_after_s"}
)
_OPTIONAL = frozenset({"road_profile"})


@dataclass(frozen=True, slots=True)
class UnitKind:
    """One kind of unit that can be sent, with what the travel-time and position models need."""

    code: str
    name_zh: str
    name_en: str
    agency: str  # police, fire, medical, traffic, community
    default_tier: int  # 1, 2 or 3
    speed_kmh: float  # typical urban travel speed, for the travel-time model
    max_speed_kmh: float  # faster than this between two fixes is an implausible jump
    stale_after_s: int  # no fix for this long: the position is stale
    road_profile: str = DEFAULT_PROFILE  # how it moves on roads (roads/profiles.py)


class KindsError(ValueError):
    """A problem in the unit-kinds file, naming the entry and the field so it can be fixed at once."""

    def __init__(self, entry: str, field: str, reason: str, source: str = "kinds.toml") -> None:
        super().__init__(f"{source}: entry {entry!r}, field {field!r}: {reason}")
        self.entry = entry
        self.field = field
        self.reason = reason
        self.source = source


def load_kinds(path: Path | None = None) -> Mapping[str, UnitKind]:
    """Read and validate the unit kinds; the first problem raises :class:`KindsError`.

    Without ``path`` the ``kinds.toml`` shipped beside this module is read.
    """
    path = _DEFAULT_PATH if path is None else path
    source = path.name

    def fail(entry: str, field: str, reason: str) -> NoReturn:
        raise KindsError(entry, field, reason, source)

    doc = read_toml(path, fail)

    extra = sorted(set(doc) - {"kinds"})
    if extra:
        fail("(top level)", extra[0], "unknown key; kinds go under [kinds.<code>]")
    table = doc.get("kinds")
    if not isinstance(table, dict) or not table:
        fail("(top level)", "kinds", "must be a non-empty table of [kinds.<code>] entries")

    kinds: dict[str, UnitKind] = {}
    for code, raw in table.items():
        if not _CODE.match(code):
            fail(code, "(code)", "must be lower-case letters, digits and underscores, starting with a letter")
        if not isinstance(raw, dict):
            fail(code, "(entry)", f"must be a table, got {_type_name(raw)}")
        kinds[code] = _parse_kind(code, raw, source)
    return MappingProxyType(kinds)


def _parse_kind(code: str, raw: dict[str, Any], source: str) -> UnitKind:
    def fail(entry: str, field: str, reason: str) -> NoReturn:
        raise KindsError(entry, field, reason, source)

    unknown = sorted(set(raw) - _FIELDS - _OPTIONAL)
    if unknown:
        fail(code, unknown[0], f"unknown key; allowed: {', '.join(sorted(_FIELDS | _OPTIONAL))}")
    missing = sorted(_FIELDS - set(raw))
    if missing:
        fail(code, missing[0], "is required")

    def text(field: str) -> str:
        value = raw[field]
        if not isinstance(value, str) or not value.strip():
            fail(code, field, f"must be a non-empty string, got {value!r}")
        return value

    def number(field: str) -> float:
        value = raw[field]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            fail(code, field, f"must be a number, got {value!r}")
        if value <= 0:
            fail(code, field, f"must be > 0, got {value!r}")
        return float(value)

    def integer(field: str, low: int, high: int | None = None) -> int:
        value = raw[field]
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        if isinstance(value, bool) or not isinstance(value, int):
            fail(code, field, f"must be an integer {bound}, got {value!r}")
        if value < low or (high is not None and value > high):
            fail(code, field, f"must be an integer {bound}, got {value!r}")
        return value

    agency = text("agency")
    if agency not in AGENCIES:
        fail(code, "agency", f"must be one of {', '.join(sorted(AGENCIES))}, got {agency!r}")
    speed = number("speed_kmh")
    max_speed = number("max_speed_kmh")
    if max_speed < speed:
        fail(code, "max_speed_kmh", f"must be >= speed_kmh ({speed:g}), got {max_speed:g}")
    profile = raw.get("road_profile", DEFAULT_PROFILE)
    if profile not in PROFILES:
        fail(code, "road_profile", f"must be one of {', '.join(sorted(PROFILES))}, got {profile!r}")
    return UnitKind(
        code=code,
        name_zh=text("name_zh"),
        name_en=text("name_en"),
        agency=agency,
        default_tier=integer("default_tier", TIERS[0], TIERS[-1]),
        speed_kmh=speed,
        max_speed_kmh=max_speed,
        stale_after_s=integer("stale_after_s", 1),
        road_profile=profile,
    )


def _type_name(value: object) -> str:
    return type(value).__name__
