"""The demo's accounts: one per role with a generated password, kept in a file of the data folder that
only its owner may read, so that they can be shown again (``dispatch-center users demo``) long after the
start-up lines have scrolled away."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accounts.users import NewUser, UserStore
from core.errors import Conflict
from core.roles import Role

FILE_NAME = "demo-accounts.txt"
HEADER = "# the demo's accounts: role, login name, password, unit (written by dispatch-center)"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: Role
    password: str | None  # None: the account existed already and its password is not known here
    unit_id: int | None = None


def read_kept(path: Path) -> list[DemoAccount]:
    """The accounts the file holds (none when there is no file)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    roles = {r.value for r in Role}
    found = []
    for line in lines:
        f = line.split()
        if line.startswith("#") or len(f) < 3 or f[0] not in roles:
            continue
        unit = int(f[3]) if len(f) > 3 and f[3].isdigit() else None
        found.append(DemoAccount(f[1], Role(f[0]), f[2], unit))
    return found


def write_kept(path: Path, accounts: Sequence[DemoAccount]) -> None:
    """The accounts with known passwords, readable by the file's owner only (created so, never widened)."""
    lines = [HEADER] + [
        f"{a.role.value} {a.username} {a.password}" + (f" {a.unit_id}" if a.unit_id is not None else "")
        for a in accounts
        if a.password is not None
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


async def create_demo_accounts(
    users: UserStore, *, unit_id: int | None, grid_area: str | None = None, prefix: str = "demo-",
    kept: Path | None = None, reset_existing: bool = False, actor: str = "system:demo",
) -> list[DemoAccount]:  # fmt: skip
    """One account per role with a generated password. The unit account is for ``unit_id`` (none
    without it); the grid worker sits at the community ``grid_area`` (TOWN/COMMUNITY) when given.
    Existing accounts keep their passwords unless ``reset_existing``; with ``kept`` (a file), their
    passwords are read from it and every known one is written back to it."""
    known = {a.username: a.password for a in read_kept(kept)} if kept else {}
    made: list[DemoAccount] = []
    for role in Role:
        if role is Role.UNIT and unit_id is None:
            continue
        name = prefix + role.value.replace("_", "-")
        password = secrets.token_urlsafe(12)
        own_unit = unit_id if role is Role.UNIT else None
        if await users.get(name) is not None:
            if not reset_existing:
                made.append(DemoAccount(name, role, known.get(name), own_unit))
                continue
            await users.set_password(name, password, actor)
        else:
            level = "community" if role is Role.GRID_WORKER and grid_area else None
            display = f"Demo {role.value.replace('_', ' ')}"
            try:
                await users.create(NewUser(name, role, password, display, own_unit, level,
                                           grid_area if level else None), actor)  # fmt: skip
            except Conflict:  # another process made it just now
                made.append(DemoAccount(name, role, known.get(name), own_unit))
                continue
        made.append(DemoAccount(name, role, password, own_unit))
    if kept is not None:
        write_kept(kept, made)
    return made


def demo_table(accounts: Sequence[DemoAccount], kept: Path | None = None) -> str:
    """The block printed at the end of the demo's start, and by ``users demo``."""
    rule = "=" * 78
    lines = [rule, "demo accounts: log in at /wall, /console or /unit"]
    for a in accounts:
        shown = a.password or "(set before; `dispatch-center users reset-password` sets a new one)"
        unit = f"  unit {a.unit_id}" if a.unit_id is not None else ""
        lines.append(f"  {a.role.value:<12} {a.username:<22} {shown}{unit}")
    if kept is not None:
        lines.append(f"kept in {kept} (only you can read it); `dispatch-center users demo` shows them again")
    return "\n".join([*lines, rule])
