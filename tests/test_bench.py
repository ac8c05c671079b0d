"""``dispatch-center bench --smoke`` end to end: it runs, prints its table and writes its JSON file.

Speed is never asserted here: speed is the bench's business, not the tests' (docs/architecture.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIGURES = {
    "alert_to_offer", "dispatch_cpu", "intake", "position_updates", "position_updates_ws", "nearest_search",
    "center_memory", "wall_screens", "wall_screen_memory", "limit_xadd", "limit_geoadd", "limit_http",
    "limit_stream_hop", "limit_geosearch", "limit_ws_echo", "limit_ws_broadcast",
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
    assert "target" in stdout
    assert "alert accepted -> offer on the unit's socket" in stdout
    assert "[limit] Redis GEOADD, pipelined" in stdout
    results = json.loads(results_path.read_text(encoding="utf-8"))
    figures = results["figures"]
    assert set(figures) >= FIGURES
    assert figures["alert_to_offer"]["details"]["samples"] > 0
    # every section measured something at its tiny size (how much is the bench's business, not this test's)
    assert figures["dispatch_cpu"]["value"] is not None
    assert figures["position_updates_ws"]["value"] > 0 and figures["limit_ws_echo"]["value"] > 0
    assert figures["nearest_search"]["details"]["units"] == 200
    assert (
        figures["nearest_search"]["p99_ms"] is not None and figures["limit_geosearch"]["p99_ms"] is not None
    )
    assert (
        figures["wall_screens"]["details"]["samples"] > 0
        and figures["wall_screens"]["details"]["screens"] == 20
    )
    assert figures["limit_ws_broadcast"]["p99_ms"] is not None
    for name in ("road_eta_50_shipped", "road_eta_2000_shipped", "road_eta_50_grid", "road_eta_2000_grid"):
        assert figures[name]["p99_ms"] is not None and figures[name]["details"]["queries"] == 20
    assert figures["road_prepare_grid"]["details"]["nodes"] == 40 * 40
    assert figures["road_prepare_shipped"]["details"]["nodes"] > 10_000
    assert figures["recommendation_roads"]["p99_ms"] is not None
    for report in ("response_by_category", "response_by_hour", "response_by_unit_kind", "offers_by_category"):
        assert figures[f"report_{report}"]["value"] is not None, report
    # the generated year's shape: its six categories and five unit kinds at least (the other sections'
    # alerts add theirs), every hour of the day
    groups = {k: int(figures[f"report_response_by_{k}"]["label"].rsplit("(", 1)[1].split()[0])
              for k in ("category", "hour", "unit_kind")}  # fmt: skip
    assert groups["category"] >= 6 and groups["unit_kind"] >= 5 and groups["hour"] == 24, groups
    assert results["machine"]["cpu_count"] and results["machine"]["python"]
    assert results["run"]["smoke"] is True


def test_bench_only_runs_the_chosen_sections() -> None:
    """``--only`` (repeatable) narrows the run; the command line and the bench agree on the sections."""
    from bench.plan import SECTIONS, Plan
    from center.cli import BENCH_SECTIONS, parser

    assert BENCH_SECTIONS == SECTIONS
    args = parser().parse_args(["bench", "--smoke", "--only", "ops", "--only", "search"])
    plan = Plan.make(args.smoke, None, None, None, None, None, args.only)
    assert plan.sections == {"ops", "search"}
    assert plan.runs("ops", "latency") and not plan.runs("latency", "intake")
    assert Plan.make(False, None, None, None, None, None).sections == set(SECTIONS)
    with pytest.raises(SystemExit):
        parser().parse_args(["bench", "--only", "everything"])
