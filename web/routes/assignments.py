"""The unit's side of an assignment: accept, decline, arrive, clear."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends

from core.roles import Role
from core.tokens import Principal
from dispatch.assignments import AssignmentStatus
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])

STEPS: dict[str, AssignmentStatus] = {
    "accept": AssignmentStatus.ACCEPTED,
    "decline": AssignmentStatus.DECLINED,
    "arrive": AssignmentStatus.ON_SCENE,
    "clear": AssignmentStatus.CLEARED,
}


@router.post("/{assignment_id}/{step}")
async def step(
    assignment_id: int,
    step: Literal["accept", "decline", "arrive", "clear"],
    svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.DISPATCHER))],
) -> dict[str, Any]:
    """Move an assignment one step; a unit may move only its own."""
    own = who.unit_id if who.role is Role.UNIT else None
    assignment = await svc.dispatcher.advance(assignment_id, STEPS[step], who.actor, unit_id=own)
    return assignment.as_json()
