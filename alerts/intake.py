"""Accepting an alert: PostgreSQL first (alert, incident, event in one transaction), then the queue.

An idempotency key (the header, or the caller system's own call id) makes a retry return the first
answer; the unique index on the key makes that hold for concurrent retries too.
"""

from __future__ import annotations

import hashlib
import logging
import math
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
from core import tracing
from core.bounds import MAX_LAT, MAX_LON
from core.db import Queryable
from core.errors import Conflict, Invalid
from core.eventlog import Event
from core.feed import PRIVATE

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

    def key_field(self) -> str:
        """Where the idempotency key came from, to name it in an error."""
        if self.idempotency_key:
            return "Idempotency-Key"
        return "report_id" if self.channel is Channel.GRID else "call_id"

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


def wgs84_location(new: NewAlert) -> tuple[float, float]:
    """The alert's place in WGS-84, refused (naming the field) unless Redis GEO can hold it: a call the
    center cannot index is a call it cannot dispatch, so it must not be accepted and left waiting."""
    try:
        lat, lon = to_wgs84(new.lat, new.lon, new.coord_system)
    except ValueError as exc:
        raise Invalid(f"location: {exc}", field="location") from None
    converted = "" if new.coord_system is CoordSystem.WGS84 else f" (once converted from {new.coord_system})"
    if not (math.isfinite(lat) and -MAX_LAT <= lat <= MAX_LAT):
        raise Invalid(f"location.lat: must be within -{MAX_LAT}..{MAX_LAT}{converted}, got {lat}",
                      field="location.lat")  # fmt: skip
    if not (math.isfinite(lon) and -MAX_LON <= lon <= MAX_LON):
        raise Invalid(f"location.lon: must be within -{MAX_LON}..{MAX_LON}{converted}, got {lon}",
                      field="location.lon")  # fmt: skip
    return lat, lon


class Intake:
    def __init__(self, pool: asyncpg.Pool, catalogue: Catalogue, queue: AlertQueue) -> None:
        self._pool = pool
        self._catalogue = catalogue
        self._queue = queue

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

    async def accept(self, new: NewAlert, actor: str) -> tuple[Accepted, list[dict[str, Any]]]:
        """Store and queue one alert; the answer, and the event for the live feed (none when the
        request is a replay of one accepted before)."""
        with tracing.span("alert.intake", channel=new.channel.value, category=new.category[:64]):
            accepted, events = await self._accept(new, actor)
            tracing.add(alert_id=accepted.alert_id, incident_id=accepted.incident_id,
                        priority=accepted.priority, outcome=accepted.status, replayed=not events)  # fmt: skip
            return accepted, events

    async def _accept(self, new: NewAlert, actor: str) -> tuple[Accepted, list[dict[str, Any]]]:
        accepted, events = await self.store_in(self._pool, new, actor)
        if events:
            await self.queue(accepted)
        return accepted, events

    async def store_in(
        self, db: Queryable, new: NewAlert, actor: str, link: bool = True
    ) -> tuple[Accepted, list[dict[str, Any]]]:
        """Store one alert (in the caller's transaction, when ``db`` is a connection in one) without
        queueing it: the caller queues it after its commit (``queue``), or the reconciler does.
        ``link`` false: always a new incident, never linked to a related open one."""
        category = self.category(new)
        priority = new.priority or category.priority
        lat, lon = wgs84_location(new)
        key = new.idempotency_key or (
            f"{new.channel.value}:{new.source_call_id}" if new.source_call_id else None
        )
        digest = new.digest()
        event_data = {"category": category.code, "priority": priority, "lat": lat, "lon": lon,
                      "address": new.address, "channel": new.channel.value}  # fmt: skip
        # one statement, one round trip: alert, incident or link, and event commit together
        row = await db.fetchrow(
            "select * from accept_alert($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,"
            "$19,$20,$21)",
            new.channel.value, category.code, priority, lat, lon, new.lat, new.lon, new.coord_system.value,
            new.address, new.description, new.caller_phone, new.caller_name, new.source_call_id, key,
            digest, actor, new.zone, sorted(category.related) if link else [], category.duplicate_window_s,
            category.duplicate_radius_m, event_data,
        )  # fmt: skip
        assert row is not None
        if row["o_replayed"] and row["o_digest"] != digest:
            raise Conflict("this idempotency key was used for a different request", field=new.key_field())
        linked = bool(row["o_linked"])
        accepted = Accepted(
            row["o_alert_id"], row["o_incident_id"], "linked" if linked else "new_incident",
            row["o_incident_id"] if linked else None, priority, row["o_received_at"],
        )  # fmt: skip
        if not row["o_replayed"]:
            event = Event(
                row["o_event_id"], row["o_event_at"], row["o_event_kind"], actor,
                incident_id=accepted.incident_id, alert_id=accepted.alert_id,
                data=event_data | ({} if linked else {"status": IncidentStatus.RECEIVED.value}),
            )  # fmt: skip
            # caller data travels on the live feed (for dispatchers' screens) but not in the event log
            private = {"caller_phone": new.caller_phone, "caller_name": new.caller_name}
            return accepted, [event.as_json() | {PRIVATE: private}]
        return accepted, []

    async def queue(self, accepted: Accepted) -> None:
        """Queue a stored alert for the dispatchers."""
        # The alert is safe in PostgreSQL; if Redis fails now, the reconciler queues it later.
        try:
            trace = tracing.current()  # the intake's span, continued by the dispatcher
            await self._queue.put(accepted.alert_id, accepted.incident_id, accepted.priority, trace)
        except (RedisError, OSError):
            log.warning("alert %s accepted but not queued yet; the reconciler will", accepted.alert_id)
