"""Schemathesis keeps the mock honest to every contract, in-process (WSGI, no port).

Examples, coverage, fuzzing (positive and negative data) per operation, and the stateful
phase following the contracts' links (create -> status -> content, remix, delete). Every
check is on; per-operation adjustments live in schemathesis.toml with reasons in
contracts/README.md.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

import contracts
from mockserver.http.app import create_app
from mockserver.testing import SoraMock, test_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")

# One app for the module (a function-scoped fixture would fail hypothesis' health check).
# A stepping clock moves half a second at every read, so jobs progress and streams end
# without anyone advancing it, deterministically; videos are rendered at 2 fps to stay cheap.
# Only the key below is accepted, so `ignored_auth` can see invalid credentials refused.
APP = create_app(
    test_config(clock="stepping", clock_step=0.5, fps=2, api_keys=("sk-schemathesis",))
)
MOCK = SoraMock(APP, host="http://localhost")
AUTH = {"Authorization": "Bearer sk-schemathesis"}

TARGETS = {
    "gptproto-v3": "gptproto",
    "gptproto-videos": "gptproto",
    "gptproto-chat": "gptproto",
    "gptge-videos": "gptge",
    "vtrix-generation": "vtrix",
    "openrouter-videos": "openrouter",
    "mock-admin": "",
}


def base_url(name: str) -> str:
    prefix = TARGETS[name]
    return f"http://localhost/{prefix}" if prefix else "http://localhost"


def load(name: str) -> Any:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(contracts.load(name).spec), config=CONFIG)
    schema.app = APP
    prefix = TARGETS[name]
    schema.config.update(base_url=base_url(name), headers=AUTH if prefix else None)
    if name == "mock-admin":
        # reset would wipe state other examples rely on mid-run, and a random fault rate would
        # stay in force for the operations after it; both are tested directly
        schema = schema.exclude(name="POST /__mock/reset").exclude(name="PUT /__mock/faults")
    return schema


#: every contract's paths with no parameter (``/api/v1/videos/models``)
CONCRETE = {
    path for name in TARGETS for path in contracts.load(name).spec["paths"] if "{" not in path
}


@schemathesis.hook
def filter_path_parameters(ctx: Any, path_parameters: Any) -> bool:
    """No path parameter whose value makes its path a concrete path of a contract (OpenRouter's
    ``GET /api/v1/videos/{jobId}`` with ``jobId`` ``models`` is ``GET /api/v1/videos/models``):
    OpenAPI matches a concrete path before a templated one, so that request is the other
    operation's and is answered by its schema (contracts/README.md, "Schemathesis: checks
    adjusted")."""
    operation = getattr(ctx, "operation", None)
    if operation is None or not path_parameters or "{" not in operation.path:
        return True
    filled = re.sub(
        r"\{([^}]+)\}",
        lambda m: str(path_parameters.get(m.group(1), m.group(0))),
        operation.path,
    )
    return filled not in CONCRETE


SCHEMAS = {name: load(name) for name in TARGETS}
SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck))


def _check(case: Any, name: str) -> None:
    case.call_and_validate(base_url=base_url(name))
    MOCK.check()


gptproto_v3 = SCHEMAS["gptproto-v3"]
gptproto_videos = SCHEMAS["gptproto-videos"]
gptproto_chat = SCHEMAS["gptproto-chat"]
gptge_videos = SCHEMAS["gptge-videos"]
vtrix_generation = SCHEMAS["vtrix-generation"]
openrouter_videos = SCHEMAS["openrouter-videos"]
mock_admin = SCHEMAS["mock-admin"]


@gptproto_v3.parametrize()
@SETTINGS
def test_gptproto_v3(case: Any) -> None:
    _check(case, "gptproto-v3")


@gptproto_videos.parametrize()
@SETTINGS
def test_gptproto_videos(case: Any) -> None:
    _check(case, "gptproto-videos")


@gptproto_chat.parametrize()
@SETTINGS
def test_gptproto_chat(case: Any) -> None:
    _check(case, "gptproto-chat")


@gptge_videos.parametrize()
@SETTINGS
def test_gptge_videos(case: Any) -> None:
    _check(case, "gptge-videos")


@vtrix_generation.parametrize()
@SETTINGS
def test_vtrix_generation(case: Any) -> None:
    _check(case, "vtrix-generation")


@openrouter_videos.parametrize()
@SETTINGS
def test_openrouter_videos(case: Any) -> None:
    _check(case, "openrouter-videos")


@mock_admin.parametrize()
@SETTINGS
def test_mock_admin(case: Any) -> None:
    _check(case, "mock-admin")


# Chat mode has no links to follow: its job is the stream of one request.
@pytest.mark.parametrize("name", sorted(n for n in TARGETS if n != "gptproto-chat"))
def test_stateful_links(name: str) -> None:
    """Follow the contracts' links: create -> status -> content, remix, delete."""
    url = base_url(name)
    # the admin contract's run adds scenario rules (POST /__mock/scenarios is fuzzed too): a
    # rate_limited rule left for a provider would answer this run's creates 429
    MOCK.clear_scenarios()

    class Machine(SCHEMAS[name].as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": url}

    Machine.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    MOCK.check()


def test_a_path_parameter_that_names_a_concrete_path_is_not_drawn() -> None:
    from types import SimpleNamespace

    jobs = SimpleNamespace(operation=SimpleNamespace(path="/api/v1/videos/{jobId}"))
    assert "/api/v1/videos/models" in CONCRETE
    assert filter_path_parameters(jobs, {"jobId": "models"}) is False
    assert filter_path_parameters(jobs, {"jobId": "gen-1"}) is True
    assert filter_path_parameters(jobs, {"jobId": 7}) is True
    assert filter_path_parameters(SimpleNamespace(operation=None), {"jobId": "models"}) is True
