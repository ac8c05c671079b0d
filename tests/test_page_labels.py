"""The pages' words and status groups agree with the center's enums, without a browser: every status,
recommendation reason, shortfall and event kind the center can send has a Chinese and English label in
web/static/js/labels.js, and the status groups the pages use come from the page config, not from copies
in the scripts."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from alerts.incidents import OPEN, UNSERVED, IncidentStatus
from cases.status import CaseStatus, Mark
from dispatch.assignments import ACTIVE, AssignmentStatus
from dispatch.recommend import Reason, ShortfallCode
from units.status import AVAILABILITY, SELF_REPORTABLE, UnitStatus
from web.pages import STATIC, statuses

ROOT = Path(__file__).resolve().parent.parent
LABELS = STATIC / "js" / "labels.js"
SCRIPTS = sorted((STATIC / "js").glob("*.js"))
# where the center writes events (tests and the virtual environment excluded)
SOURCES = [p for folder in ("alerts", "cases", "center", "core", "dispatch", "realtime", "units", "web")
           for p in sorted((ROOT / folder).rglob("*.py"))]  # fmt: skip
KIND = re.compile(r"""["']((?:alert|assignment|case|incident|unit)\.[a-z_]+)["']""")
# the names of trace spans (tracing.span("alert.intake"), tracing.record(...)) look like event kinds
SPAN = re.compile(r"""tracing\.(?:span|record)\(\s*["']([a-z_.]+)["']""")


def table(name: str) -> dict[str, list[str]]:
    """The object literal ``export const NAME = {...};`` of labels.js: key -> its quoted strings."""
    source = LABELS.read_text(encoding="utf-8")
    found = re.search(rf"^export const {name} = \{{\n(.*?)^\}};", source, re.S | re.M)
    assert found, f"labels.js has no table {name}"
    rows: dict[str, list[str]] = {}
    for line in found.group(1).splitlines():
        row = re.match(r"""\s*["']?([\w.]+)["']?\s*:\s*\[(.*)\],?\s*$""", line)
        if row:
            rows[row.group(1)] = re.findall(r'"([^"]*)"', row.group(2))
    return rows


def event_kinds() -> set[str]:
    """The kinds of event the center writes: the names spelled out in its sources, and the families it
    builds from an enum (``f"assignment.{status}"`` and the like)."""
    texts = [path.read_text(encoding="utf-8") for path in SOURCES]
    spans = {k for text in texts for k in SPAN.findall(text)}
    kinds = {k for text in texts for k in KIND.findall(text)} - spans
    kinds |= {f"assignment.{s}" for s in AssignmentStatus}
    kinds |= {f"case.{s}" for s in CaseStatus} | {f"case.{m}" for m in Mark}
    kinds |= {f"incident.{s}" for s in (IncidentStatus.PENDING, IncidentStatus.AWAITING_CONFIRMATION)}
    return kinds


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("UNIT_STATUS", list(UnitStatus)),
        ("INCIDENT_STATUS", list(IncidentStatus)),
        ("ASSIGNMENT_STATUS", list(AssignmentStatus)),
        ("REASONS", list(Reason)),
        ("SHORTFALLS", list(ShortfallCode)),
    ],
)
def test_every_enum_value_has_a_label(name: str, values: list[StrEnum]) -> None:
    rows = table(name)
    missing = [v.value for v in values if v.value not in rows]
    assert missing == [], f"labels.js {name} has no label for {missing}"
    for value in values:
        zh, en = rows[value.value][:2]
        assert zh and en, f"labels.js {name}.{value.value} needs both a Chinese and an English word"


def test_every_event_kind_has_a_label() -> None:
    kinds = event_kinds()
    assert {"incident.created", "assignment.offered", "unit.status_changed"} <= kinds  # the scan works
    rows = table("EVENTS")
    missing = sorted(kinds - set(rows) - {"units.moved"})
    assert missing == [], f"labels.js EVENTS has no label for {missing}"


def test_the_page_config_carries_the_enums_and_their_groups() -> None:
    s = statuses()
    assert s["unit"] == [v.value for v in UnitStatus]
    assert s["incident"] == [v.value for v in IncidentStatus]
    assert s["assignment"] == [v.value for v in AssignmentStatus]
    assert s["unit_availability"] == {k.value: v.value for k, v in AVAILABILITY.items()}
    assert set(s["unit_self_reportable"]) == {v.value for v in SELF_REPORTABLE}
    assert set(s["incident_open"]) == {v.value for v in OPEN}
    assert set(s["incident_unserved"]) == {v.value for v in UNSERVED}
    assert set(s["assignment_active"]) == {v.value for v in ACTIVE}


def test_no_script_keeps_its_own_copy_of_a_status_group() -> None:
    """A list or set of two or more status names written out in a script is a copy that drifts from the
    enums; the groups come from statuses.js (the page config) instead."""
    names = {v.value for enum in (UnitStatus, IncidentStatus, AssignmentStatus) for v in enum}
    literal = re.compile(r"""\[\s*((?:"[a-z_]+"\s*,\s*)+"[a-z_]+")\s*,?\s*\]""")
    copies = []
    for script in SCRIPTS:
        for found in literal.finditer(script.read_text(encoding="utf-8")):
            words = re.findall(r'"([a-z_]+)"', found.group(1))
            if sum(w in names for w in words) >= 2 and all(w in names for w in words):
                copies.append(f"{script.name}: {found.group(0)}")
    allowed = {"wall.js"}  # the wall's legend: a chosen few statuses, in the order drawn, not a group
    assert [c for c in copies if c.split(":")[0] not in allowed] == []


def test_the_replay_player_has_both_words_for_what_it_shows() -> None:
    """Every word of the console's replay player (the REPLAY table) is in Chinese and English, and every
    one the player asks for is there, the marks it draws (offered, on scene) among them."""
    rows = table("REPLAY")
    for key, words in rows.items():
        assert len(words) >= 2 and all(words[:2]), f"REPLAY.{key} needs a Chinese and an English word"
    player = (STATIC / "js" / "console-replay.js").read_text(encoding="utf-8")
    used = set(re.findall(r"REPLAY\.(\w+)", player)) | {"offered", "on_scene"}
    assert used - set(rows) == set(), f"labels.js REPLAY has no words for {sorted(used - set(rows))}"


def test_the_reports_page_has_both_words_for_what_it_shows() -> None:
    """Every word of the reports page (the REPORTS table) is in Chinese and English, and every one its
    scripts ask for is there; the figures' own names come from the report tables' columns."""
    rows = table("REPORTS")
    for key, words in rows.items():
        assert len(words) >= 2 and all(words[:2]), f"REPORTS.{key} needs a Chinese and an English word"
    scripts = "".join(p.read_text(encoding="utf-8") for p in sorted((STATIC / "js").glob("reports*.js")))
    used = set(re.findall(r"REPORTS\.(\w+)", scripts))
    assert "today" in rows and used, "the scan works"
    assert used - set(rows) == set(), f"labels.js REPORTS has no words for {sorted(used - set(rows))}"


def test_the_panic_alarm_has_both_words_for_what_it_shows() -> None:
    """Every word of the panic button and its alarm (the PANIC table) is in Chinese and English, and every
    one the unit page, the console and the wall ask for is there."""
    rows = table("PANIC")
    for key, words in rows.items():
        assert len(words) >= 2 and all(words[:2]), f"PANIC.{key} needs a Chinese and an English word"
    used: set[str] = set()
    for name in ("unit-panic.js", "panic-alarm.js"):
        used |= set(re.findall(r"PANIC\.(\w+)", (STATIC / "js" / name).read_text(encoding="utf-8")))
    assert used and used - set(rows) == set(), f"labels.js PANIC has no words for {sorted(used - set(rows))}"
