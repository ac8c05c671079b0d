"""Travel profiles: which ways a kind of unit may use, in which direction, and how fast.

A profile is data plus two pure functions of a way's OSM tags, so the graph builder, the tests and a
reader of the table all see the same rules. Speeds are typical driving speeds in town (signals, traffic),
not limits; a posted ``maxspeed`` caps them. Emergency vehicles with lights and siren go faster and may
exceed the posted limit a little, but they keep to one-way streets here: a router that sent every
patrol car against the traffic would not be trusted by the crews.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

_CAR_KMH = MappingProxyType({
    "motorway": 90.0, "motorway_link": 50.0, "trunk": 70.0, "trunk_link": 45.0,
    "primary": 50.0, "primary_link": 40.0, "secondary": 45.0, "secondary_link": 35.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "road": 25.0,
})  # fmt: skip

_FOOT_KMH = MappingProxyType({
    "footway": 5.0, "pedestrian": 5.0, "path": 5.0, "steps": 3.0, "cycleway": 5.0, "track": 5.0,
    "living_street": 5.0, "residential": 5.0, "service": 5.0, "unclassified": 5.0, "road": 5.0,
    "tertiary": 5.0, "tertiary_link": 5.0, "secondary": 5.0, "secondary_link": 5.0,
    "primary": 5.0, "primary_link": 5.0, "trunk": 5.0, "trunk_link": 5.0,
})  # fmt: skip

_YES = frozenset({"yes", "true", "1"})
_CLOSED = frozenset({"no", "private"})
_MAXSPEED = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*\Z")


@dataclass(frozen=True, slots=True)
class Profile:
    """How one family of units moves on the network."""

    name: str
    speeds_kmh: Mapping[str, float]  # by highway class; a class not listed is not used at all
    boost: float = 1.0  # times the class speed (lights and siren)
    maxspeed_factor: float | None = 1.0  # cap at this times a posted maxspeed; None: ignore maxspeed
    oneway: bool = True  # keep to one-way streets
    vehicle: bool = True  # motor vehicle access tags apply (foot: the foot tag instead)
    access_kmh: float = 15.0  # from a point off the network to its nearest road node
    # travel times scale with the unit kind's own speed (walkers, cyclists), see ``kind_factor``
    scales_with_kind: bool = False
    base_kmh: float = 5.0

    def kind_factor(self, kind_speed_kmh: float) -> float:
        """Multiplier of this profile's times for a unit of the given typical speed."""
        if not self.scales_with_kind or not (math.isfinite(kind_speed_kmh) and kind_speed_kmh > 0):
            return 1.0
        return self.base_kmh / kind_speed_kmh


PROFILES: Mapping[str, Profile] = MappingProxyType({
    "car": Profile("car", _CAR_KMH),
    "emergency": Profile("emergency", _CAR_KMH, boost=1.25, maxspeed_factor=1.3),
    "motorcycle": Profile("motorcycle", _CAR_KMH, boost=1.1, maxspeed_factor=1.1),
    "foot": Profile("foot", _FOOT_KMH, maxspeed_factor=None, oneway=False, vehicle=False, access_kmh=5.0,
                    scales_with_kind=True),
})  # fmt: skip

DEFAULT_PROFILE = "car"


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """A posted ``maxspeed`` in km/h ("50", "30 mph"); None for none, "walk", zones and nonsense."""
    if not value:
        return None
    m = _MAXSPEED.match(value)
    if m is None:
        return None
    speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
    return speed if 1.0 <= speed <= 200.0 else None


def speed_kmh(profile: Profile, tags: Mapping[str, str]) -> float | None:
    """How fast this profile moves along a way with these tags; None when it may not use the way."""
    highway = tags.get("highway")
    if highway is None or tags.get("area") in _YES:
        return None
    base = profile.speeds_kmh.get(highway)
    if base is None or not _allowed(profile, tags):
        return None
    speed = base * profile.boost
    posted = parse_maxspeed_kmh(tags.get("maxspeed"))
    if posted is not None and profile.maxspeed_factor is not None:
        speed = min(speed, posted * profile.maxspeed_factor)
    return speed


def directions(profile: Profile, tags: Mapping[str, str]) -> tuple[bool, bool]:
    """(along the way's node order, against it) for a way the profile may use."""
    if not profile.oneway:
        value = tags.get("oneway:foot")
        return (True, value not in _YES) if value != "-1" else (False, True)
    value = tags.get("oneway")
    if value in _YES:
        return True, False
    if value == "-1":
        return False, True
    implied = tags.get("junction") in {"roundabout", "circular"} or tags.get("highway") == "motorway"
    return (True, not implied) if value != "no" else (True, True)


def _allowed(profile: Profile, tags: Mapping[str, str]) -> bool:
    if profile.vehicle:
        if profile.name == "emergency" and tags.get("emergency") in {"yes", "designated"}:
            return True
        keys = ("access", "vehicle", "motor_vehicle", "motorcar")
        if profile.name == "motorcycle":
            keys = ("access", "vehicle", "motor_vehicle", "motorcycle")
        verdict = True
        for key in keys:  # the most specific tag present decides
            value = tags.get(key)
            if value is not None:
                verdict = value not in _CLOSED
        return verdict
    value = tags.get("foot", tags.get("access"))
    return value not in _CLOSED
