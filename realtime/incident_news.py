"""What a crew hears about the incident it is on: another unit sent or stood down, the incident
corrected, merged or closed. A pure function from a feed event to the words on the phone (and read
aloud there), in Chinese and English like the rest of the unit page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_FIELDS = {
    "priority": "优先级 priority",
    "lat": "地点 location",
    "lon": "地点 location",
    "address": "地址 address",
    "description": "备注 notes",
}
_OTHER_UNIT = {
    "assignment.offered": "增派 also sent",
    "assignment.accepted": "已出发 on the way",
    "assignment.on_scene": "已到场 on scene",
    "assignment.cleared": "已离开 cleared",
    "assignment.declined": "不再参与 no longer on it",
    "assignment.timed_out": "不再参与 no longer on it",
    "assignment.cancelled": "不再参与 no longer on it",
}


def news(payload: Mapping[str, Any], me: int) -> str | None:
    """The words for an event about an incident unit ``me`` is on; None when it is not news for the
    crew (its own steps reach it as its own events)."""
    kind = payload.get("kind")
    data = _mapping(payload.get("data"))
    if kind == "incident.updated":
        changes = _mapping(data.get("changes"))
        parts = []
        for name in dict.fromkeys(_FIELDS[f] for f in changes if f in _FIELDS):
            if name == _FIELDS["priority"]:
                change = _mapping(changes["priority"])
                parts.append(f"{name} {change.get('from')} → {change.get('to')}")
            else:
                parts.append(f"{name} 已更新 changed")
        return "事件已更新 Incident updated: " + "; ".join(parts) if parts else None
    if kind == "incident.merged_in":
        return (f"事件 #{data.get('from_incident')} 已并入本事件 merged into this one; "
                f"优先级 priority {data.get('priority')}")  # fmt: skip
    if kind == "incident.closed":
        return "事件已结案 Incident closed"
    if isinstance(kind, str) and kind in _OTHER_UNIT and payload.get("unit_id") != me:
        who = data.get("callsign") or f"unit {payload.get('unit_id')}"
        return f"{who} {_OTHER_UNIT[kind]}"
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
