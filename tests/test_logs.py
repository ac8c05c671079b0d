"""Logs as an operator's collector reads them: with ``DISPATCH_LOG_FORMAT=json`` every line of a running
center is one JSON object, naming the request and the incident it is about; jobs have their own names
and the libraries that log a line per request or scheduled run are quiet."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import orjson
import pytest

from center import jobs, logs
from center.settings import Settings
from center.supervision import Failures
from core import logcontext
from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import SECRET, Stores, free_port, wipe
from tests.test_up import wait_ready

SCENE = (31.2350, 121.4750)


def test_a_json_line_carries_the_bound_ids_and_its_traceback() -> None:
    record = logging.LogRecord("dispatch.worker", logging.ERROR, __file__, 1, "alert %s failed", (7,), None)
    try:
        raise ValueError("two\nlines")
    except ValueError:
        record.exc_info = sys.exc_info()
    with logcontext.bound(request_id="r-1", incident_id=42):
        line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "dispatch.worker"
    assert entry["message"] == "alert 7 failed"
    assert entry["request_id"] == "r-1" and entry["incident_id"] == 42
    assert "ValueError: two\nlines" in entry["exception"]
    assert entry["time"].endswith("+00:00")
    assert logcontext.current() == {}  # unbound after the block


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in logs.NOISY}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in noisy.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.usefixtures("restore_logging")
def test_the_chatty_libraries_are_quiet_unless_debugging() -> None:
    logs.setup("text", "INFO")
    for name in ("apscheduler", "apscheduler.executors.default", "httpx", "uvicorn.access"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert logging.getLogger("dispatch.worker").getEffectiveLevel() == logging.INFO
    logs.setup("json", "DEBUG")
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.DEBUG


def test_every_scheduled_job_has_its_own_name() -> None:
    async def nothing() -> None:
        pass

    # the jobs only close over the parts; none runs here
    parts = cast(Any, SimpleNamespace(shifts=SimpleNamespace(make_due=nothing), repair_live=nothing,
                                      failures=Failures()))  # fmt: skip
    scheduler = jobs.schedule(parts, Settings(secret_key=SECRET))
    names = {job.id: (job.name, job.func.__qualname__) for job in scheduler.get_jobs()}
    assert set(names) >= {"offer-timeouts", "pending-sweep", "case-deadlines", "reconcile", "live-repair"}
    for job_id, (name, function) in names.items():
        assert name == job_id and "<locals>" not in function and function == f"job:{job_id}", names


def test_a_center_with_json_logs_names_the_request_and_the_incident(stores: Stores, tmp_path: Path) -> None:
    asyncio.run(wipe(stores))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_SECRET_KEY": SECRET, "DISPATCH_DATA_DIR": str(tmp_path),
            "DISPATCH_LOG_FORMAT": "json"}  # fmt: skip
    argv = [sys.executable, "-m", "center.cli", "up", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    signer = TokenSigner(SECRET)

    def as_role(role: Role, unit_id: int | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {signer.issue(role, 'test', unit_id=unit_id)}"}

    try:
        wait_ready(url, proc, within_s=60)
        with httpx.Client(base_url=url, timeout=10) as http:
            made = http.post("/api/v1/units", json={"callsign": "P-LOG", "kind": "patrol_car",
                             "status": "available"}, headers=as_role(Role.ADMIN))  # fmt: skip
            assert made.status_code == 201, made.text
            unit_id = made.json()["id"]
            fix = {"lat": SCENE[0] + 0.002, "lon": SCENE[1], "at": time.time()}
            placed = http.put(f"/api/v1/units/{unit_id}/location", json=fix,
                              headers=as_role(Role.UNIT, unit_id))  # fmt: skip
            assert placed.status_code == 200, placed.text
            device = http.post(f"/api/v1/units/{unit_id}/tracker", headers=as_role(Role.ADMIN))
            # a tracker report without coordinates is logged, inside the request the caller named
            cell_only = http.get("/api/v1/osmand", params={"id": device.json()["device_id"], "cell": "1,2"},
                                 headers={"X-Request-ID": "test-request-7"})  # fmt: skip
            assert cell_only.status_code == 200, cell_only.text
            assert cell_only.headers["X-Request-ID"] == "test-request-7"
            reply = http.post("/api/v1/alerts", headers=as_role(Role.CALL_TAKER), json={
                "channel": "110", "category": "robbery_in_progress",
                "location": {"lat": SCENE[0], "lon": SCENE[1]}})  # fmt: skip
            assert reply.status_code == 202, reply.text
            assert len(reply.headers["X-Request-ID"]) == 32  # none given: one made
            incident_id = reply.json()["incident_id"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                got = http.get(f"/api/v1/incidents/{incident_id}", headers=as_role(Role.DISPATCHER))
                if got.json().get("status") == "dispatched":
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"incident {incident_id} not dispatched: {got.text}")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    lines = [line for line in out.decode().splitlines() if line.strip()]
    entries = [orjson.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e, dict) and {"time", "level", "logger", "message"} <= e.keys() for e in entries)
    by_request = [e for e in entries if e.get("request_id") == "test-request-7"]
    assert any("without coordinates" in e["message"] for e in by_request), lines[-40:]
    about = [e for e in entries if e.get("incident_id") == incident_id and e["logger"] == "dispatch.worker"]
    assert any("handled" in e["message"] for e in about), lines[-40:]
    assert not any(e["logger"].startswith("apscheduler") and e["level"] == "INFO" for e in entries)
