"""Tracker apps in the forms they really send, written out from the OsmAnd/Traccar client protocol:
against a running center, every report with a position moves its unit there, a report without
coordinates keeps the last position, junk is refused with 422. The reader itself is checked pure."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from core.errors import Invalid
from core.roles import Role
from tests.conftest import Center
from tests.helpers import wait_until
from tests.test_roster import SCENE, add_unit
from units.tracker_reports import has_position, report_fields

FORM = "application/x-www-form-urlencoded"


def traccar_json(device: str | None, lat: float, lon: float, at: float, **coords: Any) -> bytes:
    """Today's Traccar Client: a JSON body, speed in m/s, -1 where the phone does not know."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    named = {} if device is None else {"device_id": device}
    return json.dumps({
        **named,
        "location": {
            "timestamp": stamp, "is_moving": True, "odometer": 1200, "event": "motionchange",
            "coords": {"latitude": lat, "longitude": lon, "accuracy": 9.5, "speed": 4.2, "heading": 181.3,
                       "altitude": 12, **coords},
            "battery": {"level": 0.61, "is_charging": False}, "activity": {"type": "in_vehicle"},
        },
    }).encode()  # fmt: skip


async def position_of(center: Center, unit_id: int) -> tuple[float, float] | None:
    async with center.client(Role.DISPATCHER) as dispatcher:
        for unit in (await dispatcher.get("/api/v1/units")).json()["items"]:
            if unit["id"] == unit_id and unit.get("lat") is not None:
                return unit["lat"], unit["lon"]
    return None


async def at_place(center: Center, unit_id: int, lat: float) -> bool:
    found = await position_of(center, unit_id)
    return found is not None and abs(found[0] - lat) < 1e-9


async def test_every_form_a_tracker_sends_moves_its_unit(center: Center) -> None:
    unit = await add_unit(center, "P-TRK")
    async with center.client(Role.ADMIN) as admin:
        device = (await admin.post(f"/api/v1/units/{unit['id']}/tracker")).json()["device_id"]
    t0 = time.time() - 600
    lon = SCENE[1]

    def step(i: int) -> tuple[float, float]:  # 50 m further north and 10 s later each time: plausible
        return SCENE[0] + i * 0.00045, t0 + i * 10

    # (method, query, content type, body) for the i-th report; each names a place
    def forms(i: int) -> list[tuple[str, dict[str, Any], str, bytes]]:
        lat, at = step(i)
        q = {"lat": lat, "lon": lon, "timestamp": int(at)}
        return [
            ("GET", {"id": device, **q}, "", b""),  # OsmAnd
            ("GET", {"deviceid": device, **q, "speed": 12, "bearing": 45}, "", b""),  # deviceid
            ("POST", {"id": device, **q, "heading": 270, "accuracy": 5}, "", b""),  # heading, not bearing
            ("POST", {"id": device, **q, "timestamp": int(at * 1000)}, "", b""),  # milliseconds
            ("GET", {"id": device, "location": f"{lat},{lon}", "timestamp": int(at)}, "", b""),
            ("POST", {}, FORM, f"id={device}&lat={lat}&lon={lon}&timestamp={int(at)}&batt=80".encode()),
            ("POST", {"id": device}, FORM, f"lat={lat}&lon={lon}&timestamp={int(at)}".encode()),
            ("POST", {}, FORM, f"deviceid={device}&location={lat}%2C{lon}&timestamp={int(at)}".encode()),
            ("POST", {}, "application/json", traccar_json(device, lat, lon, at)),
            ("POST", {}, "application/json; charset=utf-8", traccar_json(device, lat, lon, at, speed=-1)),
            ("POST", {"id": device}, "application/json", traccar_json(None, lat, lon, at, heading=-1)),
            ("POST", {}, "", traccar_json(device, lat, lon, at)),  # JSON without a content type
        ]  # fmt: skip

    count = len(forms(0))
    async with httpx.AsyncClient(base_url=center.url) as app:
        for i in range(count):
            method, query, ctype, body = forms(i + 1)[i]
            headers = {"Content-Type": ctype} if ctype else {}
            reply = await app.request(method, "/api/v1/osmand", params=query, content=body, headers=headers)
            assert reply.status_code == 200 and reply.headers["X-Fix-Verdict"] == "ok", (i, reply.text)
            moved: bool = await wait_until(partial(at_place, center, unit["id"], step(i + 1)[0]))
            assert moved, i

        # cell or wifi only: no coordinates; answered 200 so the app stops retrying, the place stays
        last = step(count)[0]
        no_fix = [
            ("GET", {"id": device, "timestamp": int(t0 + 900), "cell": "460,0,1234,5678"}, "", b""),
            ("POST", {}, "application/json",
             json.dumps({"device_id": device, "location": {"timestamp": "2026-01-01T00:00:00Z"}}).encode()),
        ]  # fmt: skip
        for method, query, ctype, body in no_fix:
            headers = {"Content-Type": ctype} if ctype else {}
            reply = await app.request(method, "/api/v1/osmand", params=query, content=body, headers=headers)
            assert reply.status_code == 200 and reply.headers["X-Fix-Verdict"] == "no_position", reply.text
        assert await at_place(center, unit["id"], last)

        # junk: refused with the field named, never a 5xx; an unknown device is 401 in every form
        junk = [
            ("application/json", b"{not json", "body"),
            ("application/json", b"[1, 2]", "body"),
            ("application/json", json.dumps({"device_id": device, "location": {"coords": {"latitude": "x"}}})
             .encode(), "latitude"),
            (FORM, f"id={device}&lat=95&lon=1".encode(), "lat"),
            (FORM, f"id={device}&location=31.2".encode(), "location"),
            (FORM, b"\xff\xfe", "body"),
        ]  # fmt: skip
        for ctype, body, field in junk:
            reply = await app.post("/api/v1/osmand", content=body, headers={"Content-Type": ctype})
            assert reply.status_code == 422 and reply.json()["field"] == field, (body, reply.text)
        stranger = traccar_json("nobody", SCENE[0], lon, time.time())
        reply = await app.post(
            "/api/v1/osmand", content=stranger, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 401


def test_the_reader_turns_each_form_into_the_query_fields() -> None:
    body = traccar_json("dev-1", 31.5, 121.25, 1_700_000_000, speed=10.0, accuracy=-1)
    fields = report_fields({}, "application/json", body)
    assert fields["id"] == "dev-1" and fields["lat"] == "31.5" and fields["lon"] == "121.25"
    assert abs(float(fields["speed"]) - 10.0 / 0.514444) < 1e-9  # m/s into the protocol's knots
    assert fields["bearing"] == "181.3" and "accuracy" not in fields  # -1: unknown, dropped
    assert fields["timestamp"] == "2023-11-14T22:13:20Z"
    assert report_fields({"location": "1.5, 2.5"}, "", b"") == {
        "location": "1.5, 2.5",
        "lat": "1.5",
        "lon": "2.5",
    }
    assert report_fields({"id": "a", "heading": "9"}, "", b"")["bearing"] == "9"
    # the body wins over the query string where both name a field
    assert report_fields({"id": "a", "lat": "1"}, FORM, b"lat=2")["lat"] == "2"
    assert not has_position(report_fields({"id": "a", "cell": "1,2,3"}, "", b""))
    with pytest.raises(Invalid):
        report_fields({}, FORM, b"&".join(b"k%d=v" % i for i in range(100)))
    with pytest.raises(Invalid):
        report_fields({"id": "x" * 201}, "", b"")
    with pytest.raises(Invalid):
        report_fields({}, "application/json", json.dumps({"device_id": {"nested": 1}}).encode())
