"""``dispatch-center up --demo --city baltimore``: the real calls on the real streets, ranked by road,
within seconds of the start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import websockets

from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import SECRET, Stores
from tests.demo_process import demo_process


async def test_up_demo_baltimore_offers_the_first_real_call_by_road(stores: Stores, tmp_path: Path) -> None:
    # ready once the roads are loaded
    async with demo_process(stores, tmp_path, "--city", "baltimore", ready_within_s=90) as demo:
        url, port = demo.url, demo.port
        token = TokenSigner(SECRET).issue(Role.DISPLAY, "test-wall")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False, timeout=10) as http:
            streets = await http.get("/api/v1/streets", params={"zoom": 13})
            assert streets.status_code == 200
            assert len(streets.json()["features"]) > 100  # the main roads of east Baltimore
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/ops", max_size=1 << 24) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
            assert orjson.loads(await ws.recv())["type"] == "snapshot"
            async with asyncio.timeout(60):
                while True:  # the first real call (13:16, SE district) offered to a patrol car by road
                    m = orjson.loads(await ws.recv())
                    if m.get("kind") == "assignment.offered":
                        break
        assert m["data"]["route"] is not None and len(m["data"]["route"]["geometry"]) > 2
        assert "nearest_by_road" in m["data"]["reasons"]
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as http:
            roster = (await http.get("/api/v1/units", params={"limit": 1000})).json()["items"]
        assert len(roster) == 16 and {u["kind"] for u in roster} == {"patrol_car"}  # 15 and the phone's
    assert "demo city: Baltimore" in demo.output
