"""The road route that goes with each pick: to the offer, the recommendation and the pages' lines.

The recommendation ranks by travel time only; the route (its line and its length by road) is asked
for afterwards and only for the picks, one point-to-point query each, so ranking thousands of
candidates never pays for geometry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from dispatch.recommend import Candidate, Recommendation, Scene
from dispatch.travel import TravelModel
from roads.router import Route


def with_routes(
    rec: Recommendation, candidates: Iterable[Candidate], scene: Scene, travel: TravelModel
) -> Recommendation:
    """``rec`` with each pick's road route (where the model has one for it)."""
    where = {c.unit_id: (c.lat, c.lon) for c in candidates}
    picks = []
    for pick in rec.picks:
        origin = where.get(pick.unit_id)
        route = travel.route(pick.kind, origin, (scene.lat, scene.lon)) if origin else None
        picks.append(replace(pick, route=route) if route else pick)
    return replace(rec, picks=tuple(picks))


def route_json(route: Route | None) -> dict[str, Any] | None:
    """The route as the pages and phones read it: seconds, metres, and [lat, lon] pairs rounded to
    about a metre (six decimals would say far more than any fix knows)."""
    if route is None:
        return None
    return {
        "eta_s": round(route.seconds, 1),
        "distance_m": round(route.metres, 1),
        "geometry": [[round(lat, 5), round(lon, 5)] for lat, lon in route.geometry],
    }
