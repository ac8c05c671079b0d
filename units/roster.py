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
from units import trackers
from units.kinds import UnitKind
from units.live import LiveIndex, LiveUnit
from units.status import AVAILABILITY, Availability, UnitStatus, check_transition


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

    async def update(self, unit_id: int, changes: Mapping[str, Any], actor: str) -> tuple[Unit, list[Event]]:
        """Change what a unit is: callsign, kind, tier, capabilities, home zone, crew."""
        allowed = {"callsign", "kind", "tier", "capabilities", "home_zone", "crew"}
        assert set(changes) <= allowed, set(changes) - allowed
        values = dict(changes)
        if "kind" in values:
            kind = self.kinds.get(values["kind"])
            if kind is None:
                raise Invalid(f"unknown unit kind {values['kind']!r}", field="kind", known=sorted(self.kinds))
            values["agency"] = kind.agency
        if "capabilities" in values:
            values["capabilities"] = list(values["capabilities"])
        async with self.pool.acquire() as conn, conn.transaction():
            before = await self._for_update(conn, unit_id)
            if before.retired_at is not None:
                raise Conflict(f"unit {unit_id} is retired", unit_id=unit_id)
            if values:
                columns = sorted(values)
                sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
                try:
                    row = await conn.fetchrow(
                        f"update units set {sets} where id = $1 returning *", unit_id,
                        *(values[c] for c in columns),
                    )  # fmt: skip
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"callsign {values.get('callsign')!r} is taken", field="callsign") from exc
                assert row is not None
                unit = Unit.from_row(row)
            else:
                unit = before
            event = await eventlog.append(
                conn, "unit.changed", actor, unit_id=unit_id,
                data={"changes": dict(values), "callsign": unit.callsign},
            )  # fmt: skip
        await self.live.describe(unit.live(), old_kind=before.kind)
        return unit, [event]

    async def retire(self, unit_id: int, actor: str) -> tuple[Unit, list[Event]]:
        """Take a unit off the roster for good; refused while it is committed to an incident."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await self._for_update(conn, unit_id)
            if before.retired_at is not None:
                raise Conflict(f"unit {unit_id} is already retired", unit_id=unit_id)
            if AVAILABILITY[before.status] is Availability.COMMITTED:
                raise Conflict(
                    f"unit {unit_id} is {before.status.value} on an assignment; end it first",
                    unit_id=unit_id, status=before.status.value,
                )  # fmt: skip
            row = await conn.fetchrow(
                """update units set retired_at = now(), status = 'off_duty', status_changed_at = now(),
                       status_version = status_version + 1, tracker_token_sha256 = null
                   where id = $1 returning *""",
                unit_id,
            )
            assert row is not None
            unit = Unit.from_row(row)
            event = await eventlog.append(
                conn, "unit.retired", actor, unit_id=unit_id,
                data={"callsign": unit.callsign, "from": before.status.value, "to": unit.status.value},
            )  # fmt: skip
        await self.live.forget(unit_id, unit.kind)
        return unit, [event]

    async def issue_tracker(self, unit_id: int, actor: str) -> tuple[str, list[Event]]:
        """A new device token for the unit's phone tracker app; the previous one stops working."""
        token = trackers.new_token()
        async with self.pool.acquire() as conn, conn.transaction():
            unit = await self._for_update(conn, unit_id)
            if unit.retired_at is not None:
                raise Conflict(f"unit {unit_id} is retired", unit_id=unit_id)
            await conn.execute(
                "update units set tracker_token_sha256 = $2 where id = $1",
                unit_id,
                trackers.token_digest(token),
            )
            event = await eventlog.append(
                conn, "unit.tracker_issued", actor, unit_id=unit_id, data={"callsign": unit.callsign}
            )
        return token, [event]

    async def unit_for_tracker(self, token: str) -> int | None:
        unit_id: int | None = await self.pool.fetchval(
            "select id from units where tracker_token_sha256 = $1 and retired_at is null",
            trackers.token_digest(token),
        )
        return unit_id

    async def _for_update(self, conn: Conn, unit_id: int) -> Unit:
        row = await conn.fetchrow("select * from units where id = $1 for update", unit_id)
        if row is None:
            raise NotFound(f"no unit {unit_id}", unit_id=unit_id)
        return Unit.from_row(row)

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

    async def page(self, limit: int, after: int = 0, include_retired: bool = False) -> list[Unit]:
        """The units after id ``after``, by id: a page of the roster."""
        rows = await self.pool.fetch(
            "select * from units where ($1 or retired_at is null) and id > $2 order by id limit $3",
            include_retired, after, limit,
        )  # fmt: skip
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
