"""The category catalogue: what each kind of call or grid report is, how urgent, and what to send.

The catalogue is data (``categories.toml``), loaded and validated once at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
