"""What a replay measures, in simulated seconds on the run's clock, and the figures it reports.

Response times are per call, so that both policies are measured on the very same calls: from the call to
the first unit on scene at its incident (a call linked to an incident that already has a unit there
counts 0). Per incident (the center may link a call to an open incident, so the incidents of two runs
can differ a little): when it started waiting with nobody free (the center put it on its pending list,
or the greedy desk queued it) and when its first unit was offered. Per unit: the time it was busy, from
receiving an offer until it was free again, and the part of it spent driving. A call whose incident
nobody reached by the end of the run counts with the time it had waited by then, a lower bound: a
quantile that may fall on one is shown as "> x min".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class IncidentLog:
    call: int = -1  # the call's row in the file
    category: str = ""
    priority: int = 3
    called_at: float | None = None
    pending_at: float | None = None
    offered_at: float | None = None
    arrived_at: float | None = None


@dataclass
class RunLog:
    """A run's record; the units, the call injector and the observers write to it."""

    unit_kinds: dict[int, str] = field(default_factory=dict)
    origin: float = 0.0  # the run's clock at the first call
    incidents: dict[int, IncidentLog] = field(default_factory=dict)
    linked: int = 0
    refused: int = 0
    answered: list[tuple[int, int, float]] = field(default_factory=list)  # incident, priority, at
    busy: list[tuple[int, float, float]] = field(default_factory=list)  # unit, from, to
    driving_s: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.answered)

    def incident(self, incident_id: int) -> IncidentLog:
        return self.incidents.setdefault(incident_id, IncidentLog())

    def called(self, incident_id: int, call: int, category: str, priority: int, at: float) -> None:
        """A call that became a new incident."""
        log = self.incident(incident_id)
        log.call, log.category, log.priority, log.called_at = call, category, priority, at
        self.answered.append((incident_id, priority, at))

    def linked_to(self, incident_id: int, priority: int, at: float) -> None:
        """A call the center linked to an open incident."""
        self.linked += 1
        self.answered.append((incident_id, priority, at))

    def pending(self, incident_id: int, at: float) -> None:
        log = self.incident(incident_id)
        if log.pending_at is None and log.offered_at is None:
            log.pending_at = at

    def offered(self, unit_id: int, incident_id: int, at: float) -> None:
        log = self.incident(incident_id)
        log.offered_at = at if log.offered_at is None else min(log.offered_at, at)

    def arrived(self, unit_id: int, incident_id: int, at: float) -> None:
        log = self.incident(incident_id)
        log.arrived_at = at if log.arrived_at is None else min(log.arrived_at, at)

    def worked(self, unit_id: int, since: float, until: float) -> None:
        self.busy.append((unit_id, since, until))

    def drove(self, unit_id: int, seconds: float) -> None:
        self.driving_s += seconds


@dataclass(frozen=True)
class Quantile:
    seconds: float
    at_least: bool = False  # it falls on an incident not reached by the end: the true value is larger

    def minutes(self) -> str:
        if math.isnan(self.seconds):
            return "-"
        return f"{'> ' if self.at_least else ''}{self.seconds / 60:.1f} min"


def quantile(values: Sequence[tuple[float, bool]], q: float) -> Quantile:
    """The q-quantile (nearest rank) of (seconds, is a lower bound) pairs."""
    if not values:
        return Quantile(math.nan)
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    # exact only if no value at or below it may still grow
    return Quantile(ordered[k][0], any(open_ for _, open_ in ordered[: k + 1]))


@dataclass(frozen=True)
class Level:
    """The calls of one priority: time from the call to the first unit on scene (mean, p50, p90; a
    lower bound where some were never reached), the share reached within 5 minutes, and the time
    their incidents waited with nobody free."""

    calls: int
    mean: Quantile
    p50: Quantile
    p90: Quantile
    within_5: float
    waited_s: float


@dataclass(frozen=True)
class Summary:
    policy: str
    calls: int
    incidents: int
    linked: int
    refused: int
    unreached: int
    p50: Quantile
    p90: Quantile
    urgent_p50: Quantile  # priorities 1 and 2
    urgent_p90: Quantile
    within_5: float
    within_10: float
    waited: int  # incidents that waited with nobody free
    waited_total_s: float
    waited_p90: Quantile
    utilisation: float
    driving: float  # share of the units' busy time spent driving
    by_kind: dict[str, float]
    by_priority: dict[int, Level] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return {k: clean(x) for k, x in v.items()} if isinstance(v, dict) else v

        return {k: clean(v) for k, v in asdict(self).items()}


def summarise(policy: str, log: RunLog, window_s: float, end_s: float) -> Summary:
    """Figures of one run: ``window_s`` is the span of the calls from ``log.origin`` (utilisation is
    measured over it), ``end_s`` when the run stopped (the run's clock)."""
    incidents = [i for i in log.incidents.values() if i.called_at is not None]
    response = [_response(log.incident(incident_id).arrived_at, at, end_s)
                for incident_id, _, at in log.answered]  # fmt: skip
    urgent = [r for r, (_, priority, _) in zip(response, log.answered, strict=True) if priority <= 2]
    waits = [((i.offered_at if i.offered_at is not None else end_s) - i.pending_at, i.offered_at is None)
             for i in incidents if i.pending_at is not None]  # fmt: skip
    levels = {}
    for level in sorted({priority for _, priority, _ in log.answered}):
        of = [r for r, (_, priority, _) in zip(response, log.answered, strict=True) if priority == level]
        waited = sum(((i.offered_at if i.offered_at is not None else end_s) - i.pending_at)
                     for i in incidents if i.pending_at is not None and i.priority == level)  # fmt: skip
        levels[level] = Level(
            len(of), Quantile(sum(v for v, _ in of) / len(of), any(o for _, o in of)), quantile(of, 0.5),
            quantile(of, 0.9), _share(of, 300), waited,
        )  # fmt: skip
    busy = _busy_per_unit(log.busy, log.origin, log.origin + window_s)
    kinds = Counter(log.unit_kinds.values())
    span = max(window_s, 1e-9)
    worked = sum(_busy_per_unit(log.busy, -math.inf, math.inf).values())
    return Summary(
        policy=policy, calls=log.calls, incidents=len(incidents), linked=log.linked, refused=log.refused,
        unreached=sum(1 for i in incidents if i.arrived_at is None),
        p50=quantile(response, 0.5), p90=quantile(response, 0.9),
        urgent_p50=quantile(urgent, 0.5), urgent_p90=quantile(urgent, 0.9),
        within_5=_share(response, 300), within_10=_share(response, 600),
        waited=len(waits), waited_total_s=sum(w for w, _ in waits), waited_p90=quantile(waits, 0.9),
        utilisation=sum(busy.values()) / (len(log.unit_kinds) * span) if log.unit_kinds else 0.0,
        driving=log.driving_s / worked if worked else 0.0,
        by_kind={kind: sum(busy.get(u, 0.0) for u, k in log.unit_kinds.items() if k == kind) / (n * span)
                 for kind, n in sorted(kinds.items())}, by_priority=levels,
    )  # fmt: skip


def _response(arrived_at: float | None, called_at: float, end_s: float) -> tuple[float, bool]:
    """Seconds from a call to the first unit on scene (0 if one was there already), or a lower bound."""
    if arrived_at is not None:
        return max(0.0, arrived_at - called_at), False
    return end_s - called_at, True


def _busy_per_unit(busy: Sequence[tuple[int, float, float]], start: float, stop: float) -> dict[int, float]:
    """Seconds each unit was busy within [start, stop] (overlapping jobs counted once)."""
    out: dict[int, float] = {}
    by_unit: dict[int, list[tuple[float, float]]] = {}
    for unit_id, since, until in busy:
        by_unit.setdefault(unit_id, []).append((max(since, start), min(until, stop)))
    for unit_id, spans in by_unit.items():
        total, reach = 0.0, start
        for since, until in sorted(spans):
            since = max(since, reach)
            if until > since:
                total += until - since
                reach = until
        out[unit_id] = total
    return out


def _share(values: Sequence[tuple[float, bool]], limit: float) -> float:
    """Share reached within ``limit`` seconds (one not reached by the end never counts)."""
    return sum(1 for v, open_ in values if not open_ and v <= limit) / len(values) if values else math.nan


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if math.isfinite(a) and math.isfinite(b) and b else "-"


def table(runs: Mapping[str, Summary], names: Mapping[str, str]) -> str:
    """The runs side by side; with two, a last column ``second / first``."""
    keys = list(runs)
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, attr: str, fmt: Any = str, value: Any = None) -> None:
        cells = [getattr(runs[k], attr) for k in keys]
        numbers = [value(c) if value else c for c in cells]
        both = len(keys) == 2 and not any(isinstance(c, Quantile) and c.at_least for c in cells)
        rows.append((label, [fmt(c) for c in cells], ratio(numbers[1], numbers[0]) if both else ""))

    def pct(v: float) -> str:
        return f"{100 * v:.1f} %"

    def quant(label: str, attr: str) -> None:
        row(label, attr, Quantile.minutes, lambda q: q.seconds)

    row("calls", "calls")
    row("incidents (the other calls linked to them)", "incidents")
    quant("response, call -> first arrival, p50", "p50")
    quant("response p90", "p90")
    quant("  priority 1-2: p50", "urgent_p50")
    quant("  priority 1-2: p90", "urgent_p90")
    rows += _level_rows(runs, keys)
    row("arrived within 5 min", "within_5", pct)
    row("arrived within 10 min", "within_10", pct)
    row("incidents not reached by the end of the run", "unreached")
    row("incidents that waited with nobody free", "waited")
    row("time waited with nobody free, total", "waited_total_s", lambda v: f"{v / 3600:.1f} h")
    quant("  p90 of one wait", "waited_p90")
    row("unit utilisation (busy share of the window)", "utilisation", pct)
    row("  of the busy time, driving", "driving", pct)
    for kind in sorted({k for s in runs.values() for k in s.by_kind}):
        rows.append((f"  {kind}", [pct(runs[k].by_kind.get(kind, 0.0)) for k in keys], ""))
    headers = [names.get(k, k) for k in keys]
    width = max(len(r[0]) for r in rows) + 2
    cols = [max(len(h), *(len(r[1][i]) for r in rows)) + 2 for i, h in enumerate(headers)]
    lines = ["".ljust(width) + "".join(h.rjust(c) for h, c in zip(headers, cols, strict=True))
             + (f"   {headers[1]} / {headers[0]}" if len(keys) == 2 else "")]  # fmt: skip
    for label, cells, r in rows:
        lines.append(label.ljust(width) + "".join(v.rjust(c) for v, c in zip(cells, cols, strict=True))
                     + (f"   {r}" if r else ""))  # fmt: skip
    return "\n".join(lines)


def _level_rows(runs: Mapping[str, Summary], keys: Sequence[str]) -> list[tuple[str, list[str], str]]:
    """Per priority: mean, p50, p90, share within 5 minutes, time waited; with two runs their ratio."""
    rows: list[tuple[str, list[str], str]] = []
    for level in sorted({p for s in runs.values() for p in s.by_priority}):
        of = [runs[k].by_priority.get(level) for k in keys]
        n = max(x.calls for x in of if x)
        fields: list[tuple[str, Callable[[Level], Quantile | float], Callable[[Any], str]]] = [
            (f"  priority {level} ({n} calls): mean", lambda x: x.mean, Quantile.minutes),
            ("    p50", lambda x: x.p50, Quantile.minutes),
            ("    p90", lambda x: x.p90, Quantile.minutes),
            ("    within 5 min", lambda x: x.within_5, lambda v: f"{100 * v:.1f} %"),
            ("    time waited with nobody free", lambda x: x.waited_s, lambda v: f"{v / 60:.0f} min"),
        ]
        for label, pick, fmt in fields:
            cells = [pick(x) if x else None for x in of]
            values = [c.seconds if isinstance(c, Quantile) else c for c in cells]
            exact = all(c is not None and not (isinstance(c, Quantile) and c.at_least) for c in cells)
            a, b = [*values, None, None][:2]
            shown = ratio(b, a) if len(keys) == 2 and exact and a is not None and b is not None else ""
            rows.append((label, [fmt(c) if c is not None else "-" for c in cells], shown))
    return rows
