"""Bad input against a real center: every refusal is 4xx in the one documented error shape, names the
field, and changes nothing. Ids, text, times, coordinates, nulls, and the framework's own answers."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx

from core.bounds import MAX_ID, MAX_LAT
from core.roles import Role
from tests.conftest import Center

SCENE = {"lat": 31.235, "lon": 121.475}
TOO_BIG = MAX_ID + 1  # 2^63


def call(**extra: Any) -> dict[str, Any]:
    return {"channel": "110", "category": "robbery_in_progress", "location": dict(SCENE), **extra}


def grid(**extra: Any) -> dict[str, Any]:
    return {"category": "road_damage", "location": dict(SCENE), "grid_cell": "T1/C1/G1", **extra}


def refused(reply: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    """The reply is the documented error body with this status and field."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert "field" in body and "problems" in body, body
    assert body["field"] == field, body
    assert isinstance(body["problems"], list), body
    if field is not None:
        assert field in {p["field"] for p in body["problems"]}, body
    return body


async def add_unit(center: Center, callsign: str = "P-1", **fields: Any) -> dict[str, Any]:
    async with center.client(Role.ADMIN) as admin:
        reply = await admin.post(
            "/api/v1/units",
            json={"callsign": callsign, "kind": "patrol_car", "status": "available", **fields},
        )
    assert reply.status_code == 201, reply.text
    unit: dict[str, Any] = reply.json()
    return unit


# -- ids ----------------------------------------------------------------------------------------------

# every route with an id in its path, with a body it would accept
ID_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/alerts/{}/unlink", None),
    ("POST", "/api/v1/alerts/{}/attachments", None),
    ("GET", "/api/v1/alerts/{}/attachments", None),
    ("GET", "/api/v1/attachments/{}", None),
    ("GET", "/api/v1/cases/{}", None),
    ("POST", "/api/v1/cases/{}/escalate", {"reason": "x"}),
    ("POST", "/api/v1/cases/{}/supervise", {"note": "x", "deadline": "2030-01-01T00:00:00Z"}),
    ("POST", "/api/v1/cases/{}/accept", None),
    ("GET", "/api/v1/incidents/{}", None),
    ("GET", "/api/v1/incidents/{}/recommendation", None),
    ("POST", "/api/v1/incidents/{}/assignments", {"unit_ids": [1]}),
    ("POST", "/api/v1/incidents/{}/merge", {"into": 1}),
    ("POST", "/api/v1/incidents/{}/close", None),
    ("PUT", "/api/v1/units/{}/location", {"lat": 31.2, "lon": 121.4}),
    ("POST", "/api/v1/units/{}/status", {"status": "available"}),
    ("PATCH", "/api/v1/units/{}", {"crew": 3}),
    ("POST", "/api/v1/units/{}/retire", None),
    ("POST", "/api/v1/units/{}/tracker", None),
    ("GET", "/api/v1/units/{}/positions?since=2020-01-01T00:00:00Z", None),
    ("POST", "/api/v1/assignments/{}/cancel", None),
    ("POST", "/api/v1/assignments/{}/reassign", {"unit_id": 1}),
    ("POST", "/api/v1/assignments/{}/accept", None),
]
BAD_PATH_IDS = ["1.0", "%201", "1%20", "+1", "1e0", "0", "-1", "0x1", str(TOO_BIG), "9" * 40, "%EF%BC%91"]


async def test_path_ids_are_plain_digits_within_bigint_on_every_route(center: Center) -> None:
    """``1.0``, `` 1``, ``+1``, ``1e0``, 0, 2^63 and longer: 422 naming the id, never read as 1 or 500."""
    unit = await add_unit(center)
    assert unit["id"] == 1
    async with center.client(Role.ADMIN) as admin:
        for method, template, body in ID_ROUTES:
            name = template.split("{}")[0].rstrip("/").rsplit("/", 1)[1].removesuffix("s") + "_id"
            for bad in BAD_PATH_IDS:
                reply = await admin.request(method, template.format(bad), json=body)
                refused(reply, 422, name)
        # an admin's accidental retire of "1.0" retired unit 1 before: now it changes nothing
        refused(await admin.post("/api/v1/units/1.0/retire"), 422, "unit_id")
        still = (await admin.get("/api/v1/units")).json()["items"]
        assert [(u["id"], u["retired"], u["status"]) for u in still] == [(1, False, "available")]
        # the largest id is fine: not found
        refused(await admin.get(f"/api/v1/incidents/{MAX_ID}"), 404, None)


async def test_body_ids_are_json_integers_within_bigint(center: Center) -> None:
    await add_unit(center)
    async with center.client(Role.ADMIN) as admin:
        for bad in (TOO_BIG, 0, -1, "1", 1.5, True, None):
            refused(await admin.post("/api/v1/incidents/1/merge", json={"into": bad}), 422, "into")
            refused(await admin.post("/api/v1/assignments/1/reassign", json={"unit_id": bad}), 422, "unit_id")
            refused(
                await admin.post("/api/v1/incidents/1/assignments", json={"unit_ids": [1, bad]}),
                422, "unit_ids.1",
            )  # fmt: skip
            refused(
                await admin.post("/api/v1/locations", json={"fixes": [{"unit_id": bad, **SCENE}]}),
                422, "fixes.0.unit_id",
            )  # fmt: skip
        # the largest id is fine: not found
        refused(await admin.post("/api/v1/incidents/1/merge", json={"into": MAX_ID}), 404, None)


# -- text ---------------------------------------------------------------------------------------------


async def test_nul_and_control_characters_are_refused_in_every_stored_string(
    center: Center, db: asyncpg.Connection
) -> None:
    """NUL (which PostgreSQL text cannot hold) anywhere: 422 naming the field, nothing stored."""
    alert_fields = {
        "description": call(description="a\x00b"), "caller_name": call(caller_name="\x00"),
        "caller_phone": call(caller_phone="138\x00"), "call_id": call(call_id="PBX-\x00"),
        "zone": call(zone="z\x00"), "category": call(category="robbery\x00"),
        "location.address": call(location={**SCENE, "address": "Nanjing Rd\x00"}),
    }  # fmt: skip
    grid_fields = {
        "grid_cell": grid(grid_cell="T1/C1\x00"), "reporter_name": grid(reporter_name="\x00"),
        "report_id": grid(report_id="\x00"), "description": grid(description="\x00"),
    }  # fmt: skip
    async with center.client(Role.ADMIN) as admin:
        for field, body in alert_fields.items():
            refused(await admin.post("/api/v1/alerts", json=body), 422, field)
        for field, body in grid_fields.items():
            refused(await admin.post("/api/v1/grid/events", json=body), 422, field)
        # other control characters: refused in one-line values, and in free text except tab and newlines
        refused(await admin.post("/api/v1/alerts", json=call(call_id="a\tb")), 422, "call_id")
        refused(await admin.post("/api/v1/alerts", json=call(description="a\x07b")), 422, "description")
        refused(await admin.post("/api/v1/alerts", json=call(description="a\x7fb")), 422, "description")
        assert await db.fetchval("select count(*) from alerts") == 0
        ok = await admin.post("/api/v1/alerts", json=call(description="line one\n\tline two\r\n"))
        assert ok.status_code == 202, ok.text
        # a lone surrogate cannot be stored as UTF-8
        raw = json.dumps(call(caller_name="x")).replace('"x"', '"\\ud800"')
        reply = await admin.post("/api/v1/alerts", content=raw, headers={"content-type": "application/json"})
        refused(reply, 422, "caller_name")

        unit_fields: dict[str, dict[str, Any]] = {
            "callsign": {"callsign": "P\x00"}, "home_zone": {"home_zone": "\x00"},
            "capabilities.1": {"capabilities": ["armed", "x\x00"]}, "kind": {"kind": "patrol_car\x00"},
        }  # fmt: skip
        for field, body in unit_fields.items():
            create = {"callsign": "P-9", "kind": "patrol_car"} | body
            refused(await admin.post("/api/v1/units", json=create), 422, field)
        assert await db.fetchval("select count(*) from units") == 0
        unit = await add_unit(center)
        refused(await admin.patch(f"/api/v1/units/{unit['id']}", json={"callsign": "\x00"}), 422, "callsign")

        # query parameters, and the login name (which the failure event records)
        refused(await admin.get("/api/v1/cases", params={"level": "town", "area": "T1\x00"}), 422, "area")
        reply = await admin.post("/api/v1/login", json={"username": "wang\x00", "password": "whatever1"})
        refused(reply, 422, "username")
        reply = await admin.post("/api/v1/osmand", params={"id": "\x00", "lat": 31, "lon": 121})
        refused(reply, 401, None)
        for field, body in {"reason": {"reason": "\x00"}}.items():
            refused(await admin.post("/api/v1/cases/1/escalate", json=body), 422, field)
        refused(await admin.post("/api/v1/cases/1/resolve", json={"note": "\x00"}), 422, "note")
        refused(await admin.post("/api/v1/cases/1/assign", json={"assignee": "\x00"}), 422, "assignee")
        refused(await admin.post("/api/v1/incidents/1/close", json={"reason": "\x00"}), 422, "reason")
        refused(await admin.post("/api/v1/assignments/1/cancel", json={"reason": "\x00"}), 422, "reason")
        refused(await admin.post("/api/v1/cases/1/supervise", json={"note": "\x00",
                                                                     "deadline": "2030-01-01T00:00:00Z"}),
                422, "note")  # fmt: skip


# -- times --------------------------------------------------------------------------------------------


async def test_times_are_iso_with_an_offset_inside_a_sane_window(center: Center) -> None:
    unit = await add_unit(center)
    path = f"/api/v1/units/{unit['id']}/positions"
    async with center.client(Role.DISPATCHER) as desk:
        for field, params in [
            ("since", {"since": "0001-01-01T00:00:00+14:00"}),
            ("since", {"since": "9999-12-31T23:59:59-14:00"}),
            ("since", {"since": "1999-12-31T23:59:59Z"}),
            ("since", {"since": "2026-11-21T09:30:00"}),  # no offset
            ("since", {"since": "5"}),  # a number is not a time here
            ("since", {"since": "tomorrow"}),
            ("until", {"since": "2026-01-01T00:00:00Z", "until": "5"}),
            ("until", {"since": "2026-01-01T00:00:00Z", "until": "9999-12-31T23:59:59+14:00"}),
            ("until", {"since": "2026-01-01T00:00:00Z", "until": "2100-01-01T00:00:01Z"}),
            ("until", {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),  # before since
            ("since", {"since": "2026-01-01T00:00:00Z\x00"}),
        ]:
            refused(await desk.get(path, params=params), 422, field)
        reply = await desk.get(
            path, params={"since": "2000-01-01T00:00:00+00:00", "until": "2099-12-31T23:59Z"}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["fixes"] == []
        reply = await desk.get(path, params={"since": "2026-01-01T08:00:00+08:00"})
        assert reply.status_code == 200, reply.text


# -- coordinates --------------------------------------------------------------------------------------


async def test_coordinates_the_center_cannot_dispatch_are_refused(
    center: Center, db: asyncpg.Connection
) -> None:
    """Redis GEO's +-85.05112878, also after the datum conversion; NaN and Infinity; 422 naming the field."""
    async with center.client(Role.CALL_TAKER) as taker:
        for field, location in [
            ("location.lat", {"lat": 86.0, "lon": 121.0}),
            ("location.lat", {"lat": -85.06, "lon": 121.0}),
            ("location.lon", {"lat": 31.0, "lon": 180.5}),
            ("location.lat", {"lat": -90.0, "lon": -180.0, "system": "bd09"}),
            ("location.lat", {"lat": -85.05, "lon": -180.0, "system": "bd09"}),  # only once converted
            ("location.lon", {"lat": 0.0, "lon": -180.0, "system": "bd09"}),
        ]:
            refused(await taker.post("/api/v1/alerts", json=call(location=location)), 422, field)
        for literal in ("NaN", "Infinity", "-Infinity"):
            raw = json.dumps(call()).replace("31.235", literal)
            reply = await taker.post(
                "/api/v1/alerts", content=raw, headers={"content-type": "application/json"}
            )
            refused(reply, 422, "location.lat")
        assert await db.fetchval("select count(*) from alerts") == 0
        edge = await taker.post("/api/v1/alerts", json=call(location={"lat": MAX_LAT, "lon": 180.0}))
        assert edge.status_code == 202, edge.text

    unit = await add_unit(center)
    async with center.client(Role.UNIT, unit["id"]) as phone:
        path = f"/api/v1/units/{unit['id']}/location"
        refused(await phone.put(path, json={"lat": 86.0, "lon": 121.0}), 422, "lat")
        refused(await phone.put(path, json={"lat": 31.0, "lon": -181.0}), 422, "lon")
        for field, raw in [
            ("lat", '{"lat": NaN, "lon": 121.4}'),
            ("accuracy_m", '{"lat": 31.2, "lon": 121.4, "accuracy_m": Infinity}'),
            ("at", '{"lat": 31.2, "lon": 121.4, "at": Infinity}'),
            ("speed_mps", '{"lat": 31.2, "lon": 121.4, "speed_mps": NaN}'),
        ]:
            reply = await phone.put(path, content=raw, headers={"content-type": "application/json"})
            refused(reply, 422, field)
    async with center.client(Role.INTEGRATION) as gateway:
        fixes = {"fixes": [{"unit_id": unit["id"], "lat": 86.0, "lon": 121.0}]}
        refused(await gateway.post("/api/v1/locations", json=fixes), 422, "fixes.0.lat")
    async with center.client(Role.ADMIN) as admin:
        device = (await admin.post(f"/api/v1/units/{unit['id']}/tracker")).json()["device_id"]
        reply = await admin.post("/api/v1/osmand", params={"id": device, "lat": 86, "lon": 121})
        refused(reply, 422, "lat")
        listed = (await admin.get("/api/v1/units")).json()["items"]
        assert listed[0].get("lat") is None, listed  # no fix was kept
    assert await db.fetchval("select count(*) from positions") == 0


# -- nulls --------------------------------------------------------------------------------------------


async def test_patching_a_unit_with_null_for_a_field_that_cannot_be_null_is_refused(center: Center) -> None:
    unit = await add_unit(center, capabilities=["armed"], crew=2, home_zone="huangpu-3")
    path = f"/api/v1/units/{unit['id']}"
    async with center.client(Role.ADMIN) as admin:
        for field in ("capabilities", "crew", "callsign", "tier", "kind"):
            refused(await admin.patch(path, json={field: None}), 422, field)
        after = next(u for u in (await admin.get("/api/v1/units")).json()["items"] if u["id"] == unit["id"])
        for field in ("capabilities", "crew", "callsign", "tier", "kind", "home_zone"):
            assert after[field] == unit[field], (field, after)
        cleared = await admin.patch(path, json={"home_zone": None})  # a unit may have no zone
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["home_zone"] is None


# -- the error shape ----------------------------------------------------------------------------------


async def test_every_refusal_has_the_one_error_shape(center: Center) -> None:
    async with center.client(None) as anonymous:
        reply = refused(await anonymous.get("/api/v1/incidents"), 401, None)
        assert reply["problems"] == []
        bad = await anonymous.get("/api/v1/incidents", headers={"Authorization": "Bearer nope"})
        refused(bad, 401, None)
        assert bad.headers["www-authenticate"].startswith("Bearer")
        refused(await anonymous.get("/api/v1/no-such-route"), 404, None)
        refused(await anonymous.get("/nowhere"), 404, None)
        wrong_method = await anonymous.delete("/api/v1/incidents")
        refused(wrong_method, 405, None)
        assert "GET" in wrong_method.headers["allow"]
        refused(await anonymous.post("/api/v1/login", json={"username": "nobody", "password": "whatever1"}),
                401, None)  # fmt: skip
    async with center.client(Role.DISPLAY) as wall:
        refused(await wall.post("/api/v1/alerts", json=call()), 403, None)
    async with center.client(Role.ADMIN) as admin:
        refused(await admin.get("/api/v1/incidents/5"), 404, None)
        refused(await admin.post("/api/v1/alerts", content=b"{not json", headers={"content-type":
                                                                                  "application/json"}),
                422, "body")  # fmt: skip
        refused(await admin.post("/api/v1/alerts", content=b'{"a": "\xff"}', headers={"content-type":
                                                                                      "application/json"}),
                422, "body")  # fmt: skip
        refused(await admin.post("/api/v1/alerts", json=call(priority=9)), 422, "priority")
        refused(await admin.get("/api/v1/cases"), 422, "level")  # an admin has no seat of their own
        unit = await add_unit(center)
        refused(await admin.post(f"/api/v1/units/{unit['id']}/status", json={"status": "en_route"}),
                422, "status")  # fmt: skip
        refused(await admin.post("/api/v1/alerts", content=b"[" + b" " * 300_000 + b"]",
                                 headers={"content-type": "application/json"}), 413, "body")  # fmt: skip
        first = await admin.post("/api/v1/alerts", json=call(call_id="PBX-1"))
        assert first.status_code == 202
        again = await admin.post("/api/v1/alerts", json=call(call_id="PBX-1", priority=4))
        refused(again, 409, "call_id")


async def test_the_openapi_schema_declares_the_error_answers(center: Center) -> None:
    async with center.client(None) as anonymous:
        spec = (await anonymous.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"error"}
    assert {"error", "field", "problems"} <= set(schemas["ErrorBody"]["properties"])
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if path.startswith("/api/v1/") and path != "/api/v1/login":
                assert {"401", "503"} <= codes, (method, path, codes)
            if "{" in path:
                assert {"404", "422"} <= codes, (method, path, codes)
            if method in ("post", "put", "patch"):
                assert {"413", "422"} <= codes, (method, path, codes)
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")) and path != "/readyz":
                    assert answer["content"]["application/json"]["schema"] in (
                        error_ref,
                        {"$ref": "#/components/schemas/Refusal"},
                    ), (method, path, code, answer)
            for parameter in operation.get("parameters", []):
                if parameter["name"].endswith("_id") and parameter["in"] == "path":
                    assert parameter["schema"]["minimum"] == 1 and parameter["schema"]["maximum"] == MAX_ID
    merge = schemas["MergeIn"]["properties"]["into"]
    assert merge["maximum"] == MAX_ID and isinstance(merge["maximum"], int)
    level = next(p for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"] if p["name"] == "level")
    assert level["required"] is False and "required when the token carries none" in level["description"]
    assert "403" in spec["paths"]["/api/v1/units/{unit_id}/retire"]["post"]["responses"]
    assert "409" in spec["paths"]["/api/v1/incidents/{incident_id}/merge"]["post"]["responses"]
