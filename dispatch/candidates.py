"""Where candidates come from: the live index of available units near a scene, read once per decision."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Set

from dispatch.decisions import as_candidate, candidates_from_live
from dispatch.recommend import Candidate
from units.kinds import UnitKind
from units.live import LiveIndex, LiveUnit


class Candidates:
    def __init__(self, live: LiveIndex, kinds: Mapping[str, UnitKind]) -> None:
        self.live = live
        self._stale_after_s = {code: float(k.stale_after_s) for code, k in kinds.items()}

    async def near(
        self, kinds: Iterable[str], lat: float, lon: float, want: int, exclude: Set[int] = frozenset()
    ) -> list[Candidate]:
        """Available units of these kinds nearest the point, at least ``want`` where there are."""
        nearby = await self.live.search(sorted(set(kinds)), lat, lon, want=max(want, 1))
        ids = [n.unit_id for n in nearby if n.unit_id not in exclude]
        found = await self.live.get(ids)
        units = [found[i] for i in ids if i in found]
        return candidates_from_live(units, self._stale_after_s, time.time(), exclude)

    async def one(self, unit_id: int) -> Candidate | None:
        """One unit as a candidate (a unit that just came free), if it has a position."""
        u = (await self.live.get([unit_id])).get(unit_id)
        return None if u is None else as_candidate(u, self._stale_after_s, time.time())

    async def units(self, unit_ids: Iterable[int]) -> dict[int, LiveUnit]:
        """The live state of these units (a dispatcher's choice), whatever their status."""
        return await self.live.get(list(unit_ids))
