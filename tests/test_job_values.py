"""A declared job's template values are worked out group by group, only when a template names
one (``mockserver.state.template_values.JobValues``): a poll pays for the values its template
uses, and every value is still there for whoever asks for all of them."""

from __future__ import annotations

from typing import Any

import pytest
from jobs import make_job

from contracts import _declaration as decl
from contracts._declaration import fill
from mockserver.state.template_values import JobValues


def _values(made: list[str]) -> JobValues:
    def group(name: str, values: dict[str, Any]) -> Any:
        def make() -> dict[str, Any]:
            made.append(name)
            return values

        return make

    return JobValues(
        {"job.id": "video_1", "status": "queued"},
        (
            (frozenset({"video_url"}), group("urls", {"video_url": "http://h/v"})),
            (frozenset({"poll_after_ms"}), group("words", {"poll_after_ms": 250})),
        ),
    )


def test_a_template_of_known_values_works_out_no_group() -> None:
    made: list[str] = []
    assert fill({"id": "{job.id}", "s": "{status}"}, _values(made)) == {
        "id": "video_1",
        "s": "queued",
    }
    assert made == []


def test_a_later_value_works_out_its_own_group_only_and_once() -> None:
    made: list[str] = []
    values = _values(made)
    assert fill({"hint": "{poll_after_ms}"}, values) == {"hint": 250}
    assert made == ["words"]  # not the URLs before it (they parse the request's host)
    assert fill({"hint": "{poll_after_ms}", "url": "{video_url}"}, values) == {
        "hint": 250,
        "url": "http://h/v",
    }
    assert values["poll_after_ms"] == 250
    assert made == ["words", "urls"]


def test_whole_holds_every_value_and_an_unknown_name_is_a_key_error() -> None:
    made: list[str] = []
    values = _values(made)
    assert values.whole() == {
        "job.id": "video_1",
        "status": "queued",
        "video_url": "http://h/v",
        "poll_after_ms": 250,
    }
    assert made == ["urls", "words"]
    with pytest.raises(KeyError, match="nope"):
        _values(made)["nope"]
    assert made == ["urls", "words"]  # a name no group gives works out none


@pytest.mark.parametrize("name", sorted(d.contract for d in decl.declarations()))
def test_each_group_names_exactly_the_values_it_gives(name: str) -> None:
    """The engine's groups (``DeclaredDialect.values``) say what they give: a name a group
    gives but does not say would be a KeyError for a template naming it; one it says but does
    not give, the same after working the group out."""
    from mockserver.providers import declared_answers as answers
    from mockserver.providers import declared_roles as roles
    from mockserver.state.lifecycle import JobState, Status

    (declaration,) = [d for d in decl.declarations() if d.contract == name]
    job = make_job(created_at=1_700_000_000.0)
    for state in (
        JobState(Status.QUEUED, 0.0, None, None),
        JobState(Status.COMPLETED, 1.0, 1_700_000_002.0, 1_700_000_012.0),
    ):
        given = roles.surface_values(declaration, job, state)
        assert set(given) == roles.surface_names(declaration)
        assert set(answers.values(1_700_000_005.0, job, state)) == answers.VALUE_NAMES


def test_a_model_value_is_given_by_the_surface_group() -> None:
    from mockserver.providers import declared_roles as roles

    declaration = next(d for d in decl.declarations() if any(m.values for m in d.models))
    named = {f"{decl.MODEL_VALUE}{n}" for m in declaration.models for n in m.values}
    assert named and named <= roles.surface_names(declaration)
