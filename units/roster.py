"""The unit roster in PostgreSQL, its status changes, and the live index rebuilt from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core import eventlog
from core.db import Conn
from core.errors import Conflict, Invalid, NotFound
from core.eventlog import Event
from units.kinds import UnitKind
from units.live import LiveIndex, LiveUnit
from units.status import UnitStatus, check_transition


@dataclass(frozen=True, slots=True)
class NewUnit:
    callsign: str
    kind: str
    tier: int | None = None
    capabilities: tuple[str, ...] = ()
    home_zone: str | None = None
    crew: int = 1
    status: UnitStatus = UnitStatus.OFF_DUTY


@dataclass(frozen=True, slots=True)
class Unit:
    id: int
    callsign: str
    kind: str
    agency: str
    tier: int
    capabilities: tuple[str, ...]
    home_zone: str | None
    crew: int
    status: UnitStatus
    status_changed_at: datetime
    lat: float | None
    lon: float | None
    fix_at: datetime | None
    fix_suspect: bool
    retired_at: datetime | None
    status_version: int = 0

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Unit:
        return cls(
            r["id"], r["callsign"], r["kind"], r["agency"], r["tier"], tuple(r["capabilities"]),
            r["home_zone"], r["crew"], UnitStatus(r["status"]), r["status_changed_at"], r["lat"],
            r["lon"], r["fix_at"], r["fix_suspect"], r["retired_at"], r["status_version"],
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "callsign": self.callsign, "kind": self.kind, "agency": self.agency,
            "tier": self.tier, "capabilities": list(self.capabilities), "home_zone": self.home_zone,
            "crew": self.crew, "status": self.status.value,
            "status_changed_at": self.status_changed_at.isoformat(),
            "lat": self.lat, "lon": self.lon,
            "fix_at": self.fix_at.isoformat() if self.fix_at else None,
            "retired": self.retired_at is not None,
        }  # fmt: skip

    def live(self) -> LiveUnit:
        return LiveUnit(
            unit_id=self.id, callsign=self.callsign, kind=self.kind, tier=self.tier,
            status=self.status.value, zone=self.home_zone, capabilities=frozenset(self.capabilities),
            lat=self.lat, lon=self.lon, fix_at=self.fix_at.timestamp() if self.fix_at else None,
            suspect=self.fix_suspect, status_version=self.status_version,
        )  # fmt: skip


class Roster:
    def __init__(self, pool: asyncpg.Pool, live: LiveIndex, kinds: Mapping[str, UnitKind]) -> None:
        self.pool = pool
        self.live = live
        self.kinds = kinds

    async def register(self, new: NewUnit, actor: str) -> tuple[Unit, list[Event]]:
        kind = self.kinds.get(new.kind)
        if kind is None:
            raise Invalid(f"unknown unit kind {new.kind!r}", field="kind", known=sorted(self.kinds))
        tier = new.tier if new.tier is not None else kind.default_tier
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    """insert into units (callsign, kind, agency, tier, capabilities, home_zone, crew, status)
                       values ($1, $2, $3, $4, $5, $6, $7, $8) returning *""",
                    new.callsign, new.kind, kind.agency, tier, list(new.capabilities),
                    new.home_zone, new.crew, new.status.value,
                )  # fmt: skip
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"callsign {new.callsign!r} is taken", field="callsign") from exc
            assert row is not None
            unit = Unit.from_row(row)
            event = await eventlog.append(
                conn, "unit.registered", actor, unit_id=unit.id, data=unit.as_json()
            )
        await self.live.put(unit.live())
        return unit, [event]

    async def get(self, unit_id: int, conn: Conn | None = None) -> Unit:
        row = await (conn or self.pool).fetchrow("select * from units where id = $1", unit_id)
        if row is None:
            raise NotFound(f"no unit {unit_id}", unit_id=unit_id)
        return Unit.from_row(row)

    async def all(self, include_retired: bool = False) -> list[Unit]:
        rows = await self.pool.fetch(
            "select * from units where $1 or retired_at is null order by id", include_retired
        )
        return [Unit.from_row(r) for r in rows]

    async def change_status_in(
        self, conn: Conn, unit_id: int, wanted: UnitStatus, actor: str,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[Unit, Event]:  # fmt: skip
        """Move a unit's status inside the caller's transaction; the caller syncs the live index
        after commit with :meth:`sync_live`."""
        row = await conn.fetchrow("select * from units where id = $1 for update", unit_id)
        if row is None:
            raise NotFound(f"no unit {unit_id}", unit_id=unit_id)
        current = UnitStatus(row["status"])
        check_transition(current, wanted)
        if row["retired_at"] is not None:
            raise Conflict(f"unit {unit_id} is retired", unit_id=unit_id)
        updated = await conn.fetchrow(
            """update units set status = $2, status_changed_at = now(), status_version = status_version + 1
               where id = $1 returning *""",
            unit_id, wanted.value,
        )  # fmt: skip
        assert updated is not None
        unit = Unit.from_row(updated)
        event = await eventlog.append(
            conn, "unit.status_changed", actor, unit_id=unit_id,
            data={"from": current.value, "to": wanted.value, "callsign": unit.callsign, **(data or {})},
        )  # fmt: skip
        return unit, event

    async def change_status(self, unit_id: int, wanted: UnitStatus, actor: str) -> tuple[Unit, list[Event]]:
        async with self.pool.acquire() as conn, conn.transaction():
            unit, event = await self.change_status_in(conn, unit_id, wanted, actor)
        await self.sync_live([unit])
        return unit, [event]

    async def sync_live(self, units: Sequence[Unit]) -> None:
        for unit in units:
            await self.live.set_status(unit.id, unit.kind, unit.status.value, version=unit.status_version)

    async def rebuild_live(self) -> int:
        """Write every unit's state from PostgreSQL into Redis (after Redis lost it, or at start)."""
        units = await self.all()
        for unit in units:
            await self.live.put(unit.live())
        return len(units)
