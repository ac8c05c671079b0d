"""The category catalogue: what each kind of call or grid report is, how urgent, and what to send.

The catalogue is data (``categories.toml``), loaded and validated once at start-up. Validation is strict
and stops at the first problem with the entry and field named: a misspelt unit kind or a missing plan
would otherwise show up only when a real call of that category finds nothing to send.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from core.datafile import read_toml


class Channel(StrEnum):
    """Where an alert comes from: the four emergency numbers and the grid app."""

    POLICE = "110"
    FIRE = "119"
    MEDICAL = "120"
    TRAFFIC = "122"
    GRID = "grid"


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One line of a response plan: ``count`` units of any of ``kinds``, from ``tiers`` in order."""

    kinds: tuple[str, ...]
    count: int
    tiers: tuple[int, ...] = (1,)
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseTargets:
    """Seconds from receipt to dispatch and to arrival that this category should meet."""

    dispatch_s: int
    arrive_s: int


@dataclass(frozen=True, slots=True)
class Category:
    """One category of call or grid report, with its priority, response plan and matching rules."""

    code: str
    name_zh: str
    name_en: str
    channels: frozenset[Channel]
    priority: int
    plan: tuple[PlanItem, ...]
    auto_dispatch: bool
    duplicate_radius_m: float
    duplicate_window_s: int
    targets: ResponseTargets
    # categories whose open incidents a new alert of this one may be linked to (itself included)
    related: frozenset[str]
    # a grid report of this category is an emergency: it goes straight to dispatch
    emergency: bool = False
    # working days each escalation level has for a grid case (community, town); None: the defaults
    case_limit_days: tuple[int, ...] | None = None
    # a unit's own emergency: the plan sends units of the raising unit's agency (dispatch/own_service.py)
    own_service: bool = False

    @property
    def opens_case(self) -> bool:
        """A grid report that is not an emergency: a case with a deadline, not a dispatch."""
        return self.channels == {Channel.GRID} and not self.emergency

    @property
    def dispatchable(self) -> bool:
        """Whether an alert of this category sends units (otherwise it only opens a grid case)."""
        return bool(self.plan)


PRIORITIES = (1, 2, 3, 4)
TIERS = (1, 2, 3)
# levels of the grid escalation ladder that have a limit: community, then town (the county is last)
CASE_LEVELS = 2

_DEFAULT_PATH = Path(__file__).with_name("categories.toml")
_CODE = re.compile(r"[a-z][a-z0-9_]*\Z")
_TOP = frozenset({"default_targets", "related_groups", "categories"})
_REQUIRED = frozenset(
    {
        "name_zh",
        "name_en",
        "channels",
        "priority",
        "auto_dispatch",
        "duplicate_radius_m",
        "duplicate_window_s",
    }
)
_OPTIONAL = frozenset({"plan", "targets", "related", "emergency", "case_limit_days", "own_service"})
_PLAN_KEYS = frozenset({"kinds", "count", "tiers", "capabilities"})
_TARGET_KEYS = frozenset({"dispatch_s", "arrive_s"})


class CatalogueError(ValueError):
    """A problem in the catalogue file, naming the entry and the field so it can be fixed at once."""

    def __init__(self, entry: str, field: str, reason: str, source: str = "categories.toml") -> None:
        super().__init__(f"{source}: entry {entry!r}, field {field!r}: {reason}")
        self.entry = entry
        self.field = field
        self.reason = reason
        self.source = source


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All categories by code. Iterating yields the categories; ``in`` takes a code or a category."""

    categories: Mapping[str, Category]

    def get(self, code: str) -> Category:
        """The category with this code; ``KeyError`` if there is none."""
        try:
            return self.categories[code]
        except KeyError:
            raise KeyError(f"unknown category {code!r}") from None

    def for_channel(self, channel: Channel | str) -> list[Category]:
        """Categories that can arrive on this channel, most urgent first (for call-taker pick lists)."""
        wanted = Channel(channel)
        found = [c for c in self.categories.values() if wanted in c.channels]
        return sorted(found, key=lambda c: (c.priority, c.code))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Category):
            return self.categories.get(item.code) == item
        return isinstance(item, str) and item in self.categories

    def __len__(self) -> int:
        return len(self.categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories.values())


def load_catalogue(path: Path | None = None, unit_kinds: Collection[str] | None = None) -> Catalogue:
    """Read and validate the catalogue; the first problem raises :class:`CatalogueError`.

    Without ``path`` the ``categories.toml`` shipped beside this module is read. With ``unit_kinds`` (the
    codes from the unit-kind file) every kind named in a response plan must be one of them.

    File layout: ``[default_targets]`` maps each priority ("1".."4") to response targets for categories
    that give none; ``[related_groups]`` names groups of categories that are related to each other;
    ``[categories.<code>]`` holds one category. Relations are symmetric and include the category itself.
    """
    path = _DEFAULT_PATH if path is None else path
    source = path.name

    def fail(entry: str, field: str, reason: str) -> NoReturn:
        raise CatalogueError(entry, field, reason, source)

    doc = read_toml(path, fail)

    unknown = sorted(set(doc) - _TOP)
    if unknown:
        fail("(top level)", unknown[0], f"unknown key; allowed: {', '.join(sorted(_TOP))}")
    table = doc.get("categories")
    if not isinstance(table, dict) or not table:
        fail("(top level)", "categories", "must be a non-empty table of [categories.<code>] entries")
    codes = frozenset(table)
    defaults = _default_targets(doc.get("default_targets", {}), source)
    links = _group_links(doc.get("related_groups", {}), codes, source)
    kinds = None if unit_kinds is None else frozenset(unit_kinds)

    parsed: dict[str, Category] = {}
    for code, raw in table.items():
        if not _CODE.match(code):
            fail(code, "(code)", "must be lower-case letters, digits and underscores, starting with a letter")
        if not isinstance(raw, dict):
            fail(code, "(entry)", f"must be a table, got {type(raw).__name__}")
        category = _parse_category(_Fields(source, code, raw), codes, kinds, defaults)
        for other in category.related:
            links.setdefault(code, set()).add(other)
            links.setdefault(other, set()).add(code)
        parsed[code] = category

    # the relation is symmetric, so fill it in only once every category's own list is known
    final = {
        code: replace(c, related=frozenset(links.get(code, set())) | {code}) for code, c in parsed.items()
    }
    return Catalogue(MappingProxyType(final))


class _Fields:
    """Typed, strict access to one TOML table, raising errors that name the entry and the field."""

    def __init__(self, source: str, entry: str, raw: dict[str, Any], prefix: str = "") -> None:
        self.source, self.entry, self.raw, self.prefix = source, entry, raw, prefix

    def fail(self, field: str, reason: str) -> NoReturn:
        raise CatalogueError(self.entry, self.prefix + field, reason, self.source)

    def child(self, raw: dict[str, Any], prefix: str) -> _Fields:
        return _Fields(self.source, self.entry, raw, self.prefix + prefix)

    def keys(self, required: frozenset[str], optional: frozenset[str] = frozenset()) -> None:
        allowed = required | optional
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            self.fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(allowed))}")
        missing = sorted(required - set(self.raw))
        if missing:
            self.fail(missing[0], "is required")

    def text(self, field: str) -> str:
        value = self.raw[field]
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"must be a non-empty string, got {value!r}")
        return value

    def flag(self, field: str, default: bool = False) -> bool:
        value = self.raw.get(field, default)
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {value!r}")
        return value

    def integer(self, field: str, low: int, high: int | None = None) -> int:
        return self.check_int(field, self.raw[field], low, high)

    def check_int(self, field: str, value: Any, low: int, high: int | None = None) -> int:
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < low or (high is not None and value > high):
            self.fail(field, f"must be an integer {bound}, got {value!r}")
        return int(value)

    def positive(self, field: str) -> float:
        value = self.raw[field]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value <= 0:
            self.fail(field, f"must be a number > 0, got {value!r}")
        return float(value)

    def items(self, field: str, default: list[Any] | None = None, allow_empty: bool = False) -> list[Any]:
        value = self.raw.get(field, default)
        if not isinstance(value, list) or (not value and not allow_empty):
            self.fail(field, f"must be a {'' if allow_empty else 'non-empty '}list, got {value!r}")
        return value

    def names(self, field: str, choices: Collection[str] | None, what: str, default: Any = None) -> list[str]:
        """A list of distinct strings, each one of ``choices`` when those are known."""
        values = self.items(field, default, allow_empty=default is not None)
        for value in values:
            if not isinstance(value, str) or not value:
                self.fail(field, f"must be a list of non-empty strings, got {value!r}")
            if choices is not None and value not in choices:
                self.fail(field, f"{value!r} is not a known {what}")
        if len(set(values)) != len(values):
            self.fail(field, f"lists something twice: {values!r}")
        return values


def _parse_category(
    f: _Fields, codes: frozenset[str], kinds: frozenset[str] | None, defaults: dict[int, ResponseTargets]
) -> Category:
    f.keys(_REQUIRED, _OPTIONAL)
    code = f.entry
    channels = frozenset(Channel(c) for c in f.names("channels", [c.value for c in Channel], "channel"))
    priority = f.integer("priority", PRIORITIES[0], PRIORITIES[-1])
    grid_only = channels == {Channel.GRID}
    emergency = f.flag("emergency")
    if emergency and Channel.GRID not in channels:
        f.fail("emergency", "only grid categories can be marked emergency (calls are dispatched anyway)")
    auto_dispatch = f.flag("auto_dispatch")

    plan = tuple(_parse_plan_item(f, i, raw, kinds) for i, raw in enumerate(f.items("plan", [], True)))
    if not plan and not (grid_only and not emergency):
        f.fail("plan", "must list at least one unit: only non-emergency grid categories may send nobody")
    if not plan and auto_dispatch:
        f.fail("auto_dispatch", "cannot be true with an empty plan: there is nothing to send")
    own_service = f.flag("own_service")
    if own_service and grid_only:
        f.fail("own_service", "a unit's own emergency is dispatched: not a grid-only category")

    if "targets" in f.raw:
        targets = _parse_targets(f, f.raw["targets"], "targets")
    elif priority in defaults:
        targets = defaults[priority]
    else:
        f.fail("targets", f"is required: [default_targets] has no entry for priority {priority}")

    related = f.names("related", codes, "category code", default=[])
    limits = None
    if "case_limit_days" in f.raw:
        if Channel.GRID not in channels:
            f.fail("case_limit_days", "only grid categories have a case escalation ladder")
        days = f.items("case_limit_days")
        if len(days) != CASE_LEVELS:
            f.fail("case_limit_days", f"must list {CASE_LEVELS} limits (community, town), got {days!r}")
        # 0 is allowed: the case must be handled on the same working day
        limits = tuple(f.check_int("case_limit_days", d, 0) for d in days)

    return Category(
        code=code,
        name_zh=f.text("name_zh"),
        name_en=f.text("name_en"),
        channels=channels,
        priority=priority,
        plan=plan,
        auto_dispatch=auto_dispatch,
        duplicate_radius_m=f.positive("duplicate_radius_m"),
        duplicate_window_s=f.integer("duplicate_window_s", 1),
        targets=targets,
        related=frozenset(related),
        emergency=emergency,
        case_limit_days=limits,
        own_service=own_service,
    )


def _parse_plan_item(f: _Fields, index: int, raw: Any, kinds: frozenset[str] | None) -> PlanItem:
    if not isinstance(raw, dict):
        f.fail(f"plan[{index}]", f"must be a table like {{ kinds = [...], count = 1 }}, got {raw!r}")
    item = f.child(raw, f"plan[{index}].")
    item.keys(frozenset({"kinds", "count"}), _PLAN_KEYS)
    tiers = item.items("tiers", [1])
    for tier in tiers:
        item.check_int("tiers", tier, TIERS[0], TIERS[-1])
    if len(set(tiers)) != len(tiers):
        item.fail("tiers", f"lists a tier twice: {tiers!r}")
    return PlanItem(
        kinds=tuple(item.names("kinds", kinds, "unit kind")),
        count=item.integer("count", 1),
        tiers=tuple(tiers),
        capabilities=tuple(item.names("capabilities", None, "capability", default=[])),
    )


def _parse_targets(f: _Fields, raw: Any, field: str) -> ResponseTargets:
    if not isinstance(raw, dict):
        f.fail(field, f"must be a table {{ dispatch_s = ..., arrive_s = ... }}, got {raw!r}")
    t = f.child(raw, field + ".")
    t.keys(_TARGET_KEYS)
    dispatch_s, arrive_s = t.integer("dispatch_s", 1), t.integer("arrive_s", 1)
    if arrive_s < dispatch_s:
        t.fail("arrive_s", f"must not be before dispatch_s ({dispatch_s}), got {arrive_s}")
    return ResponseTargets(dispatch_s, arrive_s)


def _default_targets(raw: Any, source: str) -> dict[int, ResponseTargets]:
    f = _Fields(source, "default_targets", raw if isinstance(raw, dict) else {})
    if not isinstance(raw, dict):
        f.fail("(table)", f"must be a table keyed by priority, got {raw!r}")
    out: dict[int, ResponseTargets] = {}
    for key, value in raw.items():
        if key not in {str(p) for p in PRIORITIES}:
            f.fail(key, f"unknown key; must be a priority {PRIORITIES[0]}..{PRIORITIES[-1]}")
        out[int(key)] = _parse_targets(f, value, key)
    return out


def _group_links(raw: Any, codes: frozenset[str], source: str) -> dict[str, set[str]]:
    """Turn named groups into links: every member is related to every other member."""
    f = _Fields(source, "related_groups", raw if isinstance(raw, dict) else {})
    if not isinstance(raw, dict):
        f.fail("(table)", f"must be a table of named lists of category codes, got {raw!r}")
    links: dict[str, set[str]] = {}
    for name in raw:
        members = f.names(name, codes, "category code")
        for code in members:
            links.setdefault(code, set()).update(members)
    return links
