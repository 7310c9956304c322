"""``contracts/_declaration_answers.py`` rule by rule, in process: the names a job template may
use (every model's own values beside the engine's), ``errors.types`` read and refused, and an
error's ``{type}`` chosen by code, then status, then status class."""

from __future__ import annotations

from typing import Any

import pytest

from contracts._declaration_answers import answer_words, job_names, more_error_values
from contracts._declaration_types import JOB_VALUES, Model
from contracts._loader import ContractError


class _Reader:
    """The reader's ``fail`` as the real one builds it (the file, the place, the words)."""

    def fail(self, where: str, message: str) -> ContractError:
        return ContractError("deck.yaml", where, message)


def _model(name: str, **values: Any) -> Model:
    return Model(id=name, sizes=("720x1280",), durations=(4,), listing={}, values=values)


def test_a_job_template_may_use_the_engines_values_and_every_models_own() -> None:
    names = job_names((_model("a", tier="basic", speed=1), _model("b", tier="pro", rank=2)))
    own = {"model.rank", "model.speed", "model.tier"}
    assert set(names) == set(JOB_VALUES) | own
    assert {n: names[n] for n in JOB_VALUES} == JOB_VALUES
    assert list(names)[len(JOB_VALUES) :] == sorted(own)


def test_a_model_without_values_adds_no_name() -> None:
    assert job_names((_model("a"),)) == JOB_VALUES


def test_error_types_are_read_with_their_keys_as_text() -> None:
    found = answer_words(_Reader(), {"types": {404: "not_found", "4xx": "client_error"}})
    assert found == {"error_types": {"404": "not_found", "4xx": "client_error"}}


def test_no_error_types_read_as_none_declared() -> None:
    assert answer_words(_Reader(), {}) == {"error_types": {}}


@pytest.mark.parametrize("types", [["not_found"], "not_found", {"404": 3}, {"404": None}])
def test_error_types_not_a_mapping_of_text_are_refused_with_the_fix(types: Any) -> None:
    with pytest.raises(ContractError) as caught:
        answer_words(_Reader(), {"types": types})
    assert caught.value.where == "/errors/types"
    assert caught.value.message == "a mapping of a code, a status or 4xx/5xx to a type"


TYPES = {"no_engine": "engine_error", "404": "not_found", "4xx": "client_error", "5xx": "server"}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "no_engine", "engine_error"),  # the code first
        (404, None, "not_found"),  # then the status
        (404, "other", "not_found"),  # a code not declared: the status
        (409, None, "client_error"),  # then its class
        (503, "other", "server"),
        (302, None, None),  # none: null
    ],
)
def test_an_errors_type_is_its_codes_else_its_statuss_else_its_classs(
    status: int, code: str | None, kind: str | None
) -> None:
    assert more_error_values(TYPES, status, code) == {"type": kind}


def test_no_types_declared_give_a_null_type() -> None:
    assert more_error_values({}, 404, "no_engine") == {"type": None}
