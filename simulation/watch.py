"""A dispatcher's view of the operational picture: one ``/ws/ops`` connection, its snapshot and every
event after it, handed to listeners, and the units as the feed shows them (status, last position)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from core.roles import Role
from simulation.api import UNREACHABLE, Api

log = logging.getLogger(__name__)

# unit statuses in which a unit can be sent (units/status.py: AVAILABLE and RETURNING)
DISPATCHABLE = frozenset({"available", "returning"})
Listener = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class SeenUnit:
    id: int
    kind: str
    tier: int
    status: str
    lat: float | None
    lon: float | None


class OpsWatch:
    def __init__(self, api: Api, role: Role = Role.DISPATCHER, reconnect: bool = True) -> None:
        self.api = api
        self.role = role
        self.reconnect = reconnect
        self.units: dict[int, SeenUnit] = {}
        self.listeners: list[Listener] = []
        self.ready = asyncio.Event()  # the first snapshot is in
        self._resume: dict[str, Any] | None = None

    def free(self) -> list[SeenUnit]:
        """Units that can be sent now, by the feed."""
        return [u for u in self.units.values() if u.status in DISPATCHABLE and u.lat is not None]

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except UNREACHABLE as exc:
                if not self.reconnect:
                    raise
                log.info("ops feed lost (%s); connecting again", exc)
                await asyncio.sleep(1)

    async def _session(self) -> None:
        auth = {"resume": self._resume} if self._resume else {}
        ws, first = await self.api.socket("/ws/ops", self.api.token(self.role, "sim-desk"), **auth)
        try:
            self._frame(first)
            async for raw in ws:
                self._frame(orjson.loads(raw))
        finally:
            await ws.close()
        raise ConnectionError("the center closed the ops feed")

    def _frame(self, m: dict[str, Any]) -> None:
        kind = m.get("type")
        if kind == "snapshot":
            self._snapshot(m)
        elif kind == "event":
            self._event(m)
        elif kind == "resumed":
            self._resume = {"epoch": m["epoch"], "seq": m["seq"]}
            return
        else:
            return
        for listener in self.listeners:
            listener(m)

    def _snapshot(self, m: dict[str, Any]) -> None:
        self._resume = {"epoch": m["epoch"], "seq": m["seq"]}
        self.units = {
            u["id"]: SeenUnit(u["id"], u["kind"], u["tier"], u["status"], u.get("lat"), u.get("lon"))
            for u in m["state"]["units"]
            if not u.get("retired")
        }
        self.ready.set()

    def _event(self, m: dict[str, Any]) -> None:
        if self._resume is not None:
            self._resume["seq"] = m["seq"]
        kind, data, unit_id = m.get("kind"), m.get("data") or {}, m.get("unit_id")
        if kind == "units.moved":
            for p in m.get("positions", []):
                seen = self.units.get(p["unit_id"])
                if seen is not None:
                    seen.lat, seen.lon = p["lat"], p["lon"]
        elif kind == "unit.status_changed" and unit_id in self.units:
            self.units[unit_id].status = data.get("to", self.units[unit_id].status)
        elif kind == "unit.registered" and isinstance(unit_id, int):
            self.units[unit_id] = SeenUnit(
                unit_id, data["kind"], data["tier"], data["status"], data.get("lat"), data.get("lon")
            )
        elif kind == "unit.retired" and isinstance(unit_id, int):
            self.units.pop(unit_id, None)
