"""Position history in PostgreSQL: the breadcrumb trail of one unit over a time range, and retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from core.db import Queryable


@dataclass(frozen=True, slots=True)
class Breadcrumb:
    at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None
    heading: float | None
    suspect: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(), "lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m,
            "speed_mps": self.speed_mps, "heading": self.heading, "suspect": self.suspect,
        }  # fmt: skip


async def trail(
    conn: Queryable, unit_id: int, since: datetime, until: datetime, limit: int = 10_000
) -> list[Breadcrumb]:
    """Every fix of one unit in [since, until), oldest first, suspect ones flagged."""
    rows = await conn.fetch(
        """select at, lat, lon, accuracy_m, speed_mps, heading, suspect from positions
           where unit_id = $1 and at >= $2 and at < $3 order by at limit $4""",
        unit_id, since, until, limit,
    )  # fmt: skip
    return [Breadcrumb(*r) for r in rows]


async def prune(pool: asyncpg.Pool, keep: timedelta, chunk: int = 20_000) -> int:
    """Delete fixes older than ``keep``, a chunk at a time so no statement holds locks for long."""
    removed = 0
    while True:
        status = await pool.execute(
            """delete from positions where ctid = any(array(
                   select ctid from positions where at < now() - $1::interval limit $2))""",
            keep, chunk,
        )  # fmt: skip
        count = int(status.split()[-1])
        removed += count
        if count < chunk:
            return removed
