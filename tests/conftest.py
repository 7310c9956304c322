"""Shared test set-up: hypothesis profiles and import path for test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

# `ci` is hypothesis' built-in derandomized profile, loaded when CI is set; `dev` is quick.
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
if not os.environ.get("CI"):
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        default=False,
        help="also run the tests marked `live` against real providers (paid; needs their keys)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        return
    off = pytest.mark.skip(reason="live provider tests are off: pass --live and set the key")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(off)


@pytest.fixture
def empty_render_caches() -> None:
    """For tests of renders and caches: the process-wide cache of encoded loops starts empty,
    so a video another test left in it cannot make a test pass (each app's own media cache is
    new with the app), and so does the memory of image verdicts (a verdict remembered from an
    earlier run of the same test would answer without the image being opened). Use it with
    ``pytest.mark.usefixtures``."""
    from mockserver import media

    media.render_process._loops.clear()
    with media.images._probes_lock:
        media.images._probes.clear()
