"""A generated history for the report tests: units, incidents with their canonical times, their offers
and the events the reports count, written straight into PostgreSQL (a week cannot be lived through in a
test), from a seeded generator so that every run has the same known answers. The tests compute what the
reports must say from these rows themselves."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS = 7
CATEGORIES = (
    "robbery_in_progress",
    "assault",
    "theft",
    "cardiac_arrest",
    "building_fire",
    "collision_injury",
)
ZONES = ("huangpu-1", "huangpu-2", None)
KINDS = {"robbery_in_progress": "patrol_car", "assault": "patrol_car", "theft": "foot_patrol",
         "cardiac_arrest": "ambulance", "building_fire": "fire_engine",
         "collision_injury": "traffic_police"}  # fmt: skip


@dataclass
class Offer:
    unit_id: int
    kind: str
    status: str
    offered: datetime
    accepted: datetime | None = None
    on_scene: datetime | None = None


@dataclass
class Incident:
    id: int
    category: str
    priority: int
    zone: str | None
    received: datetime
    dispatched: datetime | None
    acknowledged: datetime | None
    en_route: datetime | None
    on_scene: datetime | None
    went_pending: bool
    offers: list[Offer] = field(default_factory=list)

    def seconds(self, moment: datetime | None) -> float | None:
        return None if moment is None else (moment - self.received).total_seconds()


@dataclass
class History:
    incidents: list[Incident]
    merged_ids: list[int]
    unit_ids: dict[str, int]

    def since(self) -> datetime:
        return START

    def until(self) -> datetime:
        return START + timedelta(days=DAYS)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, the definition of PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def _unit(db: asyncpg.Connection, callsign: str, kind: str) -> int:
    unit_id: int = await db.fetchval(
        """insert into units (callsign, kind, agency, tier, status) values ($1, $2, 'police', 1, 'available')
           returning id""",
        callsign, kind,
    )  # fmt: skip
    return unit_id


async def generate(db: asyncpg.Connection, count: int = 240, seed: int = 22) -> History:
    rng = random.Random(seed)
    unit_ids = {kind: await _unit(db, f"H-{kind}", kind) for kind in sorted(set(KINDS.values()))}
    spare = await _unit(db, "H-spare", "patrol_car")
    made: list[Incident] = []
    for n in range(count):
        category = CATEGORIES[n % len(CATEGORIES)]
        priority = rng.choice((1, 2, 3)) if category != "theft" else 3
        received = START + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 3600))
        served = rng.random() > 0.1
        dispatch = rng.uniform(5, 240) if served else None
        ack = dispatch + rng.uniform(3, 90) if dispatch is not None else None
        arrive = ack + rng.uniform(60, 900) if ack is not None and rng.random() > 0.05 else None

        def at(s: float | None, base: datetime = received) -> datetime | None:
            return None if s is None else base + timedelta(seconds=round(s, 3))

        incident = Incident(0, category, priority, ZONES[n % 3], received, at(dispatch), at(ack), at(ack),
                            at(arrive), went_pending=not served or rng.random() < 0.05)  # fmt: skip
        incident.id = await db.fetchval(
            """insert into incidents (category, priority, status, lat, lon, zone, received_at, created_at,
                   dispatched_at, acknowledged_at, en_route_at, on_scene_at, closed_at)
               values ($1, $2, 'closed', 31.23, 121.47, $3, $4, $4, $5, $6, $7, $8,
                       $4::timestamptz + interval '2 hours')
               returning id""",
            category, priority, incident.zone, received, incident.dispatched, incident.acknowledged,
            incident.en_route, incident.on_scene,
        )  # fmt: skip
        kind = KINDS[category]
        if dispatch is not None:
            if rng.random() < 0.15:  # someone else was asked first and let the offer time out
                late = Offer(spare, "patrol_car", "timed_out", at(dispatch) or received)
                incident.offers.append(late)
            incident.offers.append(Offer(unit_ids[kind], kind, "cleared" if arrive else "cancelled",
                                         at(dispatch) or received, at(ack), at(arrive)))  # fmt: skip
        for offer in incident.offers:
            await db.execute(
                """insert into assignments (incident_id, unit_id, status, offered_at, accepted_at,
                       en_route_at, on_scene_at, ended_at, offered_by)
                   values ($1, $2, $3, $4, $5, $5, $6, $4::timestamptz + interval '1 hour', 'dispatcher')""",
                incident.id, offer.unit_id, offer.status, offer.offered, offer.accepted, offer.on_scene,
            )  # fmt: skip
        if incident.went_pending:
            await db.execute(
                """insert into events (at, kind, actor, incident_id, data)
                   values ($1, 'incident.pending', 'system:dispatcher', $2, '{}')""",
                received + timedelta(seconds=2), incident.id,
            )  # fmt: skip
        made.append(incident)
    # left out of every figure: an incident merged into another, one outside the period, a grid case
    merged = await db.fetchval(
        """insert into incidents (category, priority, status, lat, lon, received_at, merged_into, closed_at)
           values ('assault', 1, 'closed', 31.2, 121.4, $1, $2, $1) returning id""",
        START + timedelta(hours=5), made[0].id,
    )  # fmt: skip
    await db.execute(
        """insert into incidents (category, priority, status, lat, lon, received_at)
           values ('assault', 1, 'closed', 31.2, 121.4, $1), ('safety_hazard', 3, 'case', 31.2, 121.4, $2)""",
        START - timedelta(seconds=1), START + timedelta(hours=6),
    )  # fmt: skip
    return History(made, [merged], unit_ids)


def expected_response_row(rows: Sequence[Incident], targets: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """What the response report must say for these incidents."""

    def spread(values: list[float]) -> tuple[float | None, float | None, float | None]:
        return percentile(values, 0.5), percentile(values, 0.9), max(values) if values else None

    d = [s for i in rows if (s := i.seconds(i.dispatched)) is not None]
    a = [s for i in rows if (s := i.seconds(i.acknowledged)) is not None]
    arrive = [x for i in rows if (x := i.seconds(i.on_scene)) is not None]
    urgent = [i for i in rows if i.priority <= 2]

    def share(hits: int, of: int) -> float | None:
        return hits / of if of else None

    def within(i: Incident, moment: datetime | None, limit: float) -> bool:
        seconds = i.seconds(moment)
        return seconds is not None and seconds <= limit

    return {
        "incidents": len(rows),
        **dict(zip(("dispatch_p50", "dispatch_p90", "dispatch_max"), spread(d), strict=True)),
        **dict(zip(("ack_p50", "ack_p90", "ack_max"), spread(a), strict=True)),
        **dict(zip(("arrive_p50", "arrive_p90", "arrive_max"), spread(arrive), strict=True)),
        "dispatch_in_target": share(
            sum(within(i, i.dispatched, targets[i.category][0]) for i in rows), len(rows)
        ),
        "arrive_in_target": share(
            sum(within(i, i.on_scene, targets[i.category][1]) for i in rows), len(rows)
        ),
        "urgent": len(urgent),
        "urgent_moving_1min": share(sum(within(i, i.en_route, 60) for i in urgent), len(urgent)),
        "urgent_on_scene_3min": share(sum(within(i, i.on_scene, 180) for i in urgent), len(urgent)),
        "urgent_on_scene_5min": share(sum(within(i, i.on_scene, 300) for i in urgent), len(urgent)),
        "unreached": sum(1 for i in rows if i.on_scene is None),
        "went_pending": sum(1 for i in rows if i.went_pending),
    }
