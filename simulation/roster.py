"""The demo city's units: about 200, of every kind in ``units/kinds.toml`` and all three force tiers.

Each subdistrict has its own police station with patrol cars, foot and motorcycle patrols, auxiliary
police and a joint-defence team, and its own grid workers, security guards and a community cadre;
district-wide forces (traffic police, rapid response, fire, ambulance, city management, militia) work
from their stations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulation.city import City, Site
from simulation.geo import Point, scatter


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """A unit to register, where it is based and where it patrols (radius 0: it waits at its base)."""

    callsign: str
    kind: str
    zone: str | None
    base: Point
    patrol_centre: Point
    patrol_m: float = 0.0
    tier: int | None = None  # None: the kind's default tier
    capabilities: tuple[str, ...] = ()
    crew: int = 1

    def body(self) -> dict[str, object]:
        """The registration body for ``POST /api/v1/units``."""
        return {"callsign": self.callsign, "kind": self.kind, "tier": self.tier,
                "capabilities": list(self.capabilities), "home_zone": self.zone, "crew": self.crew,
                "status": "available"}  # fmt: skip


# per subdistrict: kind, how many, patrol radius (m), crew, callsign letter
_PER_TOWN = (
    ("patrol_car", 3, 700, 2, "P"),
    ("foot_patrol", 2, 250, 2, "F"),
    ("motorcycle_patrol", 1, 800, 1, "M"),
    ("auxiliary_police", 2, 400, 1, "A"),
    ("joint_defence_team", 1, 350, 4, "J"),
    ("security_guard", 2, 120, 1, "S"),
    ("community_cadre", 1, 150, 1, "C"),
)
# district-wide: kind, how many, station codes (round robin), patrol radius, crew, callsign, capabilities
_DISTRICT = (
    ("rapid_response_team", 4, ("special-police",), 1500, 6, "TJ", ("armed", "negotiation")),
    ("traffic_police", 10, ("traffic-north", "traffic-south"), 1200, 1, "JJ", ()),
    ("fire_engine", 6, ("fire-north", "fire-east", "fire-south"), 0, 6, "XF", ("water", "foam")),
    ("ladder_truck", 2, ("fire-north", "fire-south"), 0, 4, "DG", ("aerial_32m",)),
    ("rescue_truck", 2, ("fire-east", "fire-south"), 0, 5, "QX", ("extrication", "rope")),
    ("hazmat_unit", 1, ("fire-north",), 0, 5, "HZ", ("hazmat",)),
    ("ambulance", 12, ("ems-north", "ems-east", "ems-south"), 0, 3, "JH", ("als",)),
    ("city_management", 6, ("city-management",), 1500, 2, "CG", ()),
    ("militia_squad", 3, ("militia",), 0, 8, "MB", ()),
)
# a few foot patrols and auxiliary police stand at the busiest places
_EXTRA_FOOT = (("南京路步行街", "nanjingdonglu"), ("外滩", "waitan"))


def demo_roster(city: City, seed: int = 8) -> list[UnitSpec]:
    """The demo city's units, the same on every start (callsigns are their identity)."""
    rng = random.Random(seed)
    units: list[UnitSpec] = []
    for n, town in enumerate(city.towns, start=1):
        station = city.stations[f"ps-{town.code}"]
        centre = (town.lat, town.lon)
        for kind, count, radius, crew, letter in _PER_TOWN:
            for i in range(1, count + 1):
                patrol = scatter(rng, *centre, 350) if radius < 400 else centre
                caps: tuple[str, ...] = ("armed",) if kind == "patrol_car" else ()
                units.append(UnitSpec(f"HP-{letter}{n:02d}{i}", kind, town.code, station.point, patrol,
                                      radius, capabilities=caps, crew=crew))  # fmt: skip
        for i, community in enumerate(town.communities, start=1):  # one grid worker per community
            home = (community.lat, community.lon)
            units.append(UnitSpec(f"HP-G{n:02d}{i}", "grid_worker", town.code, home, home, 220))
    for kind, count, stations, radius, crew, letter, caps in _DISTRICT:
        for i in range(1, count + 1):
            site: Site = city.stations[stations[(i - 1) % len(stations)]]
            centre = scatter(rng, *site.point, 600) if radius else site.point
            units.append(UnitSpec(f"HP-{letter}{i:02d}", kind, city.town_at(*site.point).code, site.point,
                                  centre, radius, capabilities=caps, crew=crew))  # fmt: skip
    for i, (spot_name, zone) in enumerate(_EXTRA_FOOT, start=1):
        spot = next(h for h in city.hotspots if h.name == spot_name)
        base = (spot.lat, spot.lon)
        units.append(UnitSpec(f"HP-FX{i}", "foot_patrol", zone, base, base, 200, crew=2))
        units.append(UnitSpec(f"HP-AX{i}", "auxiliary_police", zone, base, base, 250))
    return units
