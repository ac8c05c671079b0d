"""Real calls to replay: the Montgomery County, PA 911 call records and the Baltimore police calls for
service (see ``simulation/data/README.md``).

Rows are ``lat, lon, "AGENCY: TITLE", "YYYY-MM-DD HH:MM" (local time), township, intersection``, no
header. Each call keeps its real place (the county's own coordinates: the fleet is placed on the county,
not in the demo city) and its real time; its title maps to a category of ``alerts/categories.toml``
and the channel of its agency (EMS -> 120, Fire -> 119, Traffic -> 122, where the category takes it).

The Baltimore file has a header (``time,priority,description,lat,lon,district,block_address,...``);
its calls are police calls (agency ``BPD``), each for one patrol car, at the department's priority
(High 1, Medium 2, Low 3, Non-Emergency 4). Officer-initiated and administrative entries of the
public feed (traffic stops, on-view arrests, lab requests, ...) are left out: no caller asked for them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

DEFAULT_FILE = Path(__file__).with_name("data") / "montgomery-pa-911-calls.csv"
BALTIMORE_FILE = Path(__file__).with_name("data") / "baltimore-911-calls.csv"
BALTIMORE_ROADS = Path(__file__).with_name("data") / "baltimore.osm.pbf"
_BALTIMORE_HEADER = "time,priority,description,lat,lon"
# the department's priority -> a 110 category for one patrol car, and the priority it is taken at
_BPD_PRIORITY = {"Emergency": ("assault", 1), "High": ("assault", 1), "Medium": ("domestic_dispute", 2),
                 "Low": ("suspicious_person", 3), "Non-Emergency": ("noise_complaint", 4)}  # fmt: skip
# entries of the feed that no member of the public called in (spelling as published, spaces squeezed)
_NOT_CALLS = frozenset({
    "TRAFFIC STOP", "NARCOTICS ONVIEW", "REPAIRS/SERVICE", "LAB REQUEST", "TRANSPORT", "FIELD INTERVIEW",
    "FOOT PATROL", "WARRANT SERVICE", "PRIVATE TOW", "CLOSED CALL", "UNFOUNDED", "TEST", "FOLLOW UP",
    "99FOLLOW UP", "EP PAPERS", "LOCATE",
})  # fmt: skip
CHANNEL = {"EMS": "120", "Fire": "119", "Traffic": "122"}
WINDOW_GAP = timedelta(hours=3)  # calls further apart than this belong to different windows


@dataclass(frozen=True, slots=True)
class ReplayCall:
    index: int  # the row number in the file
    at: datetime  # local time of the data, minute resolution
    lat: float
    lon: float
    title: str  # "EMS: FALL VICTIM"
    township: str
    address: str
    priority: str = ""  # as the source gives it, where it does (Baltimore: High, Medium, ...)

    @property
    def agency(self) -> str:
        return self.title.split(":", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class Mapped:
    """How a call enters the center: category, channel, and a priority when it differs from the
    category's own."""

    category: str
    channel: str
    priority: int | None = None


# "AGENCY: TITLE" (the county's words, upper case) -> category, priority override
_TITLES: dict[str, tuple[str, int | None]] = {
    "EMS: CARDIAC ARREST": ("cardiac_arrest", None),
    "EMS: CARDIAC EMERGENCY": ("cardiac_arrest", 2),
    "EMS: RESPIRATORY EMERGENCY": ("breathing_difficulty", None),
    "EMS: CHOKING": ("breathing_difficulty", None),
    "EMS: CVA/STROKE": ("stroke", None),
    "EMS: FALL VICTIM": ("elderly_fall", None),
    "EMS: VEHICLE ACCIDENT": ("collision_injury", None),
    "EMS: UNCONSCIOUS SUBJECT": ("unconscious_person", None),
    "EMS: UNRESPONSIVE SUBJECT": ("unconscious_person", None),
    "EMS: SYNCOPAL EPISODE": ("unconscious_person", 2),
    "EMS: SEIZURES": ("unconscious_person", 2),
    "EMS: ALTERED MENTAL STATUS": ("unconscious_person", 2),
    "EMS: OVERDOSE": ("poisoning", None),
    "EMS: HEAD INJURY": ("serious_injury", 2),
    "EMS: HEMORRHAGING": ("serious_injury", None),
    "EMS: ASSAULT VICTIM": ("serious_injury", 2),
    "EMS: BURN VICTIM": ("serious_injury", 2),
    "EMS: FRACTURE": ("serious_injury", 3),
    "EMS: LACERATIONS": ("serious_injury", 3),
    "EMS: MATERNITY": ("childbirth", None),
    "EMS: BUILDING FIRE": ("building_fire", None),
    "EMS: VEHICLE FIRE": ("vehicle_fire", None),
    "EMS: GAS-ODOR/LEAK": ("gas_leak", None),
    "EMS: CARBON MONOXIDE DETECTOR": ("gas_leak", 2),
    "EMS: HAZARDOUS MATERIALS INCIDENT": ("hazmat", None),
    "EMS: RESCUE - WATER": ("water_rescue", None),
    "Fire: FIRE ALARM": ("outdoor_fire", None),  # no alarm category: one engine goes to look
    "Fire: FIRE INVESTIGATION": ("outdoor_fire", None),
    "Fire: UNKNOWN TYPE FIRE": ("outdoor_fire", None),
    "Fire: ELECTRICAL FIRE OUTSIDE": ("outdoor_fire", None),
    "Fire: TRASH/DUMPSTER FIRE": ("outdoor_fire", None),
    "Fire: BUILDING FIRE": ("building_fire", None),
    "Fire: APPLIANCE FIRE": ("building_fire", 2),
    "Fire: VEHICLE FIRE": ("vehicle_fire", None),
    "Fire: VEHICLE ACCIDENT": ("collision_injury", None),
    "Fire: GAS-ODOR/LEAK": ("gas_leak", None),
    "Fire: CARBON MONOXIDE DETECTOR": ("gas_leak", 2),
    "Fire: WOODS/FIELD FIRE": ("wildland_fire", None),
    "Fire: HAZARDOUS MATERIALS INCIDENT": ("hazmat", None),
    "Fire: RESCUE - WATER": ("water_rescue", None),
    "Fire: RESCUE - ELEVATOR": ("trapped_person", None),
    "Fire: ELEVATOR EMERGENCY": ("trapped_person", None),
    "Fire: RESCUE - TECHNICAL": ("trapped_person", None),
    "Fire: RESCUE - GENERAL": ("trapped_person", None),
    "Fire: CARDIAC ARREST": ("cardiac_arrest", None),
    "Fire: BURN VICTIM": ("serious_injury", 2),
    "Fire: FIRE POLICE NEEDED": ("road_hazard", None),  # fire police direct traffic at a scene
    "Fire: DEBRIS/FLUIDS ON HIGHWAY": ("road_hazard", None),
    "Fire: VEHICLE LEAKING FUEL": ("road_hazard", 2),
    "Fire: FIRE SPECIAL SERVICE": ("animal_nest_removal", None),  # a public service call
    "Fire: PUMP DETAIL": ("flooding", None),
    "Traffic: VEHICLE ACCIDENT -": ("collision_property", None),
    "Traffic: DISABLED VEHICLE -": ("breakdown_obstruction", None),
    "Traffic: ROAD OBSTRUCTION -": ("road_hazard", None),
    "Traffic: HAZARDOUS ROAD CONDITIONS -": ("road_hazard", None),
    "Traffic: DEBRIS/FLUIDS ON HIGHWAY -": ("road_hazard", None),
    "Traffic: VEHICLE FIRE -": ("vehicle_fire", None),
}
# titles not listed: the agency's everyday category
_FALLBACK = {"EMS": "minor_illness", "Fire": "outdoor_fire", "Traffic": "breakdown_obstruction"}


def map_call(title: str, category_channels: dict[str, frozenset[str]], source_priority: str = "") -> Mapped:
    """The category, channel and priority for a call title; ``category_channels`` is the catalogue's
    channels per category (the agency's own number where the category takes it)."""
    agency = title.split(":", 1)[0].strip()
    if agency == "BPD":
        police, level = _BPD_PRIORITY.get(source_priority, ("suspicious_person", 3))
        return Mapped(police, "110", level)
    category, priority = _TITLES.get(title.strip(), (_FALLBACK.get(agency, "minor_illness"), None))
    channels = category_channels[category]
    own = CHANNEL.get(agency, "110")
    channel = own if own in channels else sorted(channels - {"grid"})[0]
    return Mapped(category, channel, priority)


def read_calls(path: Path) -> list[ReplayCall]:
    """Every call in the file, in time order; a malformed row raises ValueError naming its line."""
    with path.open(encoding="utf-8") as fh:
        if fh.readline().startswith(_BALTIMORE_HEADER):
            return _read_baltimore(path)
    calls = []
    with path.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                lat, lon, title, at, township, address = row[:6]
                calls.append(ReplayCall(n, datetime.fromisoformat(at.strip()), float(lat), float(lon),
                                        title.strip(), township.strip(), address.strip()))  # fmt: skip
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path.name} line {n}: not a call record ({exc})") from None
    calls.sort(key=lambda c: (c.at, c.index))
    return calls


def _read_baltimore(path: Path) -> list[ReplayCall]:
    """The police calls of a file in the Baltimore layout (times kept in the data's local time)."""
    calls = []
    with path.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                what = " ".join(row["description"].split())
                if what.upper() in _NOT_CALLS:
                    continue
                at = datetime.fromisoformat(row["time"].strip()).replace(tzinfo=None)
                calls.append(ReplayCall(n, at, float(row["lat"]), float(row["lon"]), f"BPD: {what}",
                                        row["district"].strip(), row["block_address"].strip(),
                                        row["priority"].strip()))  # fmt: skip
            except (ValueError, KeyError, AttributeError) as exc:
                raise ValueError(f"{path.name} line {n}: not a call record ({exc})") from None
    calls.sort(key=lambda c: (c.at, c.index))
    return calls


def windows(calls: Sequence[ReplayCall]) -> list[list[ReplayCall]]:
    """The file's stretches of calls (one afternoon each, in the shipped file)."""
    out: list[list[ReplayCall]] = []
    for call in calls:
        if out and call.at - out[-1][-1].at <= WINDOW_GAP:
            out[-1].append(call)
        else:
            out.append([call])
    return out


def choose(
    calls: Sequence[ReplayCall], start: datetime | None, end: datetime | None
) -> tuple[list[ReplayCall], str]:
    """The calls to replay and a note on the choice: those in [start, end); without either bound, the
    busiest window of the file."""
    if start is None and end is None:
        spans = windows(calls)
        if not spans:
            return [], "the file holds no calls"
        busiest = max(spans, key=len)
        note = "" if len(spans) == 1 else (
            f" (the busiest of the file's {len(spans)} windows; choose another with --from/--to)"
        )  # fmt: skip
        return busiest, note
    chosen = [c for c in calls if (start is None or c.at >= start) and (end is None or c.at < end)]
    return chosen, ""


def describe(calls: Iterable[ReplayCall]) -> str:
    listed = list(calls)
    if not listed:
        return "no calls"
    first, last = listed[0].at, listed[-1].at
    until = f"{last:%H:%M}" if last.date() == first.date() else f"{last:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M}-{until}, {len(listed)} calls"
