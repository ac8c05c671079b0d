"""`dispatch-center up` as a user runs it: embedded servers, ready quickly, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.roles import Role
from core.tokens import TokenSigner
from tests.conftest import SECRET, free_port


def server_processes(data_dir: Path) -> list[str]:
    """Valkey or PostgreSQL processes whose command line or data folder points into data_dir."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ("valkey" in cmd or "postgres" in cmd) and str(data_dir) in cmd:
            found.append(cmd)
    return found


def start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_DATA_DIR": str(data_dir), "DISPATCH_SECRET_KEY": SECRET}
    return subprocess.Popen(
        [sys.executable, "-m", "center.cli", "up", "--port", str(port), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def cli(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_DATA_DIR": str(data_dir), "DISPATCH_SECRET_KEY": SECRET}
    return subprocess.run([sys.executable, "-m", "center.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def wait_ready(url: str, proc: subprocess.Popen[bytes], within_s: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < within_s:
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {within_s} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.timeout(180)
def test_up_starts_embedded_servers_and_stops_clean(tmp_path: Path) -> None:
    """`up` with no URLs is ready within 10 s (after the one-time initdb), stops on SIGTERM leaving no
    server process, and a second `up` finds the data of the first."""
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(data_dir, port)
    try:
        wait_ready(url, proc, within_s=60)  # the first start also creates the cluster
        admin = {"Authorization": f"Bearer {TokenSigner(SECRET).issue(Role.ADMIN, 'test')}"}
        reply = httpx.post(
            f"{url}/api/v1/units", json={"callsign": "P-1", "kind": "patrol_car"}, headers=admin
        )
        assert reply.status_code == 201, reply.text
    finally:
        stop(proc)
    assert server_processes(data_dir) == []

    proc = start(data_dir, port)
    try:
        assert wait_ready(url, proc, within_s=10) < 10
        units = httpx.get(f"{url}/api/v1/units", headers=admin).json()["items"]
        assert [u["callsign"] for u in units] == ["P-1"]
        # commands beside the running center use its servers instead of failing to start their own
        for command in (["migrate"], ["users", "add", "dana", "--role", "dispatcher", "--password-stdin"]):
            done = cli(data_dir, *command, stdin="a long enough password\n")
            assert done.returncode == 0, done.stdout + done.stderr
        login = httpx.post(
            f"{url}/api/v1/login", json={"username": "dana", "password": "a long enough password"}
        )
        assert login.status_code == 200, login.text
    finally:
        stop(proc)
    assert server_processes(data_dir) == []


def test_up_refuses_to_start_without_a_safe_secret(tmp_path: Path) -> None:
    """Outside demo mode, a missing or weak secret stops start-up with a clear message."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    for secret in (None, "changeme"):
        run_env = (
            env | {"DISPATCH_DATA_DIR": str(tmp_path)} | ({"DISPATCH_SECRET_KEY": secret} if secret else {})
        )
        done = subprocess.run(
            [sys.executable, "-m", "center.cli", "up", "--port", str(free_port())],
            env=run_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2
        assert "DISPATCH_SECRET_KEY" in done.stderr
    assert server_processes(tmp_path) == []
