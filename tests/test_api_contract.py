"""The API as an integrator meets it: short operation ids, a typed answer for every operation, lists in
pages that a client walks without gaps, one unit by id, and a client generated from /openapi.json that
type-checks and works against a running center."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.roles import Role
from tests import helpers
from tests.conftest import Center
from tests.test_role_matrix import _never
from web.app import create_app

VENV_BIN = Path(sys.executable).parent
DOWNLOADS = ("text/csv", "application/vnd.openxmlformats", "image/", "video/")


def spec() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(_never).openapi()
    return schema


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in spec()["paths"].items() for m, op in item.items()]


def test_operation_ids_are_short_unique_names() -> None:
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), sorted(ids)
    long = [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]{1,24}", i)]
    assert long == [], "operation ids a generated client would name its calls after"
    assert "assignment_step" in ids and "get_unit" in ids


def test_every_operation_answers_a_declared_type() -> None:
    """Every success is a named model (or a list or map of one), a declared download, or an empty body."""
    untyped = []
    for method, path, op in operations():
        for code, answer in op["responses"].items():
            if not code.startswith("2"):
                continue
            for content_type, media in answer.get("content", {}).items():
                schema = media.get("schema", {})
                typed = ("$ref" in schema or "$ref" in schema.get("items", {})
                         or schema.get("additionalProperties", {}).get("type") == "integer")  # fmt: skip
                if not typed and not content_type.startswith(DOWNLOADS):
                    untyped.append((method, path, code, content_type, schema))
    assert untyped == []
    names = spec()["components"]["schemas"]
    assert [n for n in names if "__" in n] == [], "two models share a name: the schema qualifies them"
    # answers forbid keys they do not declare, so that a model and its route cannot drift apart
    assert names["UnitOut"].get("additionalProperties") is False


async def walk(client: httpx.AsyncClient, path: str, limit: int, **params: Any) -> list[list[Any]]:
    """Every page of a list, following ``next``: the items of each page."""
    pages: list[list[Any]] = []
    after: str | None = None
    while True:
        query = {"limit": limit, **params} | ({"after": after} if after else {})
        reply = await client.get(path, params=query)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        pages.append(answer["items"])
        after = answer["next"]
        if after is None:
            return pages


async def test_the_roster_is_walked_in_pages_without_gaps_or_repeats(center: Center) -> None:
    ids = [await helpers.add_unit(center, f"P-{n}") for n in range(5)]
    async with center.client(Role.ADMIN) as admin:
        assert (await admin.post(f"/api/v1/units/{ids[2]}/retire")).status_code == 200
        async with center.client(Role.DISPATCHER) as desk:
            pages = await walk(desk, "/api/v1/units", 2)
            assert [[u["id"] for u in p] for p in pages] == [ids[:2], [ids[3], ids[4]]]
            every = await walk(desk, "/api/v1/units", 2, retired="true")
            assert [u["id"] for p in every for u in p] == ids
            assert [p for p in every[-1] if p["retired"]] == []  # the retired one sits in its place
            for bad in ({"after": "bm90LWEtY3Vyc29y"}, {"after": "!!"}, {"limit": 0}, {"limit": 1001}):
                refused = await desk.get("/api/v1/units", params=bad)
                assert refused.status_code == 422, (bad, refused.text)
                assert refused.json()["field"] in ("after", "limit"), refused.text


async def test_open_incidents_are_walked_in_pages(center: Center) -> None:
    """Seven open incidents (no unit to send), three at a time: each once, most urgent first."""
    made = []
    async with center.client(Role.CALL_TAKER) as taker:
        for n in range(7):  # kilometres apart: never linked as one incident
            category = "robbery_in_progress" if n % 3 == 0 else "noise_complaint"
            body = {
                "channel": "110",
                "category": category,
                "location": {"lat": 31.10 + n * 0.02, "lon": 121.4},
            }
            reply = await taker.post("/api/v1/alerts", json=body)
            assert reply.status_code == 202, reply.text
            made.append(reply.json()["incident_id"])
    async with center.client(Role.DISPATCHER) as desk:
        pages = await walk(desk, "/api/v1/incidents", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [i for p in pages for i in p]
    assert sorted(i["id"] for i in seen) == sorted(made)
    assert [i["priority"] for i in seen] == sorted(i["priority"] for i in seen)


async def test_one_unit_is_read_by_its_id(center: Center) -> None:
    unit_id = await helpers.add_unit(center, "P-1", at=(31.2350, 121.4750))
    other = await helpers.add_unit(center, "P-2")
    async with center.client(Role.DISPATCHER) as desk:

        async def placed() -> dict[str, Any]:  # the fix reaches the roster a moment after it is taken
            reply = await desk.get(f"/api/v1/units/{unit_id}")
            assert reply.status_code == 200, reply.text
            unit: dict[str, Any] = reply.json()
            return unit if unit["lat"] is not None else {}

        one: dict[str, Any] = await helpers.wait_until(placed)
        assert one["lat"] == pytest.approx(31.2350) and one["callsign"] == "P-1"
        assert one == (await desk.get("/api/v1/units")).json()["items"][0]
        assert (await desk.get("/api/v1/units/999999")).status_code == 404
    async with center.client(Role.UNIT, unit_id) as unit:
        assert (await unit.get(f"/api/v1/units/{unit_id}")).status_code == 200
        assert (await unit.get(f"/api/v1/units/{other}")).status_code == 403


CLIENT_SCRIPT = """
    import sys

    from dispatch_client import AuthenticatedClient
    from dispatch_client.api.alerts import post_alert
    from dispatch_client.api.incidents import get_incident
    from dispatch_client.api.units import get_unit, list_units
    from dispatch_client.models import (
        AlertAccepted, AlertIn, AlertInChannel, ErrorBody, IncidentDetail, Location, PageUnitOut, UnitOut,
    )


    def main(url: str, desk_token: str, taker_token: str) -> None:
        with AuthenticatedClient(base_url=url, token=taker_token) as taker:
            call = AlertIn(channel=AlertInChannel("110"), category="robbery_in_progress",
                           location=Location(lat=31.2351, lon=121.4751))
            accepted = post_alert.sync(client=taker, body=call)
            assert isinstance(accepted, AlertAccepted), accepted
        with AuthenticatedClient(base_url=url, token=desk_token) as desk:
            page = list_units.sync(client=desk, limit=1)
            assert isinstance(page, PageUnitOut), page
            first: UnitOut = page.items[0]
            one = get_unit.sync(first.id, client=desk)
            assert isinstance(one, UnitOut), one
            missing = get_unit.sync(999999, client=desk)
            assert isinstance(missing, ErrorBody), missing
            incident = get_incident.sync(accepted.incident_id, client=desk)
            assert isinstance(incident, IncidentDetail), incident
            received = incident.times.received_at.isoformat()
            print(one.callsign, one.status.value, page.next_ is not None, missing.error != "",
                  incident.category, incident.alerts[0].channel, received[:2])


    main(*sys.argv[1:])
"""


def run(args: list[Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


async def test_a_generated_client_type_checks_and_works(center: Center, tmp_path: Path) -> None:
    """openapi-python-client makes a package from the running center's /openapi.json; a script using it
    passes mypy --strict, then runs against the center."""
    async with httpx.AsyncClient(base_url=center.url) as anonymous:
        (tmp_path / "openapi.json").write_bytes((await anonymous.get("/openapi.json")).content)
    await helpers.add_unit(center, "P-1", at=(31.2350, 121.4750))
    await helpers.add_unit(center, "P-2")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    made = await asyncio.to_thread(
        run,
        [VENV_BIN / "openapi-python-client", "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", "dispatch_client"],
        tmp_path, env,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    script = tmp_path / "use_client.py"
    script.write_text(textwrap.dedent(CLIENT_SCRIPT))
    checked = await asyncio.to_thread(
        run,
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent",
         "use_client.py"],
        tmp_path, env,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = await asyncio.to_thread(
        run,
        [sys.executable, "use_client.py", center.url, center.token(Role.DISPATCHER),
         center.token(Role.CALL_TAKER)],
        tmp_path, env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.split() == ["P-1", "off_duty", "True", "True", "robbery_in_progress", "110", "20"]
