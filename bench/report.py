"""Numbers to text: percentiles, the machine's description, the printed table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def clock() -> float:
    """Seconds on CLOCK_MONOTONIC. On Linux that clock is one system-wide counter, so readings taken in
    different processes of this machine compare directly (time.monotonic() promises that only within a
    process), and unlike time.time() it never jumps when NTP steps the wall clock mid-run."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without float surprises at p = 100
    return ordered[int(rank) - 1]


@dataclass
class Figure:
    """One row of the table; times in milliseconds, rates per second."""

    name: str  # the key in the JSON file
    label: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    value: float | None = None
    unit: str = "/s"
    target: str = "-"
    limit: float | None = None
    limit_label: str = "-"
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def _value(f: Figure) -> str:
    if f.value is None:
        return "-"
    return f"{f.value:,.0f}{f.unit}" if f.value >= 100 else f"{f.value:,.1f}{f.unit}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 100 else f"{value:,.2f}" if value < 10 else f"{value:,.1f}x"


def table(figures: Sequence[Figure]) -> str:
    head = ("figure", "p50", "p99", "rate/value", "target", "limit (this run)", "ratio")
    rows = [head] + [
        (f.label, _ms(f.p50_ms), _ms(f.p99_ms), _value(f), f.target, f.limit_label, _ratio(f.ratio))
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))  # text columns left, numbers right
        cells = [c.ljust(w) if i in (0, 4, 5) else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What this ran on, so that runs on different machines can be told apart."""
    model = platform.processor() or platform.machine()
    memory_kb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass  # not Linux: the portable fields above still say something
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": round(memory_kb / 1024) if memory_kb else None,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def write_json(path: Path, run: dict[str, Any], figures: Sequence[Figure]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"run": run, "machine": machine(), "figures": {f.name: asdict(f) for f in figures}}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
