"""Intake guarantees against real servers: idempotent retries, urgent first, strict input, coordinate
systems, caller privacy, and related calls linked to one incident."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from center.runtime import Roles
from core.geo import haversine_m
from core.roles import SEES_CALLER_DATA, Role
from tests.conftest import Center, Stores, center_settings, serving, wipe

SCENE = (31.2350, 121.4750)  # Nanjing Road, Shanghai (WGS-84)
PER_METRE = 1 / 111_320  # degrees of latitude in one metre


def call(
    category: str = "robbery_in_progress", channel: str = "110", at: tuple[Any, Any] = SCENE, **extra: Any
) -> dict[str, Any]:
    """A call body as a call taker's console sends it."""
    return {"channel": channel, "category": category, "location": {"lat": at[0], "lon": at[1]}, **extra}


def north(metres: float, of: tuple[float, float] = SCENE) -> tuple[float, float]:
    return of[0] + metres * PER_METRE, of[1]


async def post(
    center: Center, body: Any, role: Role = Role.CALL_TAKER, path: str = "/api/v1/alerts", **kw: Any
) -> httpx.Response:
    async with center.client(role) as client:
        return await client.post(path, json=body, **kw)


async def accept(center: Center, body: Any, **kw: Any) -> dict[str, Any]:
    reply = await post(center, body, **kw)
    assert reply.status_code == 202, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


async def get_json(center: Center, path: str, role: Role = Role.DISPATCHER) -> Any:
    async with center.client(role) as client:
        reply = await client.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def incident(center: Center, incident_id: int, role: Role = Role.DISPATCHER) -> dict[str, Any]:
    found: dict[str, Any] = await get_json(center, f"/api/v1/incidents/{incident_id}", role)
    return found


async def alert_in(center: Center, answer: dict[str, Any]) -> dict[str, Any]:
    """The stored alert behind an intake answer, as its incident shows it."""
    shown = await incident(center, answer["incident_id"])
    return next(a for a in shown["alerts"] if a["id"] == answer["alert_id"])


# -- idempotency --------------------------------------------------------------------------------------


async def test_fifty_concurrent_retries_with_one_key_create_one_alert(
    center: Center, db: asyncpg.Connection
) -> None:
    """50 simultaneous sends with one Idempotency-Key all get the same 202 answer; one alert is stored."""
    body = call(caller_phone="13800138000")
    async with center.client(Role.CALL_TAKER) as client:
        replies = await asyncio.gather(
            *(
                client.post("/api/v1/alerts", json=body, headers={"Idempotency-Key": "k-50"})
                for _ in range(50)
            )
        )
    assert [r.status_code for r in replies] == [202] * 50, [r.text for r in replies if r.status_code != 202]
    answers = {(r.json()["alert_id"], r.json()["incident_id"], r.json()["status"]) for r in replies}
    assert len(answers) == 1, answers
    alert_id, incident_id, status = answers.pop()
    assert status == "new_incident"
    shown = await incident(center, incident_id)
    assert [a["id"] for a in shown["alerts"]] == [alert_id]
    assert [e["kind"] for e in shown["timeline"]].count("incident.created") == 1
    assert [i["id"] for i in (await get_json(center, "/api/v1/incidents"))["items"]] == [incident_id]
    assert await db.fetchval("select count(*) from alerts") == 1


async def test_reused_key_with_another_body_is_refused(center: Center, db: asyncpg.Connection) -> None:
    """The same Idempotency-Key with a different call answers 409 naming the key, and stores nothing new."""
    first = await accept(center, call(), headers={"Idempotency-Key": "k-1"})
    again = await post(center, call(description="two men"), headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "Idempotency-Key" and again.json()["error"]
    assert await accept(center, call(), headers={"Idempotency-Key": "k-1"}) == first
    assert await db.fetchval("select count(*) from alerts") == 1


async def test_caller_call_id_makes_a_retry_return_the_first_answer(
    center: Center, db: asyncpg.Connection
) -> None:
    """A telephony gateway resending its own call_id gets the first answer back; one alert is stored."""
    first = await accept(center, call(call_id="PBX-2024-0001"), role=Role.INTEGRATION)
    assert await accept(center, call(call_id="PBX-2024-0001"), role=Role.INTEGRATION) == first
    other = await accept(center, call(call_id="PBX-2024-0002"), role=Role.INTEGRATION)
    assert other["alert_id"] != first["alert_id"]
    assert await db.fetchval("select count(*) from alerts") == 2


async def test_call_id_reused_for_another_call_is_refused_naming_call_id(
    center: Center, db: asyncpg.Connection
) -> None:
    """A call_id reused with a different call answers 409 naming call_id (the field the client sent)."""
    await accept(center, call(call_id="PBX-7"), role=Role.INTEGRATION)
    again = await post(center, call(call_id="PBX-7", description="other"), role=Role.INTEGRATION)
    assert again.status_code == 409, again.text
    assert await db.fetchval("select count(*) from alerts") == 1
    assert again.json()["field"] == "call_id", again.json()


# -- urgent first ---------------------------------------------------------------------------------------


async def when_all_handled(conn: asyncpg.Connection, within_s: float = 60) -> dict[int, datetime]:
    """Wait until a dispatcher has handled every stored alert; when each one was handled."""
    async with asyncio.timeout(within_s):
        while True:
            rows = await conn.fetch("select id, handled_at from alerts")
            if all(r["handled_at"] is not None for r in rows):
                return {r["id"]: r["handled_at"] for r in rows}
            await asyncio.sleep(0.1)


async def test_priority_one_alert_is_taken_before_a_backlog_of_priority_four(stores: Stores) -> None:
    """With 30 routine calls queued, a robbery in progress reported after them is handled first."""
    await wipe(stores)
    settings = center_settings(stores)
    async with serving(settings, Roles(dispatch=False)) as intake_only:
        # 1 km apart, so that each noise complaint opens its own incident
        routine = [await accept(intake_only, call("noise_complaint", at=north(1000 * i))) for i in range(30)]
        urgent = await accept(intake_only, call(at=north(-5000)))
    assert {a["priority"] for a in routine} == {4} and urgent["priority"] == 1
    async with serving(settings):
        conn = await asyncpg.connect(settings.database_url)
        try:
            handled = await when_all_handled(conn)
        finally:
            await conn.close()
    assert len(handled) == 31
    assert all(handled[urgent["alert_id"]] < handled[a["alert_id"]] for a in routine)


# -- bad input ------------------------------------------------------------------------------------------

NOT_JSON = object()
EMPTY = object()
BAD_INPUT = [
    ("unknown category", call("alien_landing"), "category"),
    ("category not taken on channel", call("building_fire", channel="110"), "category"),
    ("unknown channel", call(channel="999"), "channel"),
    ("missing location", {"channel": "110", "category": "theft"}, "location"),
    ("lat 91", call(at=(91.0, 121.0)), "location.lat"),
    ("lon -181", call(at=(31.0, -181.0)), "location.lon"),
    ("lat a word", call(at=("north", 121.0)), "location.lat"),
    ("lat a numeric string", call(at=("31.2350", 121.0)), "location.lat"),
    ("lat null", call(at=(None, 121.0)), "location.lat"),
    ("unknown coordinate system", {**call(), "location": {"lat": 31.2, "lon": 121.4, "system": "osgb"}},
     "location.system"),
    ("unknown top-level field", call(siren=True), "siren"),
    ("unknown field in location", {**call(), "location": {"lat": 31.2, "lon": 121.4, "floor": 3}},
     "location.floor"),
    ("priority 0", call(priority=0), "priority"),
    ("priority 5", call(priority=5), "priority"),
    ("empty JSON object", {}, "channel"),
    ("empty body", EMPTY, "body"),
    ("not JSON", NOT_JSON, "body"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
async def test_bad_call_is_refused_naming_the_field_and_changes_nothing(
    center: Center, body: Any, field: str
) -> None:
    """Each malformed call answers 422 with the offending field and a reason; no incident appears."""
    headers = {"Content-Type": "application/json"}
    async with center.client(Role.CALL_TAKER) as client:
        if body is EMPTY:
            reply = await client.post("/api/v1/alerts", content=b"", headers=headers)
        elif body is NOT_JSON:
            reply = await client.post(
                "/api/v1/alerts", content=b"channel=110&category=theft", headers=headers
            )
        else:
            reply = await client.post("/api/v1/alerts", json=body)
    assert reply.status_code == 422, reply.text
    error = reply.json()
    assert error["field"] == field, error
    assert field in error["error"] and len(error["error"]) > len(field) + 2, error
    assert (await get_json(center, "/api/v1/incidents"))["items"] == []


async def test_oversized_body_is_refused_with_413(center: Center) -> None:
    """A call bigger than the body limit answers 413, whether its length is declared or streamed."""
    big = json.dumps(call(description="x" * (center.settings.max_body_bytes + 1))).encode()
    headers = {"Content-Type": "application/json"}

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 16_384):
            yield big[start : start + 16_384]

    async with center.client(Role.CALL_TAKER) as client:
        declared = await client.post("/api/v1/alerts", content=big, headers=headers)
        chunked = await client.post("/api/v1/alerts", content=streamed(), headers=headers)
    assert (await get_json(center, "/api/v1/incidents"))["items"] == []
    assert declared.status_code == 413, declared.text
    assert declared.json()["field"] == "body"
    assert chunked.status_code == 413, chunked.text


# -- coordinates ----------------------------------------------------------------------------------------

# published pairs (wandergis/coordtransform README, also used in tests/test_coords.py): the WGS-84 point
# (39.915, 116.404) is GCJ-02 (39.91640428150164, 116.41024449916938); the GCJ-02 point (39.915, 116.404)
# is BD-09 (39.92133699351021, 116.41036949371029) and WGS-84 ~(39.91359571849836, 116.39775550083061).
COORD_CASES = [
    ("gcj02", "cardiac_arrest", "120", (39.91640428150164, 116.41024449916938), (39.915, 116.404), 0.01),
    ("bd09", "building_fire", "119", (39.92133699351021, 116.41036949371029),
     (39.91359571849836, 116.39775550083061), 0.5),
]  # fmt: skip


@pytest.mark.parametrize(("system", "category", "channel", "sent", "wgs84", "within_m"), COORD_CASES)
async def test_location_is_stored_in_wgs84_with_the_original_kept(
    center: Center,
    system: str,
    category: str,
    channel: str,
    sent: tuple[float, float],
    wgs84: tuple[float, float],
    within_m: float,
) -> None:
    """A location sent from a Chinese map app is shown in WGS-84, with the original values and system kept."""
    body = call(category, channel)
    body["location"] = {"lat": sent[0], "lon": sent[1], "system": system}
    answer = await accept(center, body)
    stored = await alert_in(center, answer)
    assert haversine_m(stored["lat"], stored["lon"], *wgs84) < within_m, stored
    assert (stored["orig_lat"], stored["orig_lon"], stored["coord_system"]) == (*sent, system)
    shown = await incident(center, answer["incident_id"])
    assert haversine_m(shown["lat"], shown["lon"], *wgs84) < within_m, shown


# -- caller personal data -------------------------------------------------------------------------------

PHONE, NAME = "13912345678", "王小明"


def test_caller_data_roles_are_the_ones_that_need_it() -> None:
    """Call takers and dispatchers see caller data; wall screens, units and grid workers do not."""
    assert {Role.CALL_TAKER, Role.DISPATCHER} <= SEES_CALLER_DATA
    assert not {Role.DISPLAY, Role.UNIT, Role.GRID_WORKER} & SEES_CALLER_DATA


@pytest.mark.parametrize("role", list(Role))
async def test_caller_phone_and_name_are_masked_for_roles_without_need(center: Center, role: Role) -> None:
    """A dispatcher sees the caller's full phone and name; a wall screen sees them masked; others see none."""
    answer = await accept(center, call(caller_phone=PHONE, caller_name=NAME))
    path = f"/api/v1/incidents/{answer['incident_id']}"
    async with center.client(role, 1 if role is Role.UNIT else None) as client:
        reply, listing = await client.get(path), await client.get("/api/v1/incidents")
    if reply.status_code == 403:
        assert role not in SEES_CALLER_DATA and listing.status_code == 403
        return
    assert reply.status_code == 200 and listing.status_code == 200, reply.text
    (alert,) = reply.json()["alerts"]
    if role in SEES_CALLER_DATA:
        assert (alert["caller_phone"], alert["caller_name"]) == (PHONE, NAME)
        return
    assert alert["caller_phone"] and alert["caller_phone"] != PHONE and "*" in alert["caller_phone"]
    assert alert["caller_name"] and "*" in alert["caller_name"]
    for seen in (reply.json(), listing.json()):
        text = json.dumps(seen, ensure_ascii=False)
        assert PHONE not in text and NAME not in text and NAME[1:] not in text


# -- related calls --------------------------------------------------------------------------------------


async def test_related_call_nearby_is_linked_and_others_open_new_incidents(
    center: Center, db: asyncpg.Connection
) -> None:
    """A theft call 100 m from a robbery joins it; one 300 m away, or a cardiac arrest, opens its own."""
    robbery = await accept(center, call())
    assert robbery["status"] == "new_incident" and robbery["linked_to"] is None
    # theft belongs to the robbery group; its own radius (200 m) decides
    near = await accept(center, call("theft", at=north(100)))
    assert near["status"] == "linked" and near["linked_to"] == near["incident_id"] == robbery["incident_id"]
    far = await accept(center, call("theft", at=north(-300)))
    unrelated = await accept(center, call("cardiac_arrest", "120"))
    for answer in (far, unrelated):
        assert answer["status"] == "new_incident" and answer["linked_to"] is None
        assert answer["incident_id"] != robbery["incident_id"]
    shown = await incident(center, robbery["incident_id"])
    assert [a["id"] for a in shown["alerts"]] == [robbery["alert_id"], near["alert_id"]]
    assert "alert.linked" in [e["kind"] for e in shown["timeline"]]
    # outside the time window: the robbery was received two hours ago (theft's window is one hour)
    await db.execute(
        "update incidents set received_at = now() - interval '2 hours' where id = $1", robbery["incident_id"]
    )
    late = await accept(center, call("theft", at=north(50)))
    assert late["status"] == "new_incident" and late["incident_id"] != robbery["incident_id"]


async def test_grid_reports_link_to_each_other_and_to_related_calls(center: Center) -> None:
    """A second grid report 60 m from an open neighbour dispute, and a 110 domestic dispute, both join it."""
    async with center.client(Role.GRID_WORKER) as worker:
        replies = [
            await worker.post("/api/v1/grid/events", json={
                "category": "neighbour_dispute", "location": {"lat": at[0], "lon": at[1]},
                "grid_cell": "HP-03-12", "reporter_phone": "13700000000"})
            for at in (SCENE, north(60), north(500))
        ]  # fmt: skip
    assert [r.status_code for r in replies] == [202] * 3, [r.text for r in replies]
    first, second, far = (r.json() for r in replies)
    assert first["status"] == "new_incident" and first["priority"] == 4
    assert (second["status"], second["linked_to"]) == ("linked", first["incident_id"])
    assert far["status"] == "new_incident" and far["incident_id"] != first["incident_id"]
    domestic = await accept(center, call("domestic_dispute", at=north(30)))
    assert (domestic["status"], domestic["linked_to"]) == ("linked", first["incident_id"])
    shown = await incident(center, first["incident_id"])
    assert [a["channel"] for a in shown["alerts"]] == ["grid", "grid", "110"]
