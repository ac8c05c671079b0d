"""After the offer: declines and lapsed offers go to the next unit, waiting incidents get freed units in
the right order, dispatchers cancel, reassign and close, and the canonical times add up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from center.connections import open_pool, open_redis
from center.runtime import Roles
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe
from tests.helpers import add_unit
from units.kinds import load_kinds
from units.live import LiveIndex
from units.roster import Roster
from units.status import UnitStatus, dispatchable

SCENE = (31.2350, 121.4750)
KM_EAST = 1 / (111.32 * 0.8551)  # degrees of longitude per km at this latitude


def east(km: float) -> tuple[float, float]:
    return SCENE[0], SCENE[1] + km * KM_EAST


async def assault(center: Center, at: tuple[float, float], priority: int = 2) -> int:
    """A call whose plan asks for one patrol car, sent automatically."""
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post("/api/v1/alerts", json={
            "channel": "110", "category": "assault", "priority": priority,
            "location": {"lat": at[0], "lon": at[1]},
        })  # fmt: skip
        assert reply.status_code == 202, reply.text
        incident_id: int = reply.json()["incident_id"]
        return incident_id


async def incident(center: Center, incident_id: int) -> dict[str, Any]:
    async with center.client(Role.DISPATCHER) as dispatcher:
        found: dict[str, Any] = (await dispatcher.get(f"/api/v1/incidents/{incident_id}")).json()
        return found


async def settled(center: Center, incident_id: int, check: Any, within_s: float = 10) -> dict[str, Any]:
    """The incident once ``check`` holds for it; fails if it never does."""
    deadline = time.monotonic() + within_s
    while True:
        found = await incident(center, incident_id)
        if check(found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


def active(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in found["assignments"] if a["status"] in ("offered", "accepted", "en_route", "on_scene")]


async def step(center: Center, unit_id: int, assignment_id: int, what: str) -> dict[str, Any]:
    async with center.client(Role.UNIT, unit_id) as unit:
        reply = await unit.post(f"/api/v1/assignments/{assignment_id}/{what}")
        assert reply.status_code == 200, reply.text
        answer: dict[str, Any] = reply.json()
        return answer


async def test_a_decline_goes_to_the_next_nearest_unit(center: Center) -> None:
    """The nearest unit declines: the next nearest is offered at once; the decliner is not asked again."""
    near, far = (
        await add_unit(center, "P-NEAR", status="available", at=east(0.3)),
        await add_unit(center, "P-FAR", status="available", at=east(2)),
    )
    incident_id = await assault(center, SCENE)
    first = await settled(center, incident_id, lambda i: active(i))
    assert active(first)[0]["unit_id"] == near
    async with center.client(Role.UNIT, near) as unit:  # a unit reads the incident it is sent to
        assert (await unit.get(f"/api/v1/incidents/{incident_id}")).status_code == 200
    async with center.client(Role.UNIT, far) as unit:  # and no other
        assert (await unit.get(f"/api/v1/incidents/{incident_id}")).status_code == 403
    async with center.client(Role.UNIT, near) as unit:  # on an offer, its status follows the offer
        sneak = await unit.post(f"/api/v1/units/{near}/status", json={"status": "available"})
        assert sneak.status_code == 409 and sneak.json()["status"] == "offered", sneak.text
    await step(center, near, active(first)[0]["id"], "decline")
    after = await settled(center, incident_id, lambda i: active(i) and active(i)[0]["unit_id"] == far)
    assert [a["unit_id"] for a in after["assignments"]] == [near, far]
    # the second unit declines too: nobody is left, the incident waits with its shortfall
    await step(center, far, active(after)[0]["id"], "decline")
    waiting = await settled(center, incident_id, lambda i: i["status"] == "pending")
    assert waiting["shortfall"] and not active(waiting)


@pytest.fixture
async def stopped(stores: Stores, tmp_path: Any) -> AsyncIterator[Any]:
    """Settings for a center run in two halves over the same stores."""
    await wipe(stores)
    yield center_settings(stores, data_dir=tmp_path)


async def test_an_offer_overdue_while_the_scheduler_was_down_is_handled_at_start(stopped: Any) -> None:
    """Past its deadline with no scheduler running, an offer is timed out as soon as one starts again."""
    async with serving(stopped, Roles(scheduler=False)) as center:
        near, far = (
            await add_unit(center, "P-NEAR", status="available", at=east(0.3)),
            await add_unit(center, "P-FAR", status="available", at=east(2)),
        )
        incident_id = await assault(center, SCENE)
        first = await settled(center, incident_id, lambda i: active(i))
        conn = await asyncpg.connect(stopped.database_url)
        await conn.execute("update assignments set offer_deadline = now() - interval '1 minute'")
        await conn.close()
        await asyncio.sleep(1.5)  # no scheduler: nothing happens
        assert active(await incident(center, incident_id))[0]["unit_id"] == near
    async with serving(stopped, Roles()) as center:
        after = await settled(center, incident_id, lambda i: active(i) and active(i)[0]["unit_id"] == far, 5)
        assert after["assignments"][0]["status"] == "timed_out"
    # the dispatchers' alarm: the timeout is an event on the timeline and the live feed
    [lapsed] = [e for e in after["timeline"] if e["kind"] == "assignment.timed_out"]
    assert lapsed["assignment_id"] == active(first)[0]["id"] and lapsed["data"]["alarm"] is True
    assert lapsed["actor"] == "system:offer-timer"


async def test_a_freed_unit_takes_the_most_urgent_then_oldest_waiting_incident(center: Center) -> None:
    """Nobody free: incidents wait; the unit that comes free is offered the most urgent, then oldest."""
    unit_id = await add_unit(center, "P-LATE", status="off_duty", at=east(0.5))
    minor = await assault(center, east(0.1), priority=3)
    older = await assault(center, east(3), priority=2)
    newer = await assault(center, east(0.2), priority=2)
    for incident_id in (minor, older, newer):
        await settled(center, incident_id, lambda i: i["status"] == "pending" and i["shortfall"])
    async with center.client(Role.UNIT, unit_id) as unit:
        assert (
            await unit.post(f"/api/v1/units/{unit_id}/status", json={"status": "available"})
        ).status_code == 200
    served = await settled(center, older, lambda i: active(i))
    assert active(served)[0]["unit_id"] == unit_id
    for incident_id in (minor, newer):
        assert (await incident(center, incident_id))["status"] == "pending"


@pytest.fixture
async def roster(stopped: Any) -> AsyncIterator[Roster]:
    """A roster over the stores, to change statuses without the center's hooks."""
    pool = await open_pool(stopped.database_url)
    redis = open_redis(stopped.redis_url)
    try:
        yield Roster(pool, LiveIndex(redis, [s.value for s in UnitStatus if dispatchable(s)]), load_kinds())
    finally:
        await redis.aclose()
        await pool.close()


async def test_the_sweep_assigns_waiting_incidents_jointly(stopped: Any, roster: Roster) -> None:
    """Two incidents wait; two units come free together: the urgent one gets the unit it needs most."""
    async with serving(stopped, Roles(scheduler=False)) as center:
        a = await add_unit(center, "P-A", status="off_duty", at=SCENE)
        b = await add_unit(center, "P-B", status="off_duty", at=east(10))
        minor = await assault(center, east(4), priority=4)  # first come; A is its nearest
        urgent = await assault(center, east(-1), priority=1)  # A is 1 km away, B 11 km
        for incident_id in (minor, urgent):
            await settled(center, incident_id, lambda i: i["status"] == "pending")
    for unit_id in (a, b):
        await roster.change_status(unit_id, UnitStatus.AVAILABLE, "test")
    async with serving(stopped, Roles()) as center:
        got_urgent = await settled(center, urgent, lambda i: active(i))
        got_minor = await settled(center, minor, lambda i: active(i))
    assert active(got_urgent)[0]["unit_id"] == a
    assert active(got_minor)[0]["unit_id"] == b
    assert "joint_assignment_in_surge" in active(got_minor)[0]["reasons"]


async def test_cancel_reassign_close_and_canonical_times(center: Center) -> None:
    """A dispatcher reassigns and cancels; an incident closes only when no unit is on it; times add up."""
    first, second = (
        await add_unit(center, "P-1", status="available", at=east(0.3)),
        await add_unit(center, "P-2", status="available", at=east(1)),
    )
    incident_id = await assault(center, SCENE)
    offered = active(await settled(center, incident_id, lambda i: active(i)))[0]
    async with center.client(Role.DISPATCHER) as dispatcher:
        reply = await dispatcher.post(
            f"/api/v1/assignments/{offered['id']}/reassign", json={"unit_id": second}
        )
        assert reply.status_code == 200, reply.text
        new = reply.json()["offered"]
        assert reply.json()["cancelled"]["status"] == "cancelled" and new["unit_id"] == second
        assert "dispatcher_choice" in new["reasons"]
        refused = await dispatcher.post(f"/api/v1/incidents/{incident_id}/close")
        assert refused.status_code == 409 and refused.json()["assignments"] == [new["id"]]
        async with center.client(Role.UNIT, second) as unit:
            assert (await unit.post(f"/api/v1/assignments/{new['id']}/cancel")).status_code == 403
        for what in ("accept", "arrive", "clear"):
            await step(center, second, new["id"], what)
        closed = await dispatcher.post(f"/api/v1/incidents/{incident_id}/close", json={"reason": "settled"})
        assert closed.status_code == 200, closed.text
        assert (await dispatcher.post(f"/api/v1/incidents/{incident_id}/close")).status_code == 409
        units = {u["id"]: u["status"] for u in (await dispatcher.get("/api/v1/units")).json()["items"]}
    assert units == {first: "available", second: "available"}
    done = closed.json()
    assert done["status"] == "closed" and done["close_reason"] == "settled"
    times = done["times"]
    order = ["received_at", "dispatched_at", "acknowledged_at", "on_scene_at", "cleared_at", "closed_at"]
    assert all(times[k] for k in order) and [times[k] for k in order] == sorted(times[k] for k in order)
    assert all(v is not None and v >= 0 for v in done["intervals"].values()), done["intervals"]
    kinds = [e["kind"] for e in (await incident(center, incident_id))["timeline"]]
    assert kinds.count("assignment.cancelled") == 1 and kinds[-1] == "incident.closed"
