"""Bearer tokens on every route; role checks as dependencies."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.roles import Role
from core.tokens import InvalidToken, Principal
from web.services import Services

_bearer = HTTPBearer(auto_error=False, description="an access token from `dispatch-center token` or login")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return services(request).signer.verify(creds.credentials)
    except InvalidToken as exc:
        raise HTTPException(
            401, f"invalid token: {exc}", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from exc


def allow(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting only these roles (admin is always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role.value} may not do this")
        return who

    return check
