"""Grid cases: the queues per level and town, one case, its workflow steps, escalation, supervision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cases.status import CaseStatus, Holder, Level, Place, covers
from core.bounds import LINE, TEXT, PathId
from core.errors import Invalid
from core.roles import Role
from core.tokens import Principal
from web import paging
from web.answers.cases import CaseDetail, CaseOut
from web.answers.common import Page
from web.auth import ServicesDep, allow
from web.paging import After, Limit

router = APIRouter(prefix="/api/v1/cases", tags=["grid cases"])
Worker = Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.DISPATCHER))]
Viewer = Annotated[Principal, Depends(allow(Role.GRID_WORKER, Role.DISPATCHER, Role.DISPLAY))]

STEPS: dict[str, CaseStatus] = {
    "accept": CaseStatus.ACCEPTED, "assign": CaseStatus.ASSIGNED, "start": CaseStatus.IN_PROGRESS,
    "resolve": CaseStatus.RESOLVED, "verify": CaseStatus.VERIFIED, "close": CaseStatus.CLOSED,
    "return": CaseStatus.RETURNED,
}  # fmt: skip
# someone with no ladder level in their token: matches no case's people (a reporter may still verify)
NO_LEVEL = Holder(Level.COMMUNITY, None)


def holder_of(who: Principal) -> Holder | None:
    """The ladder seat a token names; None for an admin, who may act anywhere."""
    if who.role is Role.ADMIN:
        return None
    try:
        return Holder(Level(who.level), who.area) if who.level else NO_LEVEL
    except ValueError:
        return NO_LEVEL


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: Annotated[str, Field(max_length=200), LINE] | None = Field(
        None, description="for assign: a grid worker, team or department"
    )
    note: Annotated[str, Field(max_length=4000), TEXT] | None = Field(
        None, description="the resolution, or the reason for a return"
    )


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000), TEXT]


class SuperviseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(min_length=1, max_length=4000), TEXT]
    deadline: AwareDatetime = Field(
        description="the new deadline, ISO 8601 with a time zone: in the future, at most 366 days ahead"
    )


@router.get("", response_model=Page[CaseOut])
async def list_cases(
    svc: ServicesDep, who: Viewer,
    level: Annotated[Level | None, Query(description="default: the caller's own seat; required when the "
                                         "token carries none (422 otherwise)")] = None,
    area: Annotated[str | None, Query(max_length=200, description="a town, or TOWN/COMMUNITY"), LINE] = None,
    limit: Limit = 200, after: After = None,
) -> dict[str, Any]:  # fmt: skip
    """Open cases held at one level, soonest deadline first, a page at a time (default: the caller's
    own seat)."""
    seat = holder_of(who)
    if seat is not None and seat is not NO_LEVEL:
        level, area = level or seat.level, area or seat.area
    if who.role is Role.GRID_WORKER and (seat is NO_LEVEL or not _within(seat, area)):
        raise HTTPException(403, "a grid worker sees the cases of their own cells only")
    if level is None:
        raise Invalid("level: say which level: community, town or county", field="level")
    key = paging.decode(after, (str, str, int))
    try:  # checked here so that a forged cursor is a 422, not a database error
        start = (key[0], datetime.fromisoformat(key[1]), key[2]) if key else None
        if key and key[0] != "infinity":
            datetime.fromisoformat(key[0])
    except ValueError:
        raise Invalid("after: not a cursor this list gave", field="after") from None
    found = await svc.cases.queue(level, area, limit + 1, start)
    return paging.page(found, limit, _sort_key, lambda c: c)


def _sort_key(case: dict[str, Any]) -> tuple[str, str, int]:
    return case["deadline"] or "infinity", case["opened_at"], case["id"]


def _within(seat: Holder | None, area: str | None) -> bool:
    """Whether an asked-for area (a town, or TOWN/COMMUNITY) lies inside someone's seat."""
    if seat is None or seat.level is Level.COUNTY:
        return True
    if area is None or seat.area is None:
        return False
    return area == seat.area or (seat.level is Level.TOWN and area.startswith(seat.area + "/"))


@router.get("/overdue", response_model=dict[str, int])
async def overdue_cases(svc: ServicesDep, _: Viewer) -> dict[str, int]:
    """Open cases past their deadline, per town."""
    return await svc.cases.overdue_by_town()


@router.get("/{case_id}", response_model=CaseDetail)
async def get_case(case_id: PathId, svc: ServicesDep, who: Viewer) -> dict[str, Any]:
    """One case with its supervision records; a grid worker reads those of their own cells or reports."""
    case = await svc.cases.get(case_id)
    if who.role is Role.GRID_WORKER:
        seat = holder_of(who)
        place = Place(case["town"], case["community"], case["grid_cell"])
        mine = case["reported_by"] == who.actor or (seat not in (None, NO_LEVEL) and covers(seat, place))
        if not mine:
            raise HTTPException(403, "a grid worker reads the cases of their own cells only")
    return case


@router.post("/{case_id}/escalate", response_model=CaseDetail)
async def escalate_case(case_id: PathId, body: EscalateIn, svc: ServicesDep, who: Worker) -> dict[str, Any]:
    """Send a case up a level before its deadline."""
    events = await svc.cases.escalate(case_id, who.actor, holder_of(who), body.reason)
    await svc.feed.publish(events)
    return await svc.cases.get(case_id)


@router.post("/{case_id}/supervise", response_model=CaseOut)
async def supervise_case(case_id: PathId, body: SuperviseIn, svc: ServicesDep, who: Worker) -> dict[str, Any]:
    """A supervision record (督办) with a new deadline, from the case's level or one above."""
    case, events = await svc.cases.supervise(case_id, who.actor, holder_of(who), body.note, body.deadline)
    await svc.feed.publish(events)
    return case


@router.post("/{case_id}/{step}", response_model=CaseOut)
async def case_step(
    case_id: PathId, step: Literal["accept", "assign", "start", "resolve", "verify", "close", "return"],
    svc: ServicesDep, who: Worker, body: StepIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One workflow step: reported -> accepted -> assigned -> in progress -> resolved -> verified ->
    closed, or returned with a reason."""
    body = body or StepIn()
    case, events = await svc.cases.step(
        case_id, STEPS[step], who.actor, holder_of(who), assignee=body.assignee, note=body.note
    )
    await svc.feed.publish(events)
    return case
