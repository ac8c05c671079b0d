"""`dispatch-center worker` as compose runs it: its probe port answers /readyz (the container's health
check), its log says what it runs, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import SECRET, Stores, free_port
from tests.helpers import cli_without
from tests.test_up import wait_ready


def test_a_worker_serves_its_health_and_says_what_it_runs(stores: Stores) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_REDIS_URL": stores.redis_url, "DISPATCH_DATABASE_URL": stores.database_url,
            "DISPATCH_SECRET_KEY": SECRET}  # fmt: skip
    argv = [sys.executable, "-m", "center.cli", "worker", "--scheduler", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, within_s=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    log = out.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "dispatcher tasks, scheduled jobs (reconciler, offer timeouts" in log, log[-3000:]


def test_without_urls_or_embedded_servers_the_center_says_what_to_do() -> None:
    """The production image has no embedded servers: started without URLs it says so, no traceback."""
    # the image's situation: the embedded servers' module cannot be imported
    done = cli_without("center.embedded", ["migrate"], {"DISPATCH_SECRET_KEY": SECRET})
    assert done.returncode == 2, done.stderr
    assert "set DISPATCH_REDIS_URL and DISPATCH_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr
