"""Start-up work the server skips or defers (issue: the first answer within 0.5 s of launch).

What each change saves is measured, not asserted here (``benchmarks/README.md``); these
tests pin what the server must still do: every URL rule builds as Werkzeug's own would, and
the cyclic garbage collector runs again in every worker."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.routing import Map, Rule

from mockserver.app import create_app
from mockserver.config import MockConfig


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
