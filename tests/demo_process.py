"""``dispatch-center up --demo`` as a real process for a test: started against the test's servers, ready
once ``/readyz`` says so, stopped with SIGTERM; a clean stop (exit 0, no traceback) is asserted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import SECRET, Stores, free_port, wipe


@dataclass
class DemoProcess:
    url: str
    port: int
    log_path: Path
    output: str = ""  # the whole log, once stopped


@asynccontextmanager
async def demo_process(
    stores: Stores, tmp_path: Path, *args: str, ready_within_s: float, **env: str
) -> AsyncIterator[DemoProcess]:
    """``up --demo --port P`` with ``args`` and ``DISPATCH_*`` settings ``env`` (besides the servers,
    the key and the data folder)."""
    await wipe(stores)
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
        "DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
        "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_DATA_DIR": str(tmp_path / "data"),
        "DISPATCH_LOG_LEVEL": "WARNING", **{f"DISPATCH_{k}": v for k, v in env.items()},
    }  # fmt: skip
    demo = DemoProcess(f"http://127.0.0.1:{port}", port, tmp_path / "up.log")
    with demo.log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "center.cli", "up", "--demo", *args, "--port", str(port),
            env=environment, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with (
            httpx.AsyncClient(base_url=demo.url, timeout=2, trust_env=False) as http,
            asyncio.timeout(ready_within_s),
        ):
            while True:
                assert proc.returncode is None, demo.log_path.read_text(errors="replace")[-3000:]
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        yield demo
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
    demo.output = demo.log_path.read_text(errors="replace")
    assert code == 0, demo.output[-3000:]
    assert "Traceback" not in demo.output, demo.output[-3000:]
