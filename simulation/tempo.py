"""How long simulated units take: to read an offer, to get moving, on scene, at the hospital.

Durations on scene are those of a real city (minutes to hours). The demo shrinks them (``scene_scale``)
so that a newcomer sees units come and go within a few minutes; driving is never shrunk: units drive at
their kind's typical speed. A replay keeps real durations and runs its clock faster instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_FIRE = frozenset({"fire_engine", "ladder_truck", "rescue_truck", "hazmat_unit"})
_POLICE = frozenset({"patrol_car", "foot_patrol", "motorcycle_patrol", "rapid_response_team",
                     "auxiliary_police", "joint_defence_team"})  # fmt: skip
_BIG_FIRES = frozenset({"building_fire", "high_rise_fire", "hazmat", "wildland_fire"})
_COLLISIONS = frozenset({"collision_injury", "collision_property", "pileup", "hit_and_run"})
_URGENT_POLICE = frozenset(
    {
        "robbery_in_progress",
        "burglary_in_progress",
        "armed_person",
        "gunshots",
        "kidnapping",
        "sexual_assault",
        "missing_child",
        "crowd_disturbance",
    }
)
# seconds from accepting to moving, by kind of force: crews at a station dress and board first
TURNOUT_S = {"fire": 75.0, "medical": 60.0, "police": 30.0, "traffic": 30.0, "community": 45.0}


def scene_minutes(kind: str, category: str) -> tuple[float, float]:
    """The range of minutes a unit of ``kind`` spends on a scene of ``category`` (real time)."""
    if kind == "ambulance":
        return 10, 20  # treatment on scene; transport and handover come after
    if kind in _FIRE:
        if category in _BIG_FIRES:
            return 45, 90
        return (30, 60) if category in ("gas_leak", "water_rescue", "vehicle_fire") else (15, 30)
    if kind == "traffic_police":
        if category in _COLLISIONS:
            return 20, 40
        return (5, 15) if category == "illegal_parking" else (15, 30)
    if kind in _POLICE:
        return (30, 60) if category in _URGENT_POLICE else (15, 35)
    return 10, 30  # grid workers, guards, cadres, city management, militia


@dataclass(frozen=True, slots=True)
class Tempo:
    think_s: tuple[float, float]  # reading an offer before answering it
    decline_share: float  # offers declined (never an urgent one)
    turnout_scale: float  # times TURNOUT_S
    scene_scale: float  # times scene_minutes
    transport_share: float  # ambulance patients taken to hospital
    handover_min: tuple[float, float]  # at the hospital
    report_moving_s: float  # a position fix this often while moving (simulated seconds)
    report_still_s: float | None  # and while standing still (None: only when something changes)
    patrol: bool  # units with a patrol area wander in it while free

    def think(self, rng: random.Random) -> float:
        return rng.uniform(*self.think_s)

    def declines(self, rng: random.Random, priority: int) -> bool:
        return priority > 1 and rng.random() < self.decline_share

    def turnout(self, agency: str) -> float:
        return TURNOUT_S.get(agency, 45.0) * self.turnout_scale

    def on_scene(self, rng: random.Random, kind: str, category: str) -> float:
        low, high = scene_minutes(kind, category)
        return rng.uniform(low, high) * 60 * self.scene_scale

    def transports(self, rng: random.Random) -> bool:
        return rng.random() < self.transport_share

    def handover(self, rng: random.Random) -> float:
        return rng.uniform(*self.handover_min) * 60 * self.scene_scale


# the demo: people read offers for a few seconds and sometimes say no; scenes are shortened tenfold
DEMO = Tempo(think_s=(2.0, 7.0), decline_share=0.05, turnout_scale=0.1, scene_scale=0.1, transport_share=0.7,
             handover_min=(10, 15), report_moving_s=3.0, report_still_s=20.0, patrol=True)  # fmt: skip
# a replay: real durations, every offer accepted at once (the policies, not the crews, are compared)
REPLAY = Tempo(think_s=(0.0, 0.0), decline_share=0.0, turnout_scale=1.0, scene_scale=1.0, transport_share=0.7,
               handover_min=(10, 15), report_moving_s=60.0, report_still_s=None, patrol=False)  # fmt: skip
