"""The install is reproducible: requirements.lock pins what pyproject.toml declares, within its floors,
this environment is exactly the lock, and every package the code imports is declared."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SELF = canonicalize_name(PROJECT["name"])


def declared(extra: str | None = None) -> list[Requirement]:
    """The base dependencies, or one extra's; the extras' references to the project itself left out."""
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != SELF]


def every_declared() -> list[Requirement]:
    return [r for extra in (None, *PROJECT["optional-dependencies"]) for r in declared(extra)]


def pins() -> Iterator[tuple[str, Version, Requirement]]:
    """(name, pinned version, the line) of every line of the lock that applies to this interpreter."""
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if not line or line[0] in "# ":
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            (spec,) = req.specifier
            assert spec.operator == "==", f"not a pin: {line}"
            yield canonicalize_name(req.name), Version(spec.version), req


def test_the_lock_pins_every_declared_package_within_its_floor() -> None:
    pinned = {name: version for name, version, _ in pins()}
    for req in every_declared():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is declared in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pinned[name]}, outside pyproject's {req}"
        )


def test_this_environment_is_the_lock() -> None:
    """`./run` installs with the lock as constraints: every package it pins is here at that version."""
    for name, version, _ in pins():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name} is pinned by requirements.lock but not installed") from None
        assert installed == version, f"{name} {installed} installed, requirements.lock pins {version}"


def imported_top_level(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def requirements_of(dist: str) -> set[str]:
    """The distributions ``dist`` may need (with any of its extras), by canonical name."""
    return {canonicalize_name(Requirement(line).name) for line in metadata.requires(dist) or []}


def undeclared_imports(folders: list[str], allowed: list[Requirement]) -> list[str]:
    """Modules imported in ``folders`` that come from no distribution in ``allowed`` (nor one that a
    declared distribution itself requires and re-exports, like starlette for fastapi)."""
    own = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    direct = {canonicalize_name(r.name) for r in allowed}
    reachable = direct | {dep for name in direct for dep in requirements_of(name)}
    providers = metadata.packages_distributions()
    missing = []
    for module in sorted(set().union(*(imported_top_level(ROOT / f) for f in folders))):
        if module in own or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & reachable:
            missing.append(f"{module} (from {', '.join(sorted(dists)) or 'nothing installed'})")
    return missing


def test_every_package_the_center_imports_is_a_declared_dependency() -> None:
    code = ["center", "core", "alerts", "cases", "accounts", "units", "dispatch", "realtime", "web",
            "simulation", "bench"]  # fmt: skip
    # the embedded servers and tracing are extras: imported only when asked for
    allowed = [*declared(), *declared("embedded"), *declared("tracing")]
    assert undeclared_imports(code, allowed) == []


def test_every_package_the_tests_import_is_declared() -> None:
    assert undeclared_imports(["tests"], every_declared()) == []
