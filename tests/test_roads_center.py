"""A center with an extract configured ranks units by road end to end: the roads load in the
background (``/readyz`` says so meanwhile), the offer goes to the unit nearest by road, and the
assignment records why; without an extract the center answers as it always did."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import pytest

from core.roles import Role
from roads.gridcity import GridCity
from tests.conftest import Center, Stores, center_settings, receive, receive_until, serving, wipe
from tests.helpers import WAIT_S, add_unit, unit_socket, wait_until

# a river between columns 5 and 6, bridged only at rows 0 and 11
CITY = GridCity(12, 12, river_after_col=5, bridges={0, 11})


async def ready(center: Center) -> bool:
    async with httpx.AsyncClient(base_url=center.url) as client:
        return (await client.get("/readyz")).status_code == 200


async def test_the_offer_goes_to_the_unit_nearest_by_road(stores: Stores, tmp_path: Path) -> None:
    await wipe(stores)
    extract = CITY.write(tmp_path / "city.osm.pbf")
    settings = center_settings(stores, data_dir=tmp_path / "data", roads_file=extract)
    async with serving(settings) as center:
        loaded: bool = await wait_until(partial(ready, center))
        assert loaded
        across = await add_unit(
            center, "P-ACROSS", status="available", at=CITY.point(3, 5)
        )  # 100 m, but over the water
        along = await add_unit(
            center, "P-ALONG", status="available", at=CITY.point(3, 9)
        )  # 300 m on the same bank
        sockets = {u: await unit_socket(center, u) for u in (across, along)}
        lat, lon = CITY.point(3, 6)
        async with center.client(Role.CALL_TAKER) as taker:
            reply = await taker.post("/api/v1/alerts", json={
                "channel": "110", "category": "assault", "location": {"lat": lat, "lon": lon},
            })  # fmt: skip
        assert reply.status_code == 202, reply.text
        offer = await receive_until(sockets[along], lambda m: m.get("kind") == "assignment.offered", WAIT_S)
        assert offer["unit_id"] == along
        assert "nearest_by_road" in offer["data"]["reasons"]
        # the route goes with the offer: along the bank, from the unit to the scene, 300 m by road
        route = offer["data"]["route"]
        assert route["distance_m"] == pytest.approx(300, rel=0.02)
        assert route["eta_s"] == pytest.approx(offer["data"]["travel_s"], abs=0.1)
        assert route["geometry"][0] == pytest.approx(list(CITY.point(3, 9)), abs=1e-5)
        assert route["geometry"][-1] == pytest.approx([lat, lon], abs=1e-5)
        assert len(route["geometry"]) >= 4  # through the crossings, not a straight line
        async with center.client(Role.DISPATCHER) as desk:
            rec = (await desk.get(f"/api/v1/incidents/{offer['incident_id']}/recommendation")).json()
        # the unit across the river is the one left: ranked by road, and its time says so
        assert [p["unit_id"] for p in rec["picks"]] == [across]
        assert rec["picks"][0]["travel_s"] > offer["data"]["travel_s"]
        assert "nearest_by_road" in rec["picks"][0]["reasons"]
        # round by the bridge at row 0: 300 m south, over, 300 m back north
        assert rec["picks"][0]["route"]["distance_m"] == pytest.approx(700, rel=0.02)
        wall = await center.socket("/ws/ops", Role.DISPLAY)  # a wall opened now draws the route too
        snapshot = await receive(wall, WAIT_S)
        assert [a["route"]["distance_m"] for a in snapshot["state"]["assignments"]] == [route["distance_m"]]
        await wall.close()
        for ws in sockets.values():
            await ws.close()


async def test_without_an_extract_units_go_by_straight_line(center: Center) -> None:
    """The nearest in a straight line is offered, with the reason the center always gave."""
    across = await add_unit(center, "P-ACROSS", status="available", at=CITY.point(3, 5))
    await add_unit(center, "P-ALONG", status="available", at=CITY.point(3, 9))
    ws = await unit_socket(center, across)
    lat, lon = CITY.point(3, 6)
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post("/api/v1/alerts", json={
            "channel": "110", "category": "assault", "location": {"lat": lat, "lon": lon},
        })  # fmt: skip
    assert reply.status_code == 202, reply.text
    offer = await receive_until(ws, lambda m: m.get("kind") == "assignment.offered", WAIT_S)
    assert offer["unit_id"] == across
    assert offer["data"]["reasons"][0] == "nearest_by_travel_time"
    assert offer["data"]["route"] is None
    await ws.close()
