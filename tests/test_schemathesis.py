"""Schemathesis over the whole OpenAPI of a real running center, as an admin and as a dispatcher.

Bounded and repeatable: a few examples per operation and generation mode, derandomized (the same
cases every run), no shrinking. Every answer must be below 500 and conform to the schema the center
publishes: its declared status codes, content types and body models.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok

from core.roles import Role
from tests.conftest import Center

# per operation, mode and token (~36 operations x 2 modes x 2 tokens); more for a longer hunt by hand
EXAMPLES_PER_OPERATION = int(os.environ.get("DISPATCH_TEST_FUZZ_EXAMPLES", "30"))
CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _fuzz(center: Center, spec: dict[str, Any], token: str, device: str, tally: Tally) -> None:
    """One pass over every operation, in this (worker) thread: the center's event loop keeps serving."""
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(center.url, session, result.ok(), mode, headers, device, tally)


def _fuzz_one(
    url: str, session: requests.Session, operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode,
    headers: dict[str, str], device: str, tally: Tally,
) -> None:  # fmt: skip
    """A few cases of one operation in one mode; each failure is recorded, none stops the run."""
    label = f"{operation.label} [{mode.value}]"
    # the tracker protocol's credential is the device id: a real one, so that its fixes get parsed
    query = {"id": device} if operation.path == "/api/v1/osmand" else None

    @hsettings(
        max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=operation.as_strategy(mode, headers=headers, query=query))
    def run(case: Case[Any]) -> None:
        response = case.call(base_url=url, session=session, timeout=15)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except schemathesis.errors.FailureGroup as group:  # record it and go on: no shrinking
            for failure in group.exceptions:
                tally.failures.append(f"{label}: {failure.title}: {failure.message[:300]} <- "
                                      f"{response.status_code} {response.text[:200]}")  # fmt: skip

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


async def _seed(center: Center) -> str:
    """A little of everything, so that some generated ids find something."""
    async with center.client(Role.ADMIN) as client:
        for n in range(3):
            reply = await client.post(
                "/api/v1/units", json={"callsign": f"P-{n}", "kind": "patrol_car", "status": "available"}
            )
            assert reply.status_code == 201, reply.text
        reply = await client.post(
            "/api/v1/alerts",
            json={"channel": "110", "category": "robbery_in_progress",
                  "location": {"lat": 31.235, "lon": 121.475}},
        )  # fmt: skip
        assert reply.status_code == 202, reply.text
        reply = await client.post(
            "/api/v1/grid/events",
            json={"category": "neighbour_dispute", "grid_cell": "T1/C1/G1",
                  "location": {"lat": 31.236, "lon": 121.476}},
        )  # fmt: skip
        assert reply.status_code == 202, reply.text
        reply = await client.post("/api/v1/units/1/tracker")
        assert reply.status_code == 201, reply.text
        device: str = reply.json()["device_id"]
        return device


@pytest.mark.timeout(600)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(center: Center) -> None:
    device = await _seed(center)
    async with center.client(None) as client:
        spec = (await client.get("/openapi.json")).json()
    started = time.monotonic()
    tallies = {}
    for role in (Role.ADMIN, Role.DISPATCHER):
        tallies[role] = tally = Tally()
        await asyncio.to_thread(_fuzz, center, spec, center.token(role), device, tally)
    took = time.monotonic() - started
    total = sum(t.requests for t in tallies.values())
    server_errors = sum(n for t in tallies.values() for code, n in t.statuses.items() if code >= 500)
    failures = [f for t in tallies.values() for f in t.failures]
    print(f"schemathesis: {total} requests, {server_errors} 5xx, {len(failures)} failures in {took:.0f} s; "
          f"statuses {dict(sum((t.statuses for t in tallies.values()), Counter()))}")  # fmt: skip
    distinct = sorted(Counter(f.split(" <- ")[0] for f in failures).items())
    print("\n".join(f"{n} x {f}" for f, n in distinct))
    assert server_errors == 0 and not failures, "\n".join(failures[:30])
