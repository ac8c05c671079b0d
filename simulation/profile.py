"""The demo city's calls and grid reports: how many by hour of day, which categories, and where.

A pure generator (a seeded random source in, call bodies out) so that it is tested on its own. The mix
is that of a central urban district: many thefts, frauds, disputes and requests for help, fewer urgent
calls; traffic at rush hours, night life after dark, grid reports in office hours; calls cluster at the
shopping streets, the Bund and the old residential quarters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from simulation.city import City, Hotspot
from simulation.geo import scatter

# relative call rate by local hour (1.0 at the busiest hours)
HOURLY = (0.55, 0.42, 0.32, 0.25, 0.2, 0.2, 0.3, 0.5, 0.8, 0.92, 1.0, 1.0,
          0.95, 0.9, 0.9, 0.95, 1.0, 1.0, 1.0, 0.95, 0.95, 0.9, 0.8, 0.68)  # fmt: skip

# (channel, category, share in 1,000 alerts)
MIX: Sequence[tuple[str, str, float]] = (
    # 110 police
    ("110", "theft", 80), ("110", "pickpocketing", 40), ("110", "fraud", 40), ("110", "telecom_fraud", 40),
    ("110", "assistance_request", 70), ("110", "noise_complaint", 40), ("110", "domestic_dispute", 30),
    ("110", "fight", 30), ("110", "assault", 20), ("110", "drunk_disorderly", 30),
    ("110", "suspicious_person", 30), ("110", "lost_property", 30), ("110", "missing_adult", 10),
    ("110", "missing_child", 5), ("110", "vandalism", 15), ("110", "trespass", 10),
    ("110", "robbery_reported", 7), ("110", "robbery_in_progress", 3), ("110", "burglary_in_progress", 4),
    ("110", "crowd_disturbance", 4), ("110", "gambling_drugs", 5), ("110", "armed_person", 1.5),
    ("110", "sexual_assault", 2), ("110", "suicide_attempt", 2), ("110", "kidnapping", 0.5),
    ("110", "gunshots", 0.2),
    # 120 medical
    ("120", "minor_illness", 40), ("120", "elderly_fall", 30), ("120", "breathing_difficulty", 15),
    ("120", "cardiac_arrest", 8), ("120", "stroke", 10), ("120", "unconscious_person", 12),
    ("120", "serious_injury", 10), ("120", "poisoning", 5), ("120", "childbirth", 5),
    # 122 traffic
    ("122", "collision_property", 60), ("122", "collision_injury", 15), ("122", "breakdown_obstruction", 25),
    ("122", "illegal_parking", 20), ("122", "road_hazard", 10), ("122", "signal_failure", 5),
    ("122", "drunk_driving", 3), ("122", "hit_and_run", 3), ("122", "pileup", 0.5),
    # 119 fire and rescue
    ("119", "outdoor_fire", 8), ("119", "building_fire", 4), ("119", "high_rise_fire", 0.5),
    ("119", "vehicle_fire", 3), ("119", "gas_leak", 4), ("119", "trapped_person", 10),
    ("119", "water_rescue", 1), ("119", "animal_nest_removal", 6), ("119", "flooding", 2),
    ("119", "hazmat", 0.3),
    # grid reports
    ("grid", "neighbour_dispute", 20), ("grid", "safety_hazard", 20), ("grid", "garbage_dumping", 20),
    ("grid", "illegal_vending", 15), ("grid", "public_facility_damage", 10),
    ("grid", "elderly_welfare_check", 10), ("grid", "road_pipe_damage", 8),
    ("grid", "illegal_construction", 5), ("grid", "environmental_pollution", 6),
    ("grid", "stray_animals", 5), ("grid", "rental_registration", 5), ("grid", "grid_suspicious", 4),
    ("grid", "grid_group_conflict", 2), ("grid", "grid_person_hurt", 1.5), ("grid", "grid_fire", 0.5),
    ("grid", "grid_violence", 0.5),
)  # fmt: skip

NIGHT_LIFE = frozenset({"drunk_disorderly", "fight", "assault", "noise_complaint", "drunk_driving"})
RUSH = frozenset({"collision_property", "collision_injury", "breakdown_obstruction", "pileup",
                  "illegal_parking", "hit_and_run"})  # fmt: skip
AT_HOTSPOT = 0.65  # share of calls of a hotspot's categories placed there while it is busy
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"


def mix_at(hour: int) -> list[tuple[str, str, float]]:
    """The category mix at a local hour: night life after dark, traffic at rush hours, grid reports
    while grid workers are on duty."""
    out = []
    for channel, category, share in MIX:
        if category in NIGHT_LIFE and (hour >= 21 or hour < 3):
            share *= 3
        if category in RUSH and hour in (7, 8, 9, 17, 18, 19):
            share *= 2
        if channel == "grid" and not 8 <= hour < 18:
            share *= 0.1
        out.append((channel, category, share))
    return out


def rate_per_s(calls_per_hour: float, hour: int) -> float:
    """Alerts per second at this local hour, ``calls_per_hour`` at the busiest hours."""
    return calls_per_hour * HOURLY[hour % 24] / 3600


@dataclass(frozen=True, slots=True)
class Call:
    """One simulated alert: where it goes (the path) and what it says (the body)."""

    path: str  # /api/v1/alerts or /api/v1/grid/events
    body: dict[str, object]
    grid_reporter: str | None = None  # the community area (TOWN/COMMUNITY) of a grid report's reporter


class CallMaker:
    """Makes the demo's calls: category by the hour's mix, place by hotspot or anywhere in the city."""

    def __init__(self, city: City, rng: random.Random) -> None:
        self.city = city
        self.rng = rng
        self.count = 0

    def next_gap_s(self, calls_per_hour: float, hour: int) -> float:
        """Seconds to the next alert (a Poisson stream at the hour's rate)."""
        rate = rate_per_s(calls_per_hour, hour)
        return math.inf if rate <= 0 else self.rng.expovariate(rate)

    def make(self, hour: int) -> Call:
        self.count += 1
        mix = mix_at(hour)
        channel, category, _ = self.rng.choices(mix, weights=[m[2] for m in mix])[0]
        lat, lon, address = self._place(category, hour)
        cell = self.city.cell_at(lat, lon)
        town = self.city.town_at(lat, lon)
        location = {"lat": round(lat, 6), "lon": round(lon, 6), "address": address}
        phone = f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"
        name = f"{self.rng.choice(_SURNAMES)}{self.rng.choice(['先生', '女士'])}"
        if channel == "grid":
            body: dict[str, object] = {
                "category": category, "location": location, "grid_cell": cell.name,
                "description": f"网格员上报: {address}", "reporter_phone": phone, "reporter_name": name,
                "report_id": f"demo-grid-{self.rng.randrange(16**10):010x}",
            }  # fmt: skip
            area = "/".join(cell.name.split("/")[:2])
            return Call("/api/v1/grid/events", body, area)
        body = {
            "channel": channel, "category": category, "location": location, "zone": town.code,
            "description": f"{town.name_zh} {address}", "caller_phone": phone, "caller_name": name,
            "call_id": f"demo-{channel}-{self.rng.randrange(16**10):010x}",
        }  # fmt: skip
        return Call("/api/v1/alerts", body)

    def _place(self, category: str, hour: int) -> tuple[float, float, str]:
        spots: list[Hotspot] = [h for h in self.city.hotspots if category in h.categories and h.active(hour)]
        if spots and self.rng.random() < AT_HOTSPOT:
            spot = self.rng.choices(spots, weights=[h.weight for h in spots])[0]
            lat, lon = scatter(self.rng, spot.lat, spot.lon, spot.radius_m)
            return lat, lon, f"{spot.name}附近"
        cell = self.rng.choice(self.city.cells)
        lat, lon = scatter(self.rng, cell.lat, cell.lon, 160)
        town = self.city.town_at(lat, lon)
        return lat, lon, f"{town.name_zh} 网格 {cell.name.rsplit('/', 1)[-1]} 号附近"
