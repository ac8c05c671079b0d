"""Accounts: people (and systems) who log in with a password and get a token of their role.

Passwords are kept as argon2id hashes (argon2-cffi). A wrong password or an unknown name fail alike,
and an unknown name costs the same hashing time. ``max_failures`` wrong passwords in a row lock the
account for ``lock_s`` seconds, measured by PostgreSQL's clock so that every API process agrees; a
good login resets the count. Every change is an event (``user.*``) with its actor.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cases.status import Level
from core import eventlog
from core.errors import Conflict, Invalid, NotFound
from core.roles import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# roles whose people may sit on the grid-case ladder (see web/routes/cases.py)
LADDER_ROLES = frozenset({Role.GRID_WORKER, Role.DISPATCHER})
# OWASP's argon2id minimum (19 MiB, 2 passes): a burst of logins must not eat the process's memory
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
HASHES_AT_ONCE = 2  # per store (one per process): hashing runs in threads, off the event loop


class BadCredentials(Exception):
    """Wrong password, unknown or disabled account: the caller is told nothing more."""


class AccountLocked(Exception):
    """Too many wrong passwords in a row; the account opens again at ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    role: Role
    password: str
    display_name: str | None = None
    unit_id: int | None = None
    level: str | None = None
    area: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: Role
    unit_id: int | None
    level: str | None
    area: str | None
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> User:
        return cls(r["id"], r["username"], r["display_name"], Role(r["role"]), r["unit_id"], r["level"],
                   r["area"], r["created_at"], r["disabled_at"])  # fmt: skip

    @property
    def actor(self) -> str:
        """How this user is named in the event log: the same as their login token's actor."""
        return f"{self.role.value}:{self.username}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "username": self.username, "display_name": self.display_name,
            "role": self.role.value, "unit_id": self.unit_id, "level": self.level, "area": self.area,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }  # fmt: skip


def check_new(new: NewUser) -> NewUser:
    """The account as it will be stored (name lower-cased), or Invalid naming the field."""
    name = new.username.strip().lower()
    if not USERNAME.match(name):
        raise Invalid("username: 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit", field="username")
    if not MIN_PASSWORD_LENGTH <= len(new.password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if (new.role is Role.UNIT) != (new.unit_id is not None):
        raise Invalid("unit: a unit account needs its unit id, and only a unit account has one", field="unit")
    if new.level is not None:
        if new.role not in LADDER_ROLES:
            raise Invalid("level: only grid workers and dispatchers work grid cases", field="level")
        try:
            level = Level(new.level)
        except ValueError:
            raise Invalid("level: community, town or county", field="level") from None
        parts = (new.area or "").split("/")
        shape_ok = {
            Level.COMMUNITY: len(parts) == 2 and all(parts),
            Level.TOWN: len(parts) == 1 and bool(parts[0]),
            Level.COUNTY: new.area is None,
        }[level]
        if not shape_ok:
            raise Invalid("area: TOWN/COMMUNITY for a community, TOWN for a town, none for the county",
                          field="area")  # fmt: skip
    elif new.area is not None:
        raise Invalid("area: goes with a level", field="area")
    display = (new.display_name or "").strip() or None
    if display is not None and len(display) > 200:
        raise Invalid("display name: at most 200 characters", field="display_name")
    return NewUser(name, new.role, new.password, display, new.unit_id, new.level, new.area)


_CURRENT = "select *, coalesce(locked_until > now(), false) as locked from users where username = $1"
# a failure after an expired lock starts a new count
_FAILED = """
update users set
    failed_logins = case when failed_logins >= $2 then 1 else failed_logins + 1 end,
    locked_until = case when (case when failed_logins >= $2 then 1 else failed_logins + 1 end) >= $2
                        then now() + make_interval(secs => $3) else locked_until end
where id = $1 and (locked_until is null or locked_until <= now())
returning failed_logins, locked_until, coalesce(locked_until > now(), false) as locked
"""
_SUCCEEDED = """
update users set failed_logins = 0, locked_until = null, last_login_at = now()
where id = $1 and disabled_at is null and (locked_until is null or locked_until <= now())
returning *
"""


class UserStore:
    def __init__(
        self, pool: asyncpg.Pool, max_failures: int = 5, lock_s: float = 900.0, token_ttl_s: int = 8 * 3600
    ) -> None:
        self._pool = pool
        self.token_ttl_s = token_ttl_s  # how long a login's token lasts
        self.max_failures = max_failures
        self.lock_s = lock_s
        self._dummy: str | None = None
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(HASHER.hash, password)

    async def _verify(self, hashed: str, password: str) -> bool:
        async with self._hashing:
            try:
                return await asyncio.to_thread(HASHER.verify, hashed, password)
            except (VerificationError, InvalidHashError):
                return False

    async def create(self, new: NewUser, actor: str) -> User:
        """A new account; Invalid for bad fields or an unknown unit, Conflict for a taken name."""
        new = check_new(new)
        hashed = await self._hash(new.password)
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    """insert into users (username, display_name, role, unit_id, level, area, password_hash)
                       values ($1, $2, $3, $4, $5, $6, $7) returning *""",
                    new.username, new.display_name, new.role.value, new.unit_id, new.level, new.area, hashed,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:
                raise Conflict(f"user {new.username} exists", field="username") from None
            except asyncpg.ForeignKeyViolationError:
                raise Invalid(f"unit: no unit {new.unit_id}", field="unit") from None
            assert row is not None
            user = User.from_row(row)
            data = {"user_id": user.id} | {k: v for k, v in user.as_json().items() if k != "id"}
            await eventlog.append(conn, "user.created", actor, data=data)
        return user

    async def get(self, username: str) -> User | None:
        row = await self._pool.fetchrow("select * from users where username = $1", username.strip().lower())
        return User.from_row(row) if row else None

    async def set_password(self, username: str, password: str, actor: str) -> User:
        """A new password (and the lock lifted)."""
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters", field="password")
        hashed = await self._hash(password)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """update users set password_hash = $2, failed_logins = 0, locked_until = null
                   where username = $1 returning *""",
                username.strip().lower(), hashed,
            )  # fmt: skip
            if row is None:
                raise NotFound(f"no user {username}", field="username")
            await eventlog.append(conn, "user.password_changed", actor,
                                  data={"user_id": row["id"], "username": row["username"]})  # fmt: skip
        return User.from_row(row)

    async def disable(self, username: str, actor: str) -> User:
        """No more logins for this account (tokens already issued run until they expire)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """update users set disabled_at = coalesce(disabled_at, now()) where username = $1
                   returning *""",
                username.strip().lower(),
            )
            if row is None:
                raise NotFound(f"no user {username}", field="username")
            await eventlog.append(conn, "user.disabled", actor,
                                  data={"user_id": row["id"], "username": row["username"]})  # fmt: skip
        return User.from_row(row)

    async def login(self, username: str, password: str, client: str | None = None) -> User:
        """The user whose password this is; BadCredentials or AccountLocked otherwise."""
        name = username.strip().lower()[:64]
        row = await self._pool.fetchrow(_CURRENT, name)
        if row is not None and row["locked"]:
            raise AccountLocked(row["locked_until"])
        if row is None or row["disabled_at"] is not None:
            await self._verify(await self._dummy_hash(), password)  # the same time as a real check
            async with self._pool.acquire() as conn:
                reason = "unknown user" if row is None else "disabled"
                data = {"username": name, "reason": reason, "client": client}
                await eventlog.append(conn, "user.login_failed", "anonymous", data=data)
            raise BadCredentials()
        if await self._verify(row["password_hash"], password):
            return await self._succeeded(row, password, client)
        await self._failed(row, client)
        raise BadCredentials()

    async def _succeeded(self, row: asyncpg.Record, password: str, client: str | None) -> User:
        rehash = HASHER.check_needs_rehash(row["password_hash"])
        new_hash = await self._hash(password) if rehash else None
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchrow(_SUCCEEDED, row["id"])
            if done is None:  # locked or disabled meanwhile
                await self._refuse_now(conn, row["id"])
                raise BadCredentials()
            if new_hash is not None:
                await conn.execute("update users set password_hash = $2 where id = $1", row["id"], new_hash)
            user = User.from_row(done)
            data = {"user_id": user.id, "username": user.username, "client": client}
            await eventlog.append(conn, "user.logged_in", user.actor, data=data)
        return user

    async def _failed(self, row: asyncpg.Record, client: str | None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchrow(_FAILED, row["id"], self.max_failures, self.lock_s)
            if done is None:  # another attempt locked it meanwhile
                await self._refuse_now(conn, row["id"])
                return
            who = {"user_id": row["id"], "username": row["username"], "failures": done["failed_logins"]}
            await eventlog.append(conn, "user.login_failed", "anonymous", data=who | {"client": client})
            until: datetime | None = done["locked_until"] if done["locked"] else None
            if until is not None:
                await eventlog.append(
                    conn, "user.locked", "system:login", data=who | {"until": until.isoformat()}
                )
        if until is not None:
            raise AccountLocked(until)

    async def _refuse_now(self, conn: Any, user_id: int) -> None:
        until = await conn.fetchval("select locked_until from users where id = $1 and locked_until > now()",
                                    user_id)  # fmt: skip
        if until is not None:
            raise AccountLocked(until)

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self._hash(secrets.token_urlsafe(16))
        return self._dummy
