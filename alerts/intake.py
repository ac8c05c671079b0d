"""Accepting an alert: PostgreSQL first (alert, incident, event in one transaction), then the queue.

An idempotency key (the header, or the caller system's own call id) makes a retry return the first
answer; the unique index on the key makes that hold for concurrent retries too.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from redis.exceptions import RedisError

from alerts.catalogue import Catalogue, Category, Channel
from alerts.coords import CoordSystem, to_wgs84
from alerts.incidents import IncidentStatus
from alerts.queue import AlertQueue
from core import eventlog
from core.db import Conn
from core.errors import Conflict, Invalid
from core.eventlog import Event
from core.feed import Feed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewAlert:
    channel: Channel
    category: str
    lat: float
    lon: float
    coord_system: CoordSystem = CoordSystem.WGS84
    priority: int | None = None
    address: str | None = None
    description: str | None = None
    caller_phone: str | None = None
    caller_name: str | None = None
    source_call_id: str | None = None
    idempotency_key: str | None = None
    zone: str | None = None

    def digest(self) -> str:
        """What the request said, to refuse a reused key with a different request."""
        body = {k: v for k, v in asdict(self).items() if k != "idempotency_key"}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Accepted:
    alert_id: int
    incident_id: int
    status: str  # "new_incident" or "linked"
    linked_to: int | None
    priority: int
    received_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "incident_id": self.incident_id, "status": self.status,
            "linked_to": self.linked_to, "priority": self.priority,
            "received_at": self.received_at.isoformat(),
        }  # fmt: skip


# open incidents of related categories near this point, recent enough; a bounding box first so that
# the index on open incidents does the work
_RELATED = """
select id from incidents
where closed_at is null and category = any($1::text[]) and received_at >= now() - make_interval(secs => $2)
  and lat between $3 - $5 / 111320.0 and $3 + $5 / 111320.0
  and lon between $4 - $5 / (111320.0 * cos(radians($3))) and $4 + $5 / (111320.0 * cos(radians($3)))
  and 2 * 6371008.8 * asin(sqrt(power(sin(radians(lat - $3) / 2), 2)
      + cos(radians($3)) * cos(radians(lat)) * power(sin(radians(lon - $4) / 2), 2))) <= $5
order by priority, received_at
limit 1
"""


class Intake:
    def __init__(self, pool: asyncpg.Pool, catalogue: Catalogue, queue: AlertQueue, feed: Feed) -> None:
        self._pool = pool
        self._catalogue = catalogue
        self._queue = queue
        self._feed = feed

    def category(self, new: NewAlert) -> Category:
        try:
            category = self._catalogue.get(new.category)
        except KeyError:
            raise Invalid(f"unknown category {new.category!r}", field="category") from None
        if new.channel not in category.channels:
            raise Invalid(
                f"category {new.category!r} is not taken on channel {new.channel.value}",
                field="category",
            )
        return category

    async def accept(self, new: NewAlert, actor: str) -> Accepted:
        category = self.category(new)
        priority = new.priority or category.priority
        lat, lon = to_wgs84(new.lat, new.lon, new.coord_system)
        key = new.idempotency_key or (
            f"{new.channel.value}:{new.source_call_id}" if new.source_call_id else None
        )
        digest = new.digest()
        events: list[Event] = []
        async with self._pool.acquire() as conn, conn.transaction():
            alert = await conn.fetchrow(
                """insert into alerts (channel, category, priority, lat, lon, orig_lat, orig_lon,
                       coord_system, address, description, caller_phone, caller_name, source_call_id,
                       idempotency_key, request_digest, reported_by)
                   values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
                   on conflict (idempotency_key) do nothing
                   returning id, received_at""",
                new.channel.value, category.code, priority, lat, lon, new.lat, new.lon,
                new.coord_system.value, new.address, new.description, new.caller_phone, new.caller_name,
                new.source_call_id, key, digest, actor,
            )  # fmt: skip
            if alert is None:
                return await self._replay(conn, key, digest)
            alert_id, received_at = alert["id"], alert["received_at"]
            linked = await conn.fetchval(
                _RELATED, sorted(category.related), category.duplicate_window_s, lat, lon,
                category.duplicate_radius_m,
            )  # fmt: skip
            if linked is not None:
                incident_id = linked
                events.append(await eventlog.append(
                    conn, "alert.linked", actor, incident_id=incident_id, alert_id=alert_id,
                    data={"category": category.code, "priority": priority, "lat": lat, "lon": lon},
                ))  # fmt: skip
            else:
                incident_id = await conn.fetchval(
                    """insert into incidents (category, priority, status, lat, lon, address, zone,
                           description, received_at)
                       values ($1,$2,$3,$4,$5,$6,$7,$8,$9) returning id""",
                    category.code, priority, IncidentStatus.RECEIVED.value, lat, lon, new.address,
                    new.zone, new.description, received_at,
                )  # fmt: skip
                events.append(await eventlog.append(
                    conn, "incident.created", actor, incident_id=incident_id, alert_id=alert_id,
                    data={"category": category.code, "priority": priority, "lat": lat, "lon": lon,
                          "status": IncidentStatus.RECEIVED.value, "address": new.address,
                          "channel": new.channel.value},
                ))  # fmt: skip
            await conn.execute("update alerts set incident_id = $2 where id = $1", alert_id, incident_id)
        accepted = Accepted(
            alert_id,
            incident_id,
            "linked" if linked is not None else "new_incident",
            linked,
            priority,
            received_at,
        )
        await self._after_commit(accepted, events)
        return accepted

    async def _replay(self, conn: Conn, key: str | None, digest: str) -> Accepted:
        row = await conn.fetchrow(
            """select a.id, a.incident_id, a.priority, a.received_at, a.request_digest,
                      (select min(id) from alerts where incident_id = a.incident_id) as first_alert
               from alerts a where a.idempotency_key = $1""",
            key,
        )
        assert row is not None
        if row["request_digest"] != digest:
            raise Conflict("this idempotency key was used for a different request", field="Idempotency-Key")
        linked = row["incident_id"] if row["first_alert"] != row["id"] else None
        return Accepted(
            row["id"],
            row["incident_id"],
            "linked" if linked else "new_incident",
            linked,
            row["priority"],
            row["received_at"],
        )

    async def _after_commit(self, accepted: Accepted, events: list[Event]) -> None:
        # The alert is safe in PostgreSQL; if Redis fails now, the reconciler queues it later.
        try:
            await self._queue.put(accepted.alert_id, accepted.incident_id, accepted.priority)
            await self._feed.publish(events)
        except (RedisError, OSError):
            log.warning("alert %s accepted but not queued yet; the reconciler will", accepted.alert_id)
