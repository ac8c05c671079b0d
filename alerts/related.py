"""A dispatcher's corrections to related-call linking: unlink an alert into an incident of its own, or
merge one incident into another. Both are events on every incident they touch.

Linking itself happens at intake (``accept_alert`` in the schema), inside the accepting statement.
"""

from __future__ import annotations

import asyncpg

from alerts import incidents
from alerts.incidents import IncidentStatus
from alerts.queue import AlertQueue
from core import eventlog
from core.errors import Conflict, NotFound
from core.eventlog import Event

# statuses of an assignment that still has a unit on it (the assignments table belongs to dispatch/;
# merging only needs to know whether one is still running)
_ACTIVE_ASSIGNMENT = ("offered", "accepted", "en_route", "on_scene")


class Related:
    def __init__(self, pool: asyncpg.Pool, queue: AlertQueue) -> None:
        self._pool = pool
        self._queue = queue

    async def unlink(self, alert_id: int, actor: str) -> tuple[int, list[Event]]:
        """Give a linked alert an incident of its own, queued for dispatch like a new call."""
        async with self._pool.acquire() as conn, conn.transaction():
            alert = await conn.fetchrow("select * from alerts where id = $1 for update", alert_id)
            if alert is None:
                raise NotFound(f"no alert {alert_id}", alert_id=alert_id)
            old = alert["incident_id"]
            others = await conn.fetchval(
                "select count(*) from alerts where incident_id = $1 and id <> $2", old, alert_id
            )
            if not others:
                raise Conflict(f"alert {alert_id} is the only alert of incident {old}", incident_id=old)
            new = await conn.fetchval(
                """insert into incidents (category, priority, status, lat, lon, address, zone, description,
                       received_at)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id""",
                alert["category"], alert["priority"], IncidentStatus.RECEIVED.value, alert["lat"],
                alert["lon"], alert["address"], alert["zone"], alert["description"], alert["received_at"],
            )  # fmt: skip
            # handled again by a dispatcher, as the first alert of its new incident
            await conn.execute(
                "update alerts set incident_id = $2, handled_at = null where id = $1", alert_id, new
            )
            data = {"alert_id": alert_id, "from_incident": old, "to_incident": new}
            events = [
                await eventlog.append(conn, "alert.unlinked", actor, incident_id=old, alert_id=alert_id,
                                      data=data),
                await eventlog.append(
                    conn, "incident.created", actor, incident_id=new, alert_id=alert_id,
                    data={**data, "category": alert["category"], "priority": alert["priority"],
                          "lat": alert["lat"], "lon": alert["lon"], "address": alert["address"],
                          "status": IncidentStatus.RECEIVED.value, "channel": alert["channel"]},
                ),
            ]  # fmt: skip
        await self._queue.put(alert_id, new, alert["priority"])  # the reconciler covers a failure here
        return new, events

    async def merge(self, source: int, target: int, actor: str) -> list[Event]:
        """Move every alert of ``source`` to ``target`` and close ``source`` as merged."""
        if source == target:
            raise Conflict("an incident cannot be merged into itself", field="into")
        async with self._pool.acquire() as conn, conn.transaction():
            # lock both in id order so that two opposite merges cannot deadlock
            locked = await conn.fetch(
                """select id, status, priority from incidents where id = any($1::bigint[])
                   order by id for update""",
                [source, target],
            )
            rows = {r["id"]: r for r in locked}
            for incident_id in (source, target):
                if incident_id not in rows:
                    raise NotFound(f"no incident {incident_id}", incident_id=incident_id)
                if rows[incident_id]["status"] == IncidentStatus.CLOSED.value:
                    raise Conflict(f"incident {incident_id} is closed", incident_id=incident_id)
            running = await conn.fetch(
                "select id from assignments where incident_id = $1 and status = any($2::text[])",
                source, list(_ACTIVE_ASSIGNMENT),
            )  # fmt: skip
            if running:
                raise Conflict(
                    f"incident {source} still has units on it; cancel or clear them first",
                    assignments=[r["id"] for r in running],
                )
            moved = [r["id"] for r in await conn.fetch(
                "update alerts set incident_id = $2 where incident_id = $1 returning id", source, target
            )]  # fmt: skip
            # the merged incident keeps the more urgent of the two priorities
            priority = min(rows[source]["priority"], rows[target]["priority"])
            await conn.execute("update incidents set priority = $2 where id = $1", target, priority)
            await incidents.move(
                conn, source, IncidentStatus.CLOSED, close_reason="merged", merged_into=target
            )
            data = {"from_incident": source, "into_incident": target, "alerts": moved, "priority": priority}
            return [
                await eventlog.append(conn, "incident.merged", actor, incident_id=source,
                                      data={**data, "status": IncidentStatus.CLOSED.value}),
                await eventlog.append(conn, "incident.merged_in", actor, incident_id=target, data=data),
            ]  # fmt: skip
