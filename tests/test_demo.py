"""The demo city and ``dispatch-center up --demo``: a living city through the public API within seconds."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from alerts.catalogue import load_catalogue
from cases.status import place_of
from core.roles import Role
from core.tokens import TokenSigner
from simulation.city import huangpu
from simulation.profile import MIX, CallMaker, mix_at
from simulation.roster import demo_roster
from tests.conftest import SECRET, Stores
from tests.demo_process import demo_process
from units.kinds import load_kinds
from web.routes.alerts import AlertIn, GridEventIn


def test_demo_city_names_its_grid_cells_town_community_cell() -> None:
    """Every grid cell is TOWN/COMMUNITY/CELL of a real town and community of the city, and unique."""
    city = huangpu()
    names = [c.name for c in city.cells]
    assert len(names) == len(set(names)) == 120
    towns = {t.code for t in city.towns}
    communities = {c.area for c in city.communities}
    for name in names:
        place = place_of(name)
        assert place.town in towns and place.community in communities
    assert all(city.town_at(t.lat, t.lon) is t for t in city.towns)


def test_demo_roster_has_about_200_units_of_every_kind_and_all_three_tiers() -> None:
    """The roster covers units/kinds.toml and tiers 1-3, callsigns unique, bases inside the district."""
    kinds = load_kinds()
    city = huangpu()
    units = demo_roster(city)
    assert 190 <= len(units) <= 210
    assert len({u.callsign for u in units}) == len(units)
    assert {u.kind for u in units} == set(kinds)
    assert {u.tier or kinds[u.kind].default_tier for u in units} == {1, 2, 3}
    for u in units:
        assert abs(u.base[0] - city.lat) < 0.03 and abs(u.base[1] - city.lon) < 0.04


def test_demo_calls_are_valid_alerts_of_the_catalogue() -> None:
    """The mix names catalogue categories on channels they take; generated bodies pass the API's models."""
    catalogue = load_catalogue(unit_kinds=load_kinds().keys())
    for channel, code, share in MIX:
        assert channel in {c.value for c in catalogue.get(code).channels} and share > 0
    maker = CallMaker(huangpu(), random.Random(1))
    seen: Counter[str] = Counter()
    for n in range(600):
        call = maker.make(hour=n % 24)
        model = GridEventIn if call.path.endswith("/grid/events") else AlertIn
        model.model_validate(call.body)
        seen[call.path] += 1
    assert seen["/api/v1/alerts"] > seen["/api/v1/grid/events"] > 0
    night = {(ch, c): s for ch, c, s in mix_at(23)}
    noon = {(ch, c): s for ch, c, s in mix_at(12)}
    assert night[("110", "drunk_disorderly")] > noon[("110", "drunk_disorderly")]
    assert night[("grid", "garbage_dumping")] < noon[("grid", "garbage_dumping")]


async def _until_seen(ws: Any, within_s: float) -> dict[str, Any]:
    """Frames from /ws/ops until units move and an offer is accepted; what was seen."""
    moved: set[int] = set()
    kinds: Counter[str] = Counter()
    async with asyncio.timeout(within_s):
        while not (len(moved) >= 50 and kinds["assignment.offered"] and kinds["assignment.accepted"]):
            m = orjson.loads(await ws.recv())
            if m.get("type") != "event":
                continue
            kinds[m["kind"]] += 1
            if m["kind"] == "units.moved":
                moved.update(p["unit_id"] for p in m["positions"])
    return {"moved": moved, "kinds": kinds}


@pytest.mark.timeout(120)
async def test_up_demo_shows_units_moving_and_offers_accepted(stores: Stores, tmp_path: Path) -> None:
    """`up --demo` seeds the city's units, and within seconds the wall's feed shows them patrolling and
    incidents offered to and accepted by units; SIGTERM stops it cleanly."""
    async with demo_process(stores, tmp_path, ready_within_s=30, DEMO_CALLS_PER_HOUR="3600") as demo:
        url, port = demo.url, demo.port
        token = TokenSigner(SECRET).issue(Role.DISPLAY, "test-wall")
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/ops", max_size=1 << 24) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
            assert orjson.loads(await ws.recv())["type"] == "snapshot"
            seen = await _until_seen(ws, within_s=45)
        assert len(seen["moved"]) >= 50
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as http:
            roster = (await http.get("/api/v1/units", params={"limit": 1000})).json()["items"]
        # the simulated fleet, and the unit of the demo's unit account, which no simulated crew drives
        phone = [u for u in roster if u["callsign"] == "PHONE-1"]
        assert len(roster) == len(demo_roster(huangpu())) + 1 and len(phone) == 1
        assert phone[0]["status"] == "off_duty" and phone[0]["lat"] is None
    # the accounts come last of the start-up lines, in a block, and stay in the data folder for the owner
    assert "demo accounts" in demo.output.split("demo city:", 1)[1]
    kept = tmp_path / "data" / "demo-accounts.txt"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert "unit demo-unit " in kept.read_text() and f" {phone[0]['id']}\n" in kept.read_text()
