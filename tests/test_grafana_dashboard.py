"""docs/grafana-dashboard.json names only metrics a running center exports, and shows every one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Center
from tests.test_metrics import scrape

DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana-dashboard.json"
NAME = re.compile(r"\bdispatch_[a-z0-9_]+")
# the sample names of each type of family, as queries name them
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return found


def queried(dashboard: dict[str, Any]) -> set[str]:
    return {name for p in panels(dashboard) for t in p.get("targets", []) for name in NAME.findall(t["expr"])}


def test_the_dashboard_is_well_formed() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(dashboard):
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(t["refId"] and t["expr"] for t in panel["targets"]), panel["title"]


async def test_the_dashboard_names_exactly_what_the_center_exports(center: Center) -> None:
    families = {
        f.name: f.type
        for f in text_string_to_metric_families(await scrape(center))
        if f.name.startswith("dispatch_")
    }
    exported = {name + suffix for name, kind in families.items() for suffix in SUFFIXES[kind]}
    names = queried(orjson.loads(DASHBOARD.read_bytes()))
    assert names - exported == set(), "the dashboard names metrics the center does not export"
    shown = {f for f in families if any(n == f or n.startswith(f + "_") for n in names)}
    assert set(families) - shown == set(), "metrics the dashboard does not show"
