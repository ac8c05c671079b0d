"""Unit kinds (patrol car, fire engine, grid worker, ...) as data from ``kinds.toml``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UnitKind:
    code: str
    name_zh: str
    name_en: str
    agency: str  # police, fire, medical, traffic, community
    default_tier: int  # 1, 2 or 3
    speed_kmh: float  # typical urban travel speed, for the travel-time model
    max_speed_kmh: float  # faster than this between two fixes is an implausible jump
    stale_after_s: int  # no fix for this long: the position is stale
