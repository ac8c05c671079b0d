"""Units: the roster, fix verdicts, trails, tracker devices."""

from __future__ import annotations

from pydantic import Field

from units.status import UnitStatus
from web.answers.common import Answer, IsoTime


class UnitOut(Answer):
    id: int
    callsign: str
    kind: str
    agency: str
    tier: int
    capabilities: list[str]
    home_zone: str | None
    crew: int
    status: UnitStatus
    status_changed_at: IsoTime
    lat: float | None = Field(description="the last known position, WGS-84; null before the first fix")
    lon: float | None
    fix_at: IsoTime | None
    retired: bool


class FixVerdict(Answer):
    unit_id: int
    verdict: str = Field(
        description="ok; old (older or repeated: ignored); suspect (an implausible jump); "
        "future or too_old (too far from the center's clock: refused)"
    )


class BatchVerdicts(Answer):
    accepted: int
    verdicts: dict[str, int] = Field(description="how many fixes got each verdict")


class TrackerDevice(Answer):
    unit_id: int
    device_id: str = Field(description="shown once: the tracker app's device identifier")
    endpoint: str


class Breadcrumb(Answer):
    at: IsoTime
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None
    heading: float | None
    suspect: bool


class Trail(Answer):
    unit_id: int
    since: IsoTime
    until: IsoTime
    fixes: list[Breadcrumb]


class PanicOut(Answer):
    """A unit's open panic: the incident it opened, where, and whether a dispatcher has it yet."""

    id: int
    unit_id: int
    callsign: str
    kind: str
    incident_id: int
    alert_id: int
    via: str = Field(description="http (the route: a phone, a radio gateway) or socket (/ws/unit)")
    lat: float
    lon: float
    raised_at: IsoTime
    raised_by: str
    acknowledged_at: IsoTime | None
    acknowledged_by: str | None
    repeated: bool = Field(False, description="true: the unit's panic was open already; this is it again")
