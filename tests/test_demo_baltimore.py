"""``dispatch-center up --demo --city baltimore``: the real calls on the real streets, ranked by road,
within seconds of the start."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import orjson
import websockets

from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import SECRET, Stores, free_port, wipe


async def test_up_demo_baltimore_offers_the_first_real_call_by_road(stores: Stores, tmp_path: Path) -> None:
    await wipe(stores)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
        "DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
        "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_DATA_DIR": str(tmp_path / "data"),
        "DISPATCH_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "center.cli", "up", "--demo", "--city", "baltimore", "--port", str(port),
            env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=2, trust_env=False) as http, asyncio.timeout(90):
            while True:  # ready once the roads are loaded
                assert proc.returncode is None, log_path.read_text(errors="replace")[-3000:]
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
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
            roster = (await http.get("/api/v1/units")).json()
        assert len(roster) == 15 and {u["kind"] for u in roster} == {"patrol_car"}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert "demo city: Baltimore" in output
    assert "Traceback" not in output, output[-3000:]
