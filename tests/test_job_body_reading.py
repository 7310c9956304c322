"""How a flat job object (the ``/v1/videos`` and Vtrix answers) is read
(``Adapter.job_fields``, ``neutral_status``, ``clamp01``, ``text_or_none``): its id, its status
in neutral words, its error's code and message; progress read into 0..1 whatever comes; a body
that is not a job is a ValueError the client turns into an UnexpectedResponseError."""

from __future__ import annotations

from typing import Any

import pytest

from sora_client._providers import Adapter, adapter_class
from sora_client._providers.base import clamp01, text_or_none

GptgeVideos = adapter_class("gptge")  # driven from its declaration

# Vtrix is a declaration (contracts/vtrix-generation.yaml): its adapter is made from it
VtrixGeneration = adapter_class("vtrix")


@pytest.fixture
def gptge() -> Adapter:
    return GptgeVideos("sk-test", "http://127.0.0.1:9/gptge")


def test_a_job_gives_its_id_and_neutral_status(gptge: Adapter) -> None:
    assert gptge.job_fields({"id": "v1", "status": "in_progress"}) == (
        "v1",
        "in_progress",
        None,
        None,
    )
    vtrix = VtrixGeneration("sk-test", "http://127.0.0.1:9/vtrix")
    assert vtrix.job_fields({"id": "t1", "status": "processing"})[1] == "in_progress"


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ({"code": "x", "message": "m"}, "x", "m"),
        ({"code": 3000095, "error_message": "seed words", "message": "m"}, "3000095", "seed words"),
        ({"error_message": "", "message": "m"}, None, "m"),
        ({"message": 42}, None, "42"),
        ({}, None, None),
        ("a string error", None, None),
        (None, None, None),
    ],
)
def test_a_jobs_error_gives_its_code_and_message(
    gptge: Adapter, error: Any, code: str | None, message: str | None
) -> None:
    body = {"id": "v1", "status": "failed", "error": error}
    assert gptge.job_fields(body) == ("v1", "failed", code, message)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (["v1"], "the job is not a JSON object"),
        (None, "the job is not a JSON object"),
        ({"id": "", "status": "queued"}, "the job has no id"),
        ({"id": 5, "status": "queued"}, "the job has no id"),
        ({"id": "v1", "status": "dancing"}, "unknown status 'dancing'"),
        ({"id": "v1", "status": None}, "unknown status None"),
        ({"id": "v1", "status": ["queued"]}, "unknown status ['queued']"),
    ],
)
def test_a_body_that_is_not_a_job_is_a_value_error(gptge: Adapter, body: Any, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        gptge.job_fields(body)
    assert str(caught.value) == words


def test_a_job_without_id_or_status_is_a_key_error(gptge: Adapter) -> None:
    with pytest.raises(KeyError):
        gptge.job_fields({"status": "queued"})
    with pytest.raises(KeyError):
        gptge.job_fields({"id": "v1"})


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        (0.3, None, 0.3),
        (1, None, 1.0),
        (50, 100, 0.5),
        (250, 100, 1.0),
        (1.5, None, 1.0),
        (-1, None, 0.0),
        (True, None, 0.0),
        ("0.5", None, 0.0),
        (None, None, 0.0),
        (float("nan"), None, 0.0),
        (float("inf"), None, 1.0),
    ],
)
def test_progress_is_read_into_zero_to_one(
    value: Any, scale: float | None, expected: float
) -> None:
    read = clamp01(value) if scale is None else clamp01(value, scale)
    assert read == expected
    assert type(read) is float


def test_text_or_none_keeps_text_and_names_the_rest() -> None:
    assert text_or_none(None) is None
    assert text_or_none("x") == "x"
    assert text_or_none(95) == "95"
    assert text_or_none("") == ""
