"""A declared job's template values are worked out group by group, only when a template names
one (``mockserver.state.template_values.JobValues``): a poll pays for the values its template
uses, and every value is still there for whoever asks for all of them."""

from __future__ import annotations

from typing import Any

import pytest

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
        (group("urls", {"video_url": "http://h/v"}), group("words", {"poll_after_ms": 250})),
    )


def test_a_template_of_known_values_works_out_no_group() -> None:
    made: list[str] = []
    assert fill({"id": "{job.id}", "s": "{status}"}, _values(made)) == {
        "id": "video_1",
        "s": "queued",
    }
    assert made == []


def test_a_later_value_works_out_the_groups_up_to_its_own_once() -> None:
    made: list[str] = []
    values = _values(made)
    assert fill({"hint": "{poll_after_ms}", "url": "{video_url}"}, values) == {
        "hint": 250,
        "url": "http://h/v",
    }
    assert values["poll_after_ms"] == 250
    assert made == ["urls", "words"]


def test_whole_holds_every_value_and_an_unknown_name_is_a_key_error() -> None:
    made: list[str] = []
    values = _values(made)
    assert values.whole() == {
        "job.id": "video_1",
        "status": "queued",
        "video_url": "http://h/v",
        "poll_after_ms": 250,
    }
    with pytest.raises(KeyError, match="nope"):
        _values([])["nope"]
