"""Logging in: a username and password for a short-lived token of the account's role; who a token is."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from accounts.users import MAX_PASSWORD_LENGTH, AccountLocked, BadCredentials
from core.bounds import LINE
from core.tokens import Principal
from web.auth import ServicesDep, principal
from web.errors import ErrorBody, error_response

router = APIRouter(prefix="/api/v1", tags=["accounts"])
WRONG = "wrong username or password"  # the same for an unknown name: nothing is revealed


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, Field(min_length=1, max_length=64), LINE]
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class Account(BaseModel):
    username: str
    display_name: str | None
    role: str
    unit_id: int | None
    level: str | None
    area: str | None


class LoginOut(BaseModel):
    token: str = Field(
        description="send as `Authorization: Bearer <token>`; sockets take it in the first message"
    )
    token_type: str = "bearer"
    expires_at: str = Field(description="ISO 8601, UTC")
    expires_in: int = Field(description="seconds")
    user: Account


class Refusal(ErrorBody):
    locked_until: str | None = Field(None, description="423: when the account opens again (ISO 8601)")
    retry_after_s: int | None = Field(None, description="423: seconds until then")


class Me(BaseModel):
    subject: str
    role: str
    unit_id: int | None
    level: str | None
    area: str | None
    actor: str = Field(description="how the event log names this caller")


@router.post(
    "/login", response_model=LoginOut,
    responses={401: {"model": Refusal, "description": WRONG},
               423: {"model": Refusal, "description": "locked after too many wrong passwords"}},
)  # fmt: skip
async def login(body: LoginIn, request: Request, svc: ServicesDep) -> Any:
    """Log in (no token needed): a token carrying the account's role (and unit id, ladder level and
    area). Repeated wrong passwords lock the account for a while (423 with when it opens again)."""
    client = request.client.host if request.client else None
    try:
        user = await svc.users.login(body.username, body.password, client)
    except BadCredentials:
        return error_response(401, WRONG)
    except AccountLocked as locked:
        wait = max(1, math.ceil((locked.until - datetime.now(UTC)).total_seconds()))
        return error_response(
            423, "the account is locked after too many wrong passwords; try again later",
            headers={"Retry-After": str(wait)},
            extra={"locked_until": locked.until.isoformat(), "retry_after_s": wait},
        )  # fmt: skip
    ttl = svc.users.token_ttl_s
    token = svc.signer.issue(user.role, user.username, unit_id=user.unit_id, ttl_s=ttl, level=user.level,
                             area=user.area)  # fmt: skip
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    return LoginOut(
        token=token, expires_at=datetime.fromtimestamp(expires, UTC).isoformat(), expires_in=ttl,
        user=Account(username=user.username, display_name=user.display_name, role=user.role.value,
                     unit_id=user.unit_id, level=user.level, area=user.area),
    )  # fmt: skip


@router.get("/me", response_model=Me)
async def me(who: Annotated[Principal, Depends(principal)]) -> Me:
    """Who the token says the caller is (any valid token)."""
    return Me(subject=who.subject, role=who.role.value, unit_id=who.unit_id, level=who.level, area=who.area,
              actor=who.actor)  # fmt: skip
