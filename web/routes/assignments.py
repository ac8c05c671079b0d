"""An assignment's steps: the unit accepts, declines, arrives, clears; a dispatcher cancels or reassigns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from core.bounds import TEXT, Id, PathId
from core.roles import Role
from core.tokens import Principal
from dispatch.assignments import STEPS
from web.answers.incidents import AssignmentOut, Reassigned
from web.auth import ServicesDep, allow

router = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])
DispatcherOnly = Annotated[Principal, Depends(allow(Role.DISPATCHER))]


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500), TEXT] | None = None


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: Id = Field(description="the unit to send instead")


@router.post("/{assignment_id}/cancel", response_model=AssignmentOut)
async def cancel_assignment(
    assignment_id: PathId, svc: ServicesDep, who: DispatcherOnly, body: CancelIn | None = None
) -> dict[str, Any]:
    """A dispatcher stands the unit down; it becomes available again."""
    reason = body.reason if body else None
    cancelled, events = await svc.lifecycle.cancel(assignment_id, who.actor, reason)
    await svc.feed.publish(events)
    return cancelled.as_json()


@router.post("/{assignment_id}/reassign", response_model=Reassigned)
async def reassign_assignment(
    assignment_id: PathId, body: ReassignIn, svc: ServicesDep, who: DispatcherOnly
) -> dict[str, Any]:
    """Send another unit instead; the new unit is offered before the old one is stood down."""
    old, new, events = await svc.lifecycle.reassign(assignment_id, body.unit_id, who.actor)
    await svc.feed.publish(events)
    return {"cancelled": old.as_json(), "offered": new.as_json()}


@router.post("/{assignment_id}/{step}", response_model=AssignmentOut)
async def assignment_step(
    assignment_id: PathId,
    step: Literal["accept", "decline", "arrive", "clear"],
    svc: ServicesDep,
    who: Annotated[Principal, Depends(allow(Role.UNIT, Role.DISPATCHER))],
) -> dict[str, Any]:
    """Move an assignment one step; a unit may move only its own."""
    own = who.unit_id if who.role is Role.UNIT else None
    assignment, events = await svc.lifecycle.advance(assignment_id, STEPS[step], who.actor, unit_id=own)
    await svc.feed.publish(events)
    return assignment.as_json()
