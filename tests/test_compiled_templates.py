"""A template compiled once answers as the interpreting ``fill`` does
(``contracts._declaration_values.compile_template``): the declared engine fills its job
template and answer-headers from the compiled form on every poll, and ``fill`` (the reference,
written first and tested on its own in tests/test_declaration_rules.py) stays for one-shot
templates. Drawn templates, values and statuses, both sides compared, KeyErrors included."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts._declaration import STATUSES, compile_template, fill

NAMES = ("job.id", "status", "progress", "video_url", "job.notes", "cost_text")
texts = st.one_of(
    st.sampled_from([f"{{{n}}}" for n in NAMES] + ["{nope}"]),
    st.builds(
        lambda a, n, b: f"{a}{{{n}}}{b}",
        st.sampled_from(["", "at ", "{", "x}"]),
        st.sampled_from(NAMES),
        st.sampled_from(["", " s", "{}", "{a b}"]),
    ),
    st.text(alphabet="ab{}. _", max_size=8),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), texts)
statuses = st.sampled_from([*STATUSES, None])


def _entry(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A mapping's value: plain, or an ``x-when`` (with or without ``x-else``) or ``x-if``."""
    whens = st.lists(st.sampled_from(STATUSES), max_size=3)
    return st.one_of(
        value,
        st.builds(lambda w, v: {"x-when": w, "x-value": v}, whens, value),
        st.builds(lambda w, v, e: {"x-when": w, "x-value": v, "x-else": e}, whens, value, value),
        st.builds(lambda n, v: {"x-if": n, "x-value": v}, st.sampled_from(NAMES), value),
    )


templates = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["id", "status", "a", "b"]), _entry(inner), max_size=4),
    ),
    max_leaves=12,
)
values = st.dictionaries(
    st.sampled_from(NAMES),
    st.one_of(
        st.none(), st.just(""), st.just([]), st.just({}), st.integers(0, 2), st.text(max_size=3)
    ),
)


class Text(str):
    """A string that is not exactly ``str`` (a template read by other means than YAML)."""


class Items(list[Any]):
    """A list that is not exactly ``list``."""


def _exotic(template: Any) -> Any:
    """``template`` with every mapping a read-only proxy, every string a ``Text`` and every
    list an ``Items``: ``fill`` reads them by what they are, and so must the compiled form."""
    if isinstance(template, str):
        return Text(template)
    if isinstance(template, dict):
        return MappingProxyType({Text(k): _exotic(v) for k, v in template.items()})
    if isinstance(template, list):
        return Items(_exotic(x) for x in template)
    return template


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except KeyError as exc:
        return ("KeyError", exc.args)


@settings(max_examples=200, deadline=None)
@given(templates, values, statuses)
def test_compiled_fills_as_fill_does(
    template: Any, given_values: dict[str, Any], status: Any
) -> None:
    for drawn in (template, _exotic(template)):
        compiled = compile_template(drawn)
        assert _outcome(lambda: compiled.fill(given_values, status)) == _outcome(  # noqa: B023
            lambda: fill(drawn, given_values, status)  # noqa: B023 - both called at once
        )


@settings(max_examples=200, deadline=None)
@given(templates, statuses)
def test_names_are_every_value_a_template_can_ask_for(template: Any, status: Any) -> None:
    """With every name of ``names`` given, no fill asks for another (whatever the status)."""
    compiled = compile_template(template)
    asked: list[str] = []

    class Watching(dict[str, Any]):
        def __missing__(self, name: str) -> Any:
            asked.append(name)
            return "v"

    compiled.fill(Watching(dict.fromkeys(compiled.names, "v")), status)
    assert asked == []


def test_names_and_fills_of_a_job_template() -> None:
    template = {
        "id": "{job.id}",
        "seen": "at {progress} of {job.id}",
        "url": {"x-when": ["completed"], "x-value": "{video_url}", "x-else": "none yet"},
        "notes": {"x-if": "job.notes", "x-value": ["{cost_text}", 1, None]},
        "plain": "no {braces here",
    }
    compiled = compile_template(template)
    assert compiled.names == {"job.id", "progress", "video_url", "job.notes", "cost_text"}
    given_values = {
        "job.id": "v1",
        "progress": 0.5,
        "video_url": "u",
        "job.notes": [],
        "cost_text": "1",
    }
    assert compiled.fill(given_values, "queued") == {
        "id": "v1",
        "seen": "at 0.5 of v1",
        "url": "none yet",
        "plain": "no {braces here",
    }
    assert compiled.fill({**given_values, "job.notes": ["n"]}, "completed") == {
        "id": "v1",
        "seen": "at 0.5 of v1",
        "url": "u",
        "notes": ["1", 1, None],
        "plain": "no {braces here",
    }
    with pytest.raises(KeyError, match="job.id"):
        compiled.fill({}, None)


@pytest.mark.parametrize("status", ["queued", "completed", None])
def test_the_status_reaches_every_depth(status: str | None) -> None:
    """An ``x-when`` inside a mapping, a list, an ``x-value``, an ``x-else`` and an ``x-if``
    is judged by the answer's status, as at the top."""

    def when(n: int) -> dict[str, Any]:
        return {"x-when": ["queued"], "x-value": n}

    template = {
        "a": {"b": when(1)},
        "l": [{"c": when(2)}],
        "w": {"x-when": ["queued"], "x-value": {"d": when(3)}},
        "e": {"x-when": ["completed"], "x-value": {"f": when(4)}, "x-else": {"f": when(5)}},
        "i": {"x-if": "job.id", "x-value": {"g": when(6)}},
        "p": {"q": {"r": when(7)}},  # a mapping with no condition of its own, holding one
    }
    filled = compile_template(template).fill({"job.id": "v1"}, status)
    assert filled == fill(template, {"job.id": "v1"}, status)
    expected = {
        "queued": {
            "a": {"b": 1},
            "l": [{"c": 2}],
            "w": {"d": 3},
            "e": {"f": 5},
            "i": {"g": 6},
            "p": {"q": {"r": 7}},
        },
        "completed": {"a": {}, "l": [{}], "e": {}, "i": {}, "p": {"q": {}}},
        None: {"a": {}, "l": [{}], "e": {}, "i": {}, "p": {"q": {}}},
    }
    assert filled == expected[status]


@pytest.mark.parametrize(
    ("value", "kept"),
    [(None, False), ("", False), ([], False), ({}, False), (0, True), (False, True), ("x", True)],
)
def test_an_x_if_leaves_out_an_entry_for_an_empty_value_only(value: Any, kept: bool) -> None:
    template = {"n": {"x-if": "job.notes", "x-value": "{job.notes}"}, "id": "{job.id}"}
    given_values = {"job.notes": value, "job.id": "v1"}
    filled = compile_template(template).fill(given_values, None)
    assert filled == ({"n": value, "id": "v1"} if kept else {"id": "v1"})
    assert filled == fill(template, given_values)
