"""The client's side of a declared ``envelope`` (``sora_client._providers.declared_envelope``),
rule by rule, on the module alone: an answer holding its job object passes; a status code of
400 or more (a number, not a flag or text) makes it the error it names, built from an answer
of that status with the answer's headers and body; anything else is a ValueError naming the
envelope's job object. The adapter is a stand-in that keeps the answer it is handed.
In-process and fast: the module's own tests for mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts._decl_answers import Envelope
from sora_client._providers import declared_envelope as envelopes

ENVELOPE = Envelope(job="/data", status="/code")


class Named(Exception):
    pass


class Adapter:
    def __init__(self) -> None:
        self.handed: list[tuple[httpx.Response, bytes]] = []

    def error(self, response: httpx.Response, content: bytes) -> Named:
        self.handed.append((response, content))
        return Named(response.status_code)


ANSWER = httpx.Response(200, headers={"x-request-id": "r1", "x-other": "o"})


def _check(body: Any, envelope: Envelope = ENVELOPE) -> Adapter:
    adapter = Adapter()
    envelopes.check(adapter, envelope, body, ANSWER)
    return adapter


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"id": "j"}, "code": 200},
        {"data": {}, "code": 500},  # a job object wins over any code
        {"data": {"id": "j"}},
    ],
)
def test_an_answer_holding_its_job_object_passes(body: Any) -> None:
    assert _check(body).handed == []


def test_a_job_object_deeper_in_the_answer_passes() -> None:
    envelope = Envelope(job="/result/job", status="/meta/code")
    body = {"result": {"job": {"id": "j"}}, "meta": {"code": 404}}
    assert _check(body, envelope).handed == []


@pytest.mark.parametrize("code", [400, 404, 429, 500, 503])
def test_a_code_of_400_or_more_is_the_error_it_names(code: int) -> None:
    body = {"code": code, "message": "no", "data": None}
    adapter = Adapter()
    with pytest.raises(Named) as raised:
        envelopes.check(adapter, ENVELOPE, body, ANSWER)
    assert raised.value.args == (code,)
    ((response, content),) = adapter.handed
    assert response.status_code == code
    assert response.headers["x-request-id"] == "r1" and response.headers["x-other"] == "o"
    assert json.loads(content) == body and content == response.content


def test_an_error_code_is_read_where_the_envelope_says() -> None:
    envelope = Envelope(job="/result", status="/meta/code")
    body = {"meta": {"code": 429}, "code": 200, "result": []}
    adapter = Adapter()
    with pytest.raises(Named):
        envelopes.check(adapter, envelope, body, ANSWER)
    assert adapter.handed[0][0].status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        {"code": 399, "data": None},
        {"code": 200},
        {"code": "500", "data": None},  # text is not a code
        {"code": True},  # nor a flag
        {"code": 404.0},
        {"code": None},
        {"data": "a text", "code": 0},
        {"data": ["a list"]},
        {},
        [],
    ],
)
def test_anything_else_is_an_envelope_without_its_job_object(body: Any) -> None:
    adapter = Adapter()
    with pytest.raises(ValueError, match="^the envelope has no data object$"):
        envelopes.check(adapter, ENVELOPE, body, ANSWER)
    assert adapter.handed == []


def test_an_envelope_without_a_status_pointer_reads_no_code() -> None:
    adapter = Adapter()
    with pytest.raises(ValueError, match="^the envelope has no result object$"):
        envelopes.check(adapter, Envelope(job="/result"), {"code": 500, "": 500}, ANSWER)
    assert adapter.handed == []
