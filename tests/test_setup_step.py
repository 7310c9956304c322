"""The first run says what it is doing: each set-up step of the Makefile is one line
(`tools/setup-step`), pip's and apt's own output goes to `.venv/setup.log`, and a step that
fails shows the end of that log and fails the build."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP = ROOT / "tools" / "setup-step"


def _step(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "logs" / "setup.log"
    return subprocess.run(
        ["sh", str(STEP), "installing things (once)", *command],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SETUP_LOG": str(log)},
        check=False,
    )


def test_a_step_that_works_says_one_line_and_logs_the_rest(tmp_path: Path) -> None:
    done = _step(tmp_path, "sh", "-c", "echo pip-noise; echo more-noise >&2")
    assert done.returncode == 0
    assert done.stdout == "installing things (once)\n" and done.stderr == ""
    log = (tmp_path / "logs" / "setup.log").read_text()
    assert "pip-noise" in log and "more-noise" in log and "installing things (once)" in log


def test_a_step_that_fails_shows_the_end_of_its_log_and_its_status(tmp_path: Path) -> None:
    failed = _step(tmp_path, "sh", "-c", "echo what-went-wrong; exit 3")
    assert failed.returncode == 3
    assert failed.stdout == "installing things (once)\n"
    assert "what-went-wrong" in failed.stderr and "failed (3)" in failed.stderr
    assert str(tmp_path / "logs" / "setup.log") in failed.stderr


def test_every_install_in_the_makefile_is_a_quiet_step() -> None:
    recipes = [
        line.strip()
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("\t")
    ]
    joined = "\n".join(recipes).replace("\\\n", " ")
    installs = [
        r for r in joined.splitlines() if re.search(r"pip install|apt-get install|-m venv", r)
    ]
    assert installs, "the Makefile installs nothing?"
    for recipe in installs:
        assert "$(STEP)" in recipe, f"not a quiet step: {recipe}"


def test_an_editable_install_is_one_path_line_not_a_finder_that_warns() -> None:
    """setuptools' import finder warns at every editable install; with the packages' directory
    said explicitly it writes one .pth line instead (checked by hand: no warning in the log)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^package-dir = \{"" = "\."\}$', pyproject, re.M)
