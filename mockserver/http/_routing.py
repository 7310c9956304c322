"""URL rules that compile their URL builders when a URL is first built, not at start-up.

Werkzeug compiles two Python functions per rule when the rule is added (``Rule.compile``:
source generated, ``ast``-walked and ``compile()``-d), so that ``url_for`` is fast. The mock
adds ~40 rules and builds no URL on any request path, so that work (~40 % of ``create_app``,
measured with cProfile) only delayed the first answered request. Matching is unchanged: the
regular expressions and the rule's parts are still built eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    """A rule whose builders are compiled on their first use (``url_for``, redirects)."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []
        eager = super()._compile_builder

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(eager(append_unknown).__get__(rule, None))
            return compiled[0](*args, **kwargs)

        return build


class MockFlask(Flask):
    url_rule_class = LazyBuildRule
