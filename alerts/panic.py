"""An officer's panic (emergency) button: a priority-1 incident at the unit's last fix, through the
intake's own statement (so it is queued, and reconciled when the queue was out of reach, like any call).

One open panic per unit: pressing again, from the phone, its socket or a radio gateway, returns the open
one. It stays open until it is cancelled (an event: a false alarm, or a cancel under duress, which is
why its incident stays for a dispatcher to close) or its incident is closed. A dispatcher's
acknowledgement is an event too; it tells the unit that the center has it. Nothing about the unit stops
a panic: its status, its assignments and what else its token may do are not asked. Every method returns
the events it wrote; the edge that called it publishes them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from alerts.catalogue import Channel
from alerts.intake import Intake, NewAlert
from core import eventlog
from core.db import Conn, Queryable
from core.errors import Conflict, Invalid, NotFound
from core.eventlog import Event
from units.live import LiveIndex
from units.roster import Roster

log = logging.getLogger(__name__)

CATEGORY = "officer_needs_help"
VIA = frozenset({"http", "socket"})
# the emergency number each agency answers on (the alert's channel); community staff call the police
_CHANNEL = {"fire": Channel.FIRE, "medical": Channel.MEDICAL, "traffic": Channel.TRAFFIC}

_OPEN = """select p.*, u.callsign, u.kind, i.closed_at as incident_closed_at from panics p
           join units u on u.id = p.unit_id join incidents i on i.id = p.incident_id"""


@dataclass(frozen=True, slots=True)
class Panic:
    id: int
    unit_id: int
    callsign: str
    kind: str
    incident_id: int
    alert_id: int
    via: str
    lat: float
    lon: float
    raised_at: datetime
    raised_by: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Panic:
        return cls(
            r["id"], r["unit_id"], r["callsign"], r["kind"], r["incident_id"], r["alert_id"], r["via"],
            r["lat"], r["lon"], r["raised_at"], r["raised_by"], r["acknowledged_at"], r["acknowledged_by"],
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "unit_id": self.unit_id, "callsign": self.callsign, "kind": self.kind,
            "incident_id": self.incident_id, "alert_id": self.alert_id, "via": self.via, "lat": self.lat,
            "lon": self.lon, "raised_at": self.raised_at.isoformat(), "raised_by": self.raised_by,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
        }  # fmt: skip


def channel_for(agency: str) -> Channel:
    """The channel a panic of a unit of this agency arrives on."""
    return _CHANNEL.get(agency, Channel.POLICE)


async def open_panics(db: Queryable) -> list[Panic]:
    """Every open panic (not cancelled, its incident not closed), oldest first: for the screens."""
    rows = await db.fetch(
        _OPEN + " where p.ended_at is null and i.closed_at is null order by p.raised_at, p.id"
    )
    return [Panic.from_row(r) for r in rows]


async def open_panic_of(db: Queryable, unit_id: int) -> Panic | None:
    """The unit's open panic, if it has one."""
    row = await db.fetchrow(
        _OPEN + " where p.unit_id = $1 and p.ended_at is null and i.closed_at is null", unit_id
    )
    return None if row is None else Panic.from_row(row)


class Panics:
    def __init__(self, pool: asyncpg.Pool, intake: Intake, roster: Roster, live: LiveIndex) -> None:
        self.pool = pool
        self.intake = intake
        self.roster = roster
        self.live = live

    async def raise_(
        self, unit_id: int, actor: str, via: str, at: tuple[float, float] | None = None
    ) -> tuple[Panic, bool, list[Event | dict[str, Any]]]:
        """Raise the unit's panic at ``at`` (the position the device sent with it) or its last fix:
        the panic, whether it is new (False: the open one, returned again), and the events."""
        assert via in VIA
        unit = await self.roster.get(unit_id)
        if unit.retired_at is not None:
            raise Conflict(f"unit {unit_id} is retired", unit_id=unit_id)
        lat, lon = at if at is not None else await self._last_fix(unit_id, unit.lat, unit.lon)
        async with self.pool.acquire() as conn, conn.transaction():
            # one panic at a time per unit: a second press (or a gateway's) waits here for the first
            await conn.execute("select 1 from units where id = $1 for no key update", unit_id)
            row = await conn.fetchrow(_OPEN + " where p.unit_id = $1 and p.ended_at is null", unit_id)
            if row is not None and row["incident_closed_at"] is None:
                return Panic.from_row(row), False, []
            if row is not None:  # its incident was closed: that panic is over
                await self._end_in(conn, row["id"], "system:panic", "incident_closed")
            description = f"{unit.callsign} pressed the panic button"
            accepted, stored = await self.intake.store_in(
                conn,
                NewAlert(channel_for(unit.agency), CATEGORY, lat, lon, description=description),
                actor,
                link=False,  # each panic is an incident of its own: its own acknowledgement, its own trail
            )
            events: list[Event | dict[str, Any]] = list(stored)
            panic_id = await conn.fetchval(
                """insert into panics (unit_id, incident_id, alert_id, via, lat, lon, raised_by)
                   values ($1, $2, $3, $4, $5, $6, $7) returning id""",
                unit_id, accepted.incident_id, accepted.alert_id, via, lat, lon, actor,
            )  # fmt: skip
            panic = await self._read_in(conn, panic_id)
            events.append(await eventlog.append(
                conn, "unit.panic", actor, incident_id=panic.incident_id, unit_id=unit_id,
                alert_id=panic.alert_id, data=panic.as_json(),
            ))  # fmt: skip
        log.warning("unit %s (%s) raised a panic: incident %s", unit_id, unit.callsign, panic.incident_id)
        await self.intake.queue(accepted)
        return panic, True, events

    async def acknowledge(self, unit_id: int, actor: str) -> tuple[Panic, list[Event]]:
        """A dispatcher has the unit's panic; a second acknowledgement changes nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            panic = await self._open_in(conn, unit_id)
            if panic.acknowledged_at is not None:
                return panic, []
            await conn.execute(
                "update panics set acknowledged_at = now(), acknowledged_by = $2 where id = $1",
                panic.id, actor,
            )  # fmt: skip
            panic = await self._read_in(conn, panic.id)
            event = await eventlog.append(
                conn, "unit.panic_acknowledged", actor, incident_id=panic.incident_id, unit_id=unit_id,
                data=panic.as_json(),
            )  # fmt: skip
        return panic, [event]

    async def cancel(self, unit_id: int, actor: str, confirmed: bool) -> tuple[Panic, list[Event]]:
        """End the unit's panic; only with ``confirmed`` (the press that opened it was deliberate, so
        must its end be). The incident stays open for a dispatcher: a cancel may be made under duress."""
        if not confirmed:
            raise Invalid("a panic is cancelled only with confirm: true", field="confirm")
        async with self.pool.acquire() as conn, conn.transaction():
            panic = await self._open_in(conn, unit_id)
            await self._end_in(conn, panic.id, actor, "cancelled")
            event = await eventlog.append(
                conn, "unit.panic_cancelled", actor, incident_id=panic.incident_id, unit_id=unit_id,
                data=panic.as_json() | {"ended_by": actor, "end_reason": "cancelled"},
            )  # fmt: skip
        return panic, [event]

    async def _open_in(self, conn: Conn, unit_id: int) -> Panic:
        row = await conn.fetchrow(
            _OPEN + " where p.unit_id = $1 and p.ended_at is null and i.closed_at is null for update of p",
            unit_id,
        )  # fmt: skip
        if row is None:
            raise NotFound(f"unit {unit_id} has no open panic", unit_id=unit_id)
        return Panic.from_row(row)

    async def _read_in(self, conn: Conn, panic_id: int) -> Panic:
        row = await conn.fetchrow(_OPEN + " where p.id = $1", panic_id)
        assert row is not None  # written by this transaction
        return Panic.from_row(row)

    async def _end_in(self, conn: Conn, panic_id: int, actor: str, reason: str) -> None:
        await conn.execute(
            "update panics set ended_at = now(), ended_by = $2, end_reason = $3 where id = $1",
            panic_id, actor, reason,
        )  # fmt: skip

    async def _last_fix(self, unit_id: int, lat: float | None, lon: float | None) -> tuple[float, float]:
        """The live index's fix (the freshest), else the one PostgreSQL has."""
        with contextlib.suppress(RedisError, OSError):  # a panic never waits for Redis
            live = (await self.live.get([unit_id])).get(unit_id)
            if live is not None and live.lat is not None and live.lon is not None:
                return live.lat, live.lon
        if lat is None or lon is None:
            raise Invalid(f"unit {unit_id} has no known position: send lat and lon with the panic",
                          field="lat")  # fmt: skip
        return lat, lon
