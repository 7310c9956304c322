"""Start-up work the server skips or defers (issue: the first answer within 0.5 s of launch).

What each change saves is measured, not asserted here (``benchmarks/README.md``); these
tests pin what the server must still do: every URL rule builds as Werkzeug's own would, and
the cyclic garbage collector runs again in every worker."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.routing import Map, Rule

from mockserver import cli
from mockserver.http import app as app_module
from mockserver.http.app import create_app
from mockserver.settings.config import MockConfig


@pytest.fixture
def eager_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rules whose URL builders Werkzeug compiled, in order."""
    compiled: list[str] = []
    real = Rule._compile_builder

    def spy(self: Rule, append_unknown: bool = True) -> Any:
        compiled.append(self.rule)
        return real(self, append_unknown)

    monkeypatch.setattr(Rule, "_compile_builder", spy)
    return compiled


def _values(rule: Rule) -> dict[str, str]:
    return {name: f"v{i}-x" for i, name in enumerate(sorted(rule.arguments))}


def test_building_the_app_compiles_no_url_builder(eager_compiles: list[str]) -> None:
    app = create_app(MockConfig())
    assert len(list(app.url_map.iter_rules())) > 30
    assert eager_compiles == []


def test_every_rule_builds_what_werkzeugs_own_rule_builds(eager_compiles: list[str]) -> None:
    app = create_app(MockConfig())
    rules = list(app.url_map.iter_rules())
    eager = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for r in rules])
    eager_compiles.clear()
    ours, theirs = app.url_map.bind("mock.test"), eager.bind("mock.test")
    for rule in rules:
        for extra in ({}, {"q": "a b"}):  # the second one: the builder for unknown values
            values = {**_values(rule), **extra}
            method = sorted(rule.methods or {"GET"})[0]
            built = ours.build(rule.endpoint, values, method=method)
            assert built == theirs.build(rule.endpoint, values, method=method), rule.rule
    # each builder compiled once, on first use, and reused after
    compiled_again = len(eager_compiles)
    for rule in rules:
        ours.build(rule.endpoint, _values(rule), method=sorted(rule.methods or {"GET"})[0])
    assert len(eager_compiles) == compiled_again


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """``serve`` freezes the heap (objects kept out of every collection): undo it after."""
    yield
    gc.unfreeze()
    gc.enable()


def test_serve_builds_without_the_collector_then_freezes_and_turns_it_back_on(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    import granian.server

    seen: dict[str, Any] = {}
    real_create_app = app_module.create_app

    def building(*args: Any, **kwargs: Any) -> Any:
        seen["collecting while building"] = gc.isenabled()
        return real_create_app(*args, **kwargs)

    def forking(self: Any, *args: Any, **kwargs: Any) -> None:
        # the moment granian forks its workers: they inherit this state
        seen["collecting at fork"] = gc.isenabled()
        seen["frozen at fork"] = gc.get_freeze_count()

    monkeypatch.setattr(app_module, "create_app", building)
    monkeypatch.setattr(granian.server.Server, "serve", forking)
    gc.unfreeze()
    assert gc.isenabled()

    code = cli.main(["serve", "--port", "0", "--workers", "1", "--store", "memory"])

    assert code == 0
    assert seen["collecting while building"] is False
    assert seen["collecting at fork"] is True
    assert seen["frozen at fork"] > 10_000  # the modules and the app, at least
    assert gc.isenabled()


def test_a_serve_refused_early_leaves_the_collector_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert gc.isenabled()


def test_other_commands_leave_the_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(cli, "sample_image", lambda args: seen.append(gc.isenabled()) or 0)
    assert cli.main(["sample-image"]) == 0
    assert seen == [True]
