"""Reading the project's TOML data files (categories, unit kinds): a missing file or bad syntax is
reported through the caller's own error, naming the file."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


def read_toml(path: Path, fail: Callable[[str, str, str], NoReturn]) -> dict[str, Any]:
    """The document; ``fail(entry, field, reason)`` raises when it cannot be read or parsed."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        fail("(file)", "(file)", f"cannot be read: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        fail("(file)", "(syntax)", f"not valid TOML: {exc}")
