"""The demo's logins: one account per role, the unit account on a unit of its own that no simulated crew
drives (a person's phone and a simulated crew reporting for one unit would contradict each other, and
every fix of the phone would come back old or suspect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accounts.demo_accounts import FILE_NAME, create_demo_accounts, demo_table
from core.roles import Role
from simulation.api import Api, ApiError
from web.services import Services

PHONE_UNIT = {"callsign": "PHONE-1", "kind": "patrol_car", "status": "off_duty", "tier": 1}


async def phone_unit(api: Api) -> int:
    """The unit the demo's unit account drives (registered once; its callsign is its identity). It starts
    off duty and without a position, until the person with the phone says otherwise."""
    try:
        made: dict[str, Any] = await api.request("POST", "/api/v1/units", Role.ADMIN, PHONE_UNIT)
        return int(made["id"])
    except ApiError as exc:
        if exc.status != 409:
            raise
    for unit in await api.every("/api/v1/units", query="&retired=true"):
        if unit["callsign"] == PHONE_UNIT["callsign"]:
            return int(unit["id"])
    raise RuntimeError("the demo's phone unit is taken but not on the roster")


async def demo_logins(services: Services, api: Api, data_dir: Path, grid_area: str | None = None) -> str:
    """The accounts (made on the first start, kept in the data folder) as the block to print."""
    kept = data_dir / FILE_NAME
    accounts = await create_demo_accounts(services.users, unit_id=await phone_unit(api), grid_area=grid_area,
                                          kept=kept)  # fmt: skip
    return demo_table(accounts, kept)
