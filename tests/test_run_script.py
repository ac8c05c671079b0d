"""`./run`'s browser step as a fresh machine sees it: root gets only Chromium and a CJK font, without
recommended packages; anyone else is told plainly that the browser tests will fail and what to run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_browser_step(tmp_path: Path, uid: int) -> tuple[str, str]:
    """The ``browser`` function of ./run with no browser installed, ``id`` and ``apt-get`` stand-ins
    on PATH; returns (what apt-get was asked, what the user read)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-calls"
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    script = ROOT.joinpath("run").read_text(encoding="utf-8")
    function = script[script.index("browser() {") : script.index("\n}\n", script.index("browser() {")) + 3]
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "CHROMIUM": str(tmp_path / "no-chromium"),
           "CJK_FONTS": str(tmp_path / "no-fonts")}  # fmt: skip
    done = subprocess.run(["bash", "-c", f"set -euo pipefail\n{function}\nbrowser"], env=env,
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    return (calls.read_text() if calls.exists() else ""), done.stderr


def test_root_installs_only_the_browser_and_a_font(tmp_path: Path) -> None:
    asked, _ = run_browser_step(tmp_path, uid=0)
    install = [line for line in asked.splitlines() if " install " in f" {line} "]
    assert install == ["install -y -qq --no-install-recommends chromium fonts-wqy-zenhei"], asked


def test_a_user_who_is_not_root_is_told_the_browser_tests_will_fail(tmp_path: Path) -> None:
    asked, told = run_browser_step(tmp_path, uid=1000)
    assert asked == ""
    assert "will fail" in told and "skipped" not in told
    assert "apt-get install --no-install-recommends chromium fonts-wqy-zenhei" in told
