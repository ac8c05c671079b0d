"""Signed, expiring access tokens (JWT, HS256) carrying a role and, for units, the unit id."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from core.roles import Role

ALGORITHM = "HS256"
ISSUER = "dispatch-center"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a verified token."""

    subject: str
    role: Role
    unit_id: int | None = None
    # for people who work grid cases: the ladder level they sit at and the area they cover there
    level: str | None = None
    area: str | None = None

    @property
    def actor(self) -> str:
        """How this caller is named in the event log."""
        return f"{self.role.value}:{self.subject}"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or names no valid role."""


class TokenSigner:
    def __init__(self, secret: str, ttl_s: int = 3600) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(
        self, role: Role, subject: str, unit_id: int | None = None, ttl_s: int | None = None,
        level: str | None = None, area: str | None = None,
    ) -> str:  # fmt: skip
        if role is Role.UNIT and unit_id is None:
            raise ValueError("a unit token needs the unit id")
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": subject,
            "role": role.value,
            "iat": now,
            "exp": now + (ttl_s if ttl_s is not None else self.ttl_s),
            "iss": ISSUER,
        }
        if unit_id is not None:
            claims["unit"] = unit_id
        if level is not None:
            claims["level"] = level
        if area is not None:
            claims["area"] = area
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role", "iss"]},
            )
            role = Role(claims["role"])
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(str(exc)) from exc
        unit = claims.get("unit")
        if role is Role.UNIT and not isinstance(unit, int):
            raise InvalidToken("a unit token must name its unit")
        level, area = claims.get("level"), claims.get("area")
        return Principal(
            subject=str(claims["sub"]), role=role, unit_id=unit if isinstance(unit, int) else None,
            level=level if isinstance(level, str) else None, area=area if isinstance(area, str) else None,
        )  # fmt: skip
