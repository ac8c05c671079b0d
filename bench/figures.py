"""The table's rows from what the phases found: each figure with its target, this run's limit beside it
and the ratio of the two. Rows of sections that did not run are left out; machine limits always show."""

from __future__ import annotations

from typing import Any, TypedDict

from bench.plan import Plan
from bench.report import Figure, percentile

REF = {"geoadd": 67_000.0, "http": 11_000.0}  # the reference machine of docs/architecture.md
CPU_BUDGET_MS = 5.0  # 200 alerts/s (docs/architecture.md) on one core of the center


def _ratio(figure: float | None, limit: float | None) -> float | None:
    return figure / limit if figure is not None and limit else None


class Percentiles(TypedDict):
    p50_ms: float | None
    p99_ms: float | None


def _p(values: list[float]) -> Percentiles:
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}


def _label(template: str, value: float | None) -> str:
    return "-" if value is None else template.format(value)


def figures(plan: Plan, found: dict[str, Any]) -> list[Figure]:
    rows: list[Figure] = []
    if "latency" in found:
        rows += _latency(plan, found["latency"], found["noop"], found["hop"])
    if "intake" in found:
        intake, noop = found["intake"], found["noop"]
        rows.append(Figure(
            "intake", f"intake, 1 API process, {plan.clients} clients (accept call)",
            **_p(intake["latencies_ms"]), value=intake["rate"], unit=" alerts/s", target=">= 2,000/s",
            limit=noop["rate"], limit_label=f"no-op HTTP {noop['rate']:,.0f}/s",
            ratio=_ratio(intake["rate"], noop["rate"]),
            details={"alerts": plan.intake, "answers": intake["statuses"], "outcomes": intake["items"]},
        ))  # fmt: skip
    if "positions" in found:
        rows += _positions(plan, found["positions"], found["ws_positions"], found["rates"]["geoadd_per_s"])
    if "search" in found:
        rows.append(_search(found["search"]))
    if "roads" in found:
        rows += _roads(found["roads"])
    if "reports" in found:
        rows += _reports(found["reports"])
    memory = found["memory"]
    rows.append(Figure(
        "center_memory", f"center process memory, peak RSS ({plan.units:,} units)",
        value=memory.get("VmHWM"), unit=" MB", target="<= 400 MB at 10,000 units", details=memory,
    ))  # fmt: skip
    if "screens" in found:
        rows += _screens(plan, found["screens"])
    return rows + _limits(plan, found)


def _latency(plan: Plan, latency: dict[str, Any], noop: dict[str, Any], hop: dict[str, Any]) -> list[Figure]:
    latencies, hop_p99 = latency["latencies_ms"], hop["p99_ms"]
    p99 = percentile(latencies, 99)
    cpu = latency["cpu"]
    per_alert = cpu["cpu_s"] * 1000 / cpu["handled"] if cpu["cpu_s"] is not None and cpu["handled"] else None
    # the share of the phase the center would have spent anyway (units connected, reporting), taken out
    idle_ms = (
        cpu["idle_share"] * cpu["phase_s"] * 1000
        if cpu["idle_share"] is not None and cpu["phase_s"]
        else None
    )
    net = (
        (cpu["cpu_s"] * 1000 - idle_ms) / cpu["handled"]
        if per_alert is not None and idle_ms is not None
        else None
    )
    noop_ms = noop["center_cpu_s"] * 1000 / len(noop["latencies_ms"]) if noop.get("center_cpu_s") else None
    return [
        Figure(
            "alert_to_offer", "alert accepted -> offer on the unit's socket",
            p50_ms=percentile(latencies, 50), p99_ms=p99, value=latency["sent_rate"], unit=" alerts/s sent",
            target="p99 <= 50 ms at 200/s, 10,000 units", limit=hop_p99,
            limit_label=_label("stream hop p99 {:.2f} ms", hop_p99), ratio=_ratio(p99, hop_p99),
            details={"samples": len(latencies), "units": plan.units, "rate": plan.rate,
                     **{k: v for k, v in latency.items() if k not in ("latencies_ms", "cpu")}},
        ),
        Figure(
            "dispatch_cpu", "center CPU per alert, alert -> offer phase (all of it)", value=per_alert,
            unit=" ms CPU/alert", target=f"<= {CPU_BUDGET_MS:g} ms (200/s on 1 core)", limit=noop_ms,
            limit_label=_label("no-op HTTP {:.2f} ms CPU/req", noop_ms), ratio=_ratio(per_alert, noop_ms),
            details={**cpu, "without_idle_ms_per_alert": net,
                     "includes": "intake request, dispatch, the offer, the unit's accept/arrive/clear, "
                                 "and the fleet's position reports meanwhile"},
        ),
    ]  # fmt: skip


def _positions(plan: Plan, batch: dict[str, Any], ws: dict[str, Any], geo: float) -> list[Figure]:
    center, echo = ws["center"], ws["echo"]
    return [
        Figure(
            "position_updates", f"position updates, batches of 1,000 ({batch['connections']} clients)",
            **_p(batch["latencies_ms"]), value=batch["rate"], unit=" fixes/s", target=">= 20,000/s",
            limit=geo, limit_label=f"GEOADD {geo:,.0f}/s", ratio=_ratio(batch["rate"], geo),
            details={"batches": plan.fix_batches, "answers": batch["statuses"], "fixes": batch["items"]},
        ),
        Figure(
            "position_updates_ws",
            f"position updates, /ws/unit messages ({ws['sockets']:,} sockets, {ws['in_flight']} in flight)",
            **_p(center["latencies_ms"]), value=center["rate"], unit=" fixes/s", target=">= 20,000/s",
            limit=echo["rate"], limit_label=f"no-op WS echo {echo['rate']:,.0f}/s",
            ratio=_ratio(center["rate"], echo["rate"]),
            details={k: v for k, v in center.items() if k != "latencies_ms"} | {"sockets": ws["sockets"]},
        ),
    ]  # fmt: skip


def _search(search: dict[str, Any]) -> Figure:
    ms, geo = search["search_ms"], search["geosearch_ms"]
    p99, geo_p99 = percentile(ms, 99), percentile(geo, 99)
    return Figure(
        "nearest_search", f"nearest-unit search, {search['units']:,} units (LiveIndex.search)",
        **_p(ms), value=1000 / (sum(ms) / len(ms)) if ms else None, unit=" searches/s (1 client)",
        target="ref: queue->nearest->claim ~0.9 ms p50", limit=geo_p99,
        limit_label=_label("GEOSEARCH p99 {:.2f} ms", geo_p99), ratio=_ratio(p99, geo_p99),
        details={"candidates": _p(search["candidates_ms"]), "geosearch": _p(geo),
                 **{k: v for k, v in search.items() if not k.endswith("_ms")}},
    )  # fmt: skip


def _screens(plan: Plan, screens: dict[str, Any]) -> list[Figure]:
    latencies, noop = screens["latencies_ms"], screens["noop"]
    p99, noop_p99 = percentile(latencies, 99), percentile(noop["latencies_ms"], 99)
    kb, noop_kb = screens["kb_per_connection"], noop["kb_per_connection"]
    return [
        Figure(
            "wall_screens", f"{plan.screens:,} wall screens, {plan.screen_rate:g} alerts/s: event -> client",
            **_p(latencies), target="p99 <= 250 ms", limit=noop_p99,
            limit_label=_label("no-op WS broadcast p99 {:,.1f} ms", noop_p99), ratio=_ratio(p99, noop_p99),
            details={"samples": len(latencies), "screens": plan.screens, "events": screens["events"],
                     "open_s": screens["open_s"], "opening": _p(screens["opening_ms"]),
                     "counts": screens["counts"]},
        ),
        Figure(
            "wall_screen_memory", "center memory per /ws/ops connection (RSS after - before)", value=kb,
            unit=" KB/conn", target="- (center <= 400 MB)", limit=noop_kb,
            limit_label=_label("no-op WS {:,.0f} KB/conn", noop_kb), ratio=_ratio(kb, noop_kb),
            details={"rss_before_mb": screens["rss_before_mb"], "rss_after_mb": screens["rss_after_mb"],
                     "screens": plan.screens},
        ),
    ]  # fmt: skip


def _limits(plan: Plan, found: dict[str, Any]) -> list[Figure]:
    rates, hop, noop = found["rates"], found["hop"], found["noop"]
    geo = rates["geoadd_per_s"]
    rows = [
        Figure("limit_xadd", "[limit] Redis XADD, pipelined", value=rates["xadd_per_s"]),
        Figure("limit_geoadd", "[limit] Redis GEOADD, pipelined", value=geo, target="reference ~67k/s",
               ratio=geo / REF["geoadd"]),
        Figure("limit_http", f"[limit] no-op HTTP GET /healthz ({plan.clients} clients)",
               **_p(noop["latencies_ms"]), value=noop["rate"], target="reference ~11k/s",
               ratio=noop["rate"] / REF["http"]),
        Figure("limit_stream_hop", "[limit] Redis stream hop, XADD -> XREAD", hop["p50_ms"], hop["p99_ms"]),
    ]  # fmt: skip
    if "search" in found:
        rows.append(Figure("limit_geosearch", "[limit] Redis GEOSEARCH, 2 km, 10 nearest, 1 client",
                           **_p(found["search"]["geosearch_ms"])))  # fmt: skip
    if "ws_positions" in found:
        ws = found["ws_positions"]
        echo = ws["echo"]
        rows.append(Figure(
            "limit_ws_echo",
            f"[limit] no-op WebSocket echo ({ws['sockets']:,} sockets, {ws['in_flight']} in flight)",
            **_p(echo["latencies_ms"]), value=echo["rate"], unit=" msgs/s",
            details={k: v for k, v in echo.items() if k != "latencies_ms"},
        ))  # fmt: skip
    if "screens" in found:
        noop = found["screens"]["noop"]
        rows.append(Figure(
            "limit_ws_broadcast",
            f"[limit] no-op WebSocket broadcast, {plan.screens:,} sockets ({plan.screen_rate:g}/s; burst)",
            **_p(noop["latencies_ms"]), value=noop["frames_per_s"], unit=" frames/s",
            details={k: v for k, v in noop.items() if k != "latencies_ms"},
        ))  # fmt: skip
    return rows


_ETA_TARGETS = {"50": "p99 <= 0.5 ms", "2000": "p99 <= 5 ms"}


def _roads(roads: dict[str, Any]) -> list[Figure]:
    rows: list[Figure] = []
    for name, title in (("shipped", "shipped extract"), ("grid", "generated city")):
        prep, eta = roads[name]["prepare"], roads[name]["eta"]
        where = f"{title}, {prep['nodes']:,} nodes"
        for size, times in eta.items():
            cached_p99 = percentile(times["cached_ms"], 99)
            p99 = percentile(times["fresh_ms"], 99)
            rows.append(Figure(
                f"road_eta_{size}_{name}", f"road ETA, {int(size):,} candidates -> 1 incident ({where})",
                **_p(times["fresh_ms"]), value=None, target=_ETA_TARGETS.get(size, "-"), limit=cached_p99,
                limit_label=_label("fixes cached p99 {:.2f} ms", cached_p99), ratio=_ratio(p99, cached_p99),
                details={"cached": _p(times["cached_ms"]), "queries": len(times["fresh_ms"])},
            ))  # fmt: skip
        grown = (prep["rss_after_mb"] or 0) - (prep["rss_before_mb"] or 0)
        rows.append(Figure(
            f"road_prepare_{name}", f"road graph prepared from the extract ({where}, {prep['arcs']:,} arcs)",
            value=prep["prepare_s"], unit=" s", target="next start ~1 s", limit=prep["load_s"],
            limit_label=f"from the cache {prep['load_s']:.2f} s; memory +{grown:,.0f} MB",
            ratio=_ratio(prep["prepare_s"], prep["load_s"]), details=prep,
        ))  # fmt: skip
    rec = roads["recommendation"]
    straight_p99 = percentile(rec["straight_ms"], 99)
    rows.append(Figure(
        "recommendation_roads", f"whole recommendation by road, {rec['units']:,} live units "
        f"({rec['pool']} candidates by road)", **_p(rec["road_ms"]), value=None,
        target="p99 <= 2x straight line", limit=straight_p99,
        limit_label=_label("straight line p99 {:.2f} ms", straight_p99),
        ratio=_ratio(percentile(rec["road_ms"], 99), straight_p99),
        details={"straight": _p(rec["straight_ms"]), "searches": rec["searches"]},
    ))  # fmt: skip
    return rows


def _reports(found: dict[str, Any]) -> list[Figure]:
    scan = max(found["scan_ms"])
    rows: list[Figure] = []
    for key, asked in found["asked"].items():
        slowest = max(asked["ms"])
        rows.append(Figure(
            f"report_{key}", f"report {asked['report']} by {asked['by']}, a year of {found['incidents']:,} "
            f"incidents ({asked['groups']} groups)", value=slowest, unit=" ms", target="<= 2,000 ms",
            limit=scan, limit_label=f"counting the year's incidents {scan:,.0f} ms",
            ratio=_ratio(slowest, scan),
            details={"ms": asked["ms"], "write_s": found["write_s"]},
        ))  # fmt: skip
    return rows
