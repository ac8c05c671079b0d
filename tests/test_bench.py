"""``dispatch-center bench --smoke`` end to end: it runs, prints its table and writes its JSON file.

Speed is never asserted here (DESIGN.md section 6: speed is the bench's business, not the tests').
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIGURES = {
    "alert_to_offer", "intake", "position_updates", "center_memory",
    "limit_xadd", "limit_geoadd", "limit_http", "limit_stream_hop",
}  # fmt: skip


def _command() -> list[str]:
    script = Path(sys.executable).with_name("dispatch-center")
    return [str(script)] if script.exists() else [sys.executable, "-m", "center.cli"]


@pytest.mark.timeout(300)
def test_bench_smoke_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    """The smoke bench, on embedded servers of its own, exits 0, prints the table and writes every figure."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPATCH_REDIS_URL", "DISPATCH_DATABASE_URL")}
    results_path = tmp_path / "results" / "bench.json"
    bench = subprocess.Popen(
        [*_command(), "bench", "--smoke", "--json", str(results_path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = bench.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        bench.terminate()  # SIGTERM: the bench stops the center and the servers it started
        stdout, stderr = bench.communicate(timeout=45)
    assert bench.returncode == 0, f"stdout:\n{stdout}\nstderr:\n{stderr[-4000:]}"
    assert "target (DESIGN 6)" in stdout
    assert "alert accepted -> offer on the unit's socket" in stdout
    assert "[limit] Redis GEOADD, pipelined" in stdout
    results = json.loads(results_path.read_text(encoding="utf-8"))
    assert set(results["figures"]) >= FIGURES
    assert results["figures"]["alert_to_offer"]["details"]["samples"] > 0
    assert results["machine"]["cpu_count"] and results["machine"]["python"]
    assert results["run"]["smoke"] is True
