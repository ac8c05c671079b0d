"""docker-compose.yml and the Dockerfile, checked as an operator would read them (no Docker engine
runs here): valid against the compose specification, one scheduler whatever the scale, no default
database password, one image built once, a health check on every center process, the image installed
from the lock without the embedded servers and run as a numeric user."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from center.cli import parser, up_roles, worker_roles
from center.process_roles import Roles

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def services() -> dict[str, Any]:
    doc: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))
    return dict(doc["services"])


def center_services() -> dict[str, Any]:
    return {name: s for name, s in services().items() if s.get("image", "").startswith("dispatch-center")}


def roles_of(command: list[str]) -> Roles:
    """What the center's own command line makes of a service's command."""
    assert command[0] == "dispatch-center", command
    args = parser().parse_args(command[1:])
    return up_roles(args) if args.command == "up" else worker_roles(args)


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    done = check_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("healthcheck:", "healtcheck:", 1))
    assert check_schema(broken).returncode != 0


def test_exactly_one_service_runs_the_scheduled_jobs_and_it_is_not_the_api() -> None:
    roles = {name: roles_of(s["command"]) for name, s in center_services().items()}
    assert [name for name, r in roles.items() if r.scheduler] == ["scheduler"]
    assert roles["api"] == Roles(api=True, dispatch=False, scheduler=False)
    assert roles["dispatcher"] == Roles(api=False, dispatch=True, scheduler=False)  # the one scaled


def test_the_database_password_has_no_default() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert uses and all(u.startswith(":?") for u in uses), uses


def test_the_image_is_built_once_and_every_center_process_has_a_health_check() -> None:
    center = center_services()
    assert {name for name, s in center.items() if "build" in s} == {"api"}
    assert all(s.get("pull_policy") == "never" for name, s in center.items() if name != "api")
    assert len({s["image"] for s in center.values()}) == 1
    for name, s in center.items():
        assert s["healthcheck"]["test"], name
        if s["command"][1] == "worker":  # the health check asks the port the worker serves
            port = s["command"][s["command"].index("--port") + 1]
            assert f":{port}/readyz" in " ".join(s["healthcheck"]["test"]), name


def test_the_image_installs_the_lock_without_embedded_servers_as_a_numeric_user() -> None:
    assert re.search(r"pip install -c requirements\.lock -e '\.\[tracing\]'\s", DOCKERFILE)
    assert "embedded" not in re.findall(r"pip install[^\n]*", DOCKERFILE)[0]
    (user,) = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), user
    (node,) = re.findall(r"^FROM node:(\d+)", DOCKERFILE, re.MULTILINE)
    # an LTS line (even) that is not past its end of life (Node.js 20 ended in April 2026)
    assert int(node) % 2 == 0 and int(node) >= 22, node
