"""The generic engine's side of the words GPTProto v3's move added
(``mockserver.providers.declared_answers``), rule by rule, without an app: the job values
(creation time as text, the notes as text, the milliseconds of rendering at each point of a
job's life), the declared headers on a job's answer, the size a create's body names in words
(an absent field read as its schema default), what a job keeps of its create, and the pixels a
recorded create names, through the declared providers in their order. Declarations are
stand-ins or copies of the bundled ones made in the test; the clock is a number the test
passes. In-process and fast: the module's own tests for mutation runs
(tests/mutation/mutate.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from contracts import _declaration as decl
from contracts._decl_answers import Answers
from contracts._document import resolve_pointer
from mockserver.providers import declared_answers as answers
from mockserver.state.lifecycle import Job, JobState, Status


def _job(created_at: float = 1_700_000_000.0, notes: list[str] | None = None) -> Job:
    return Job(
        id="j1",
        api="wrap-clips",
        model="m",
        prompt="p",
        width=720,
        height=1280,
        seconds=4,
        owner="k",
        created_at=created_at,
        queue_seconds=2.0,
        render_seconds=10.0,
        notes=notes or [],
    )


def _state(started: float | None, finished: float | None) -> JobState:
    return JobState(Status.IN_PROGRESS, 0.5, started, finished)


@pytest.mark.parametrize(
    ("started", "finished", "now", "elapsed"),
    [
        (None, None, 500.0, 0),  # queued: not started
        (100.0, None, 101.5, 1500),  # running: to now
        (100.0, None, 100.0, 0),
        (100.0, None, 100.0004, 0),  # rounded to the millisecond
        (100.0, None, 100.0006, 1),
        (100.0, 110.25, 500.0, 10250),  # ended: to its end, whatever the time now
        (100.0, 110.25, 105.0, 10250),
    ],
)
def test_elapsed_ms_runs_from_the_renders_start_to_its_end_or_now(
    started: float | None, finished: float | None, now: float, elapsed: int
) -> None:
    assert answers.values(now, _job(), _state(started, finished))["elapsed_ms"] == elapsed


def test_a_job_that_never_started_has_no_elapsed_time_even_with_an_end() -> None:
    assert answers.values(500.0, _job(), _state(None, 110.0))["elapsed_ms"] == 0


@pytest.mark.parametrize(
    ("created_at", "text"),
    [
        (0.0, "1970-01-01 00:00:00"),
        (1_700_000_000.9, "2023-11-14 22:13:20"),  # in UTC, seconds cut
        (1_735_689_599.0, "2024-12-31 23:59:59"),
    ],
)
def test_the_creation_time_as_text_is_utc_to_the_second(created_at: float, text: str) -> None:
    values = answers.values(0.0, _job(created_at), _state(None, None))
    assert values["job.created_at_text"] == text


@pytest.mark.parametrize(
    ("notes", "text"), [([], ""), (["one"], "one"), (["a", "b", "c"], "a | b | c")]
)
def test_the_notes_as_text_are_joined_by_a_bar(notes: list[str], text: str) -> None:
    assert answers.values(0.0, _job(notes=notes), _state(None, None))["job.notes_text"] == text


def test_the_values_are_exactly_the_three_words() -> None:
    values = answers.values(0.0, _job(), _state(None, None))
    assert set(values) == {"job.created_at_text", "job.notes_text", "elapsed_ms"}


def _declared(**given: Any) -> Any:
    return SimpleNamespace(answers=Answers(**given))


def test_no_declared_headers_is_no_headers() -> None:
    assert answers.headers(_declared(), {"job.id": "j1"}) is None


def test_the_headers_are_filled_with_the_jobs_values_as_text() -> None:
    template = {
        "X-Id": "{job.id}",
        "X-Seconds": "{job.seconds}",
        "X-Text": "id {job.id}",
        "X-Notes": {"x-if": "job.notes", "x-value": "{job.notes_text}"},
    }
    filled = {"job.id": "j1", "job.seconds": 8, "job.notes": [], "job.notes_text": ""}
    found = answers.headers(_declared(headers=template), filled)
    assert found == {"X-Id": "j1", "X-Seconds": "8", "X-Text": "id j1"}
    noted = {**filled, "job.notes": ["n"], "job.notes_text": "n"}
    assert answers.headers(_declared(headers=template), noted) == {
        "X-Id": "j1",
        "X-Seconds": "8",
        "X-Text": "id j1",
        "X-Notes": "n",
    }


@pytest.mark.parametrize("compiled", [False, True])
def test_a_header_sent_in_some_statuses_is_sent_in_those_only(compiled: bool) -> None:
    """(``compiled``: the template compiled once, as the engine passes it.)"""
    template = {"X-Hint": {"x-when": ["queued", "in_progress"], "x-value": "{job.id}"}}
    declared = _declared(headers=template)
    given = decl.compile_template(template) if compiled else None
    assert answers.headers(declared, {"job.id": "j1"}, "queued", given) == {"X-Hint": "j1"}
    assert answers.headers(declared, {"job.id": "j1"}, "completed", given) is None


def test_headers_all_left_out_are_no_headers() -> None:
    template = {"X-Notes": {"x-if": "job.notes", "x-value": "{job.notes_text}"}}
    assert answers.headers(_declared(headers=template), {"job.notes": []}) is None


TABLE = {
    "720x1280": {"/size": "small", "/shape": "tall"},
    "1280x720": {"/size": "small", "/shape": "wide"},
    "1024x1792": {"/size": "large", "/shape": "tall"},
}
SPEC = {
    "components": {
        "schemas": {
            "Create": {
                "type": "object",
                "properties": {
                    "size": {"type": "string"},
                    "shape": {"type": "string", "default": "tall"},
                },
            }
        }
    }
}


class Contract:
    """A contract as `named_size` reads it: its operations' definitions and `resolve`."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.definition = definition
        self.asked: list[str] = []

    def operation(self, op_id: str) -> Any:
        self.asked.append(op_id)
        return SimpleNamespace(definition=self.definition)

    def resolve(self, ref: str) -> Any:
        return resolve_pointer(SPEC, ref)


def _definition(media: str = "application/json") -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Create"}
    return {"requestBody": {"content": {media: {"schema": schema}}}}


ROLE = SimpleNamespace(operation_id="make")


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"size": "small", "shape": "wide"}, "1280x720"),
        ({"size": "small"}, "720x1280"),  # the shape's schema default
        ({"size": "large"}, "1024x1792"),
        ({"size": "large", "shape": "wide"}, None),
        ({"shape": "tall"}, None),
    ],
)
def test_a_creates_size_is_read_from_its_words(body: Any, size: str | None) -> None:
    contract = Contract(_definition())
    assert answers.named_size(contract, _declared(size_fields=TABLE), ROLE, body) == size
    assert contract.asked == ["make"], "the create operation's own definition"


@pytest.mark.parametrize(
    "definition",
    [
        {},  # no request body
        {"requestBody": {}},  # no content
        _definition("multipart/form-data"),  # no JSON body
        {"requestBody": {"content": {"application/json": {}}}},  # no schema
    ],
)
def test_without_a_json_schema_a_size_has_no_defaults(definition: Any) -> None:
    contract = Contract(definition)
    declared = _declared(size_fields=TABLE)
    assert answers.named_size(contract, declared, ROLE, {"size": "small"}) is None
    assert answers.named_size(contract, declared, ROLE, {"size": "small", "shape": "wide"}) == (
        "1280x720"
    )


PARAMS_FIELDS = {"model": "/model", "prompt": "/prompt", "image": "/images/0", "size": "/size"}
BODY = {"model": "m", "prompt": "a cat", "images": ["data:..."], "size": "small", "seed": 3}


def test_a_job_keeps_its_size_and_duration_by_default() -> None:
    kept = answers.params(_declared(), PARAMS_FIELDS, BODY, "720x1280", 8)
    assert kept == {"size": "720x1280", "seconds": 8}


def test_params_body_keeps_the_body_but_its_image_and_prompt() -> None:
    declared = _declared(params_from_body=True)
    kept = answers.params(declared, PARAMS_FIELDS, BODY, "720x1280", 8)
    assert kept == {"model": "m", "size": "small", "seed": 3}
    assert BODY["images"] == ["data:..."], "the body itself left as it was"


def test_params_body_leaves_out_only_the_fields_the_create_has() -> None:
    declared = _declared(params_from_body=True)
    no_image = {"prompt": "prompt/text", "size": "/size"}
    body = {"prompt": {"text": "x"}, "images": ["i"], "size": "small"}
    assert answers.params(declared, no_image, body, "1x1", 4) == {"images": ["i"], "size": "small"}
    no_prompt = {"image": "images/0"}
    assert answers.params(declared, no_prompt, body, "1x1", 4) == {
        "prompt": {"text": "x"},
        "size": "small",
    }


def test_params_body_leaves_out_each_fields_whole_first_name() -> None:
    declared = _declared(params_from_body=True)
    fields = {"prompt": "/promptX/text", "image": "Ximages/0"}
    body = {"promptX": "p", "prompt": "q", "Ximages": ["i"], "images": ["j"]}
    assert answers.params(declared, fields, body, "1x1", 4) == {"prompt": "q", "images": ["j"]}


def test_params_body_of_a_body_that_is_no_mapping_keeps_size_and_duration() -> None:
    declared = _declared(params_from_body=True)
    assert answers.params(declared, PARAMS_FIELDS, ["x"], "1x1", 4) == {"size": "1x1", "seconds": 4}


def _bundled(name: str) -> decl.Declaration:
    (found,) = [d for d in decl.declarations() if d.contract == name]
    return found


V3_BODY = {"size": "large", "orientation": "landscape"}


def test_a_recorded_creates_pixels_are_read_through_the_declared_providers() -> None:
    assert answers.named_pixels(V3_BODY) == (1792, 1024)
    assert answers.named_pixels({"size": "small", "orientation": "portrait"}) == (720, 1280)
    assert answers.named_pixels({"size": "huge"}) is None
    assert answers.named_pixels({"seed": 1}) == (720, 1280), "v3's two defaults"


def test_providers_without_size_words_or_a_create_are_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v3 = _bundled("gptproto-v3")
    vtrix = _bundled("vtrix-generation")
    uncreating = dataclasses.replace(v3, roles={})
    monkeypatch.setattr(decl, "declarations", lambda: (vtrix, uncreating, v3))
    assert answers.named_pixels(V3_BODY) == (1792, 1024)


def test_the_first_provider_whose_words_name_pixels_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    v3 = _bundled("gptproto-v3")
    table = {"16x9": {"/size": "large", "/orientation": "landscape"}}
    other = dataclasses.replace(v3, answers=dataclasses.replace(v3.answers, size_fields=table))
    unnaming = dataclasses.replace(
        v3, answers=dataclasses.replace(v3.answers, size_fields={"2x2": {"/size": "tiny"}})
    )
    monkeypatch.setattr(decl, "declarations", lambda: (unnaming, other, v3))
    assert answers.named_pixels(V3_BODY) == (16, 9)
    monkeypatch.setattr(decl, "declarations", lambda: (unnaming, v3, other))
    assert answers.named_pixels(V3_BODY) == (1792, 1024)
    monkeypatch.setattr(decl, "declarations", lambda: (unnaming,))
    assert answers.named_pixels(V3_BODY) is None
