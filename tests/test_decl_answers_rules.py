"""The words GPTProto v3's move added to a declaration (``contracts._decl_answers``), rule by
rule, on the module alone: what :func:`read` takes from an ``x-sora-mock`` block and each
refusal's place and words, the envelope's noun, the create block it picks, the error value,
the client id and the ``{model}`` in an id prefix. The declaration's reader is a stand-in that
keeps what it is asked (its ``fail``, ``_check_template`` and ``_body_fields``), so each test
sees exactly what the module hands it. In-process and fast: the module's own tests for
mutation runs (tests/mutation/mutate.py)."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from contracts import _decl_answers as words
from contracts._decl_answers import Answers, Envelope

JOB_NAMES = {"job.id": "the id", "job.notes": "the notes"}


class Refused(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class Reader:
    """The declaration's reader as `read` uses it: a refusal, a template check, body fields."""

    def __init__(self, body_fields: set[str] | None = None) -> None:
        self.templates: list[tuple[Any, Any, str]] = []
        self.body_fields = body_fields
        self.asked: list[str] = []

    def fail(self, where: str, message: str) -> Refused:
        return Refused(where, message)

    def _check_template(self, template: Any, names: Mapping[str, str], where: str) -> None:
        self.templates.append((template, names, where))

    def _body_fields(self, op_id: str) -> set[str] | None:
        self.asked.append(op_id)
        return self.body_fields


def _read(raw: Mapping[str, Any], reader: Reader | None = None) -> Answers:
    return words.read(reader or Reader(), raw, JOB_NAMES)


def _refused(raw: Mapping[str, Any]) -> Refused:
    with pytest.raises(Refused) as refused:
        _read(raw)
    return refused.value


CREATE = {"make": {"role": "create", "fields": {"size": "/scale"}}}


def test_a_block_without_the_words_reads_as_the_defaults() -> None:
    reader = Reader()
    answers = _read({"operations": CREATE}, reader)
    assert answers == Answers()
    assert (answers.client, answers.envelope, answers.job_noun) == (None, None, "job")
    assert (answers.not_found_param, answers.params_from_body) == (None, False)
    assert answers.headers == {} and answers.size_fields == {}
    assert reader.templates == [] and reader.asked == []


def test_no_block_at_all_reads_as_the_defaults() -> None:
    assert _read({}) == Answers()


def test_every_word_is_read_as_given() -> None:
    reader = Reader(body_fields={"scale", "shape"})
    notes = {"x-if": "job.notes", "x-value": "{job.notes}"}
    raw = {
        "client": "wrap-clips",
        "answer-headers": {"X-Id": "{job.id}", "X-Notes": notes},
        "envelope": {"job": "/result", "status": "/code"},
        "job-noun": "clip",
        "id-prefix": "{model}:clip_",
        "errors": {"not-found-param": "ref"},
        "operations": {
            "look": {"role": "read"},
            "make": {
                "role": "create",
                "fields": {"size": "/scale"},
                "params": "body",
                "size-fields": {"720x1280": {"/scale": "lo", "/shape": "tall"}},
            },
        },
        "models": [{"id": "m", "sizes": ["720x1280"]}],
    }
    answers = _read(raw, reader)
    assert answers == Answers(
        client="wrap-clips",
        headers={"X-Id": "{job.id}", "X-Notes": notes},
        envelope=Envelope(job="/result", status="/code"),
        job_noun="clip",
        not_found_param="ref",
        size_fields={"720x1280": {"/scale": "lo", "/shape": "tall"}},
        params_from_body=True,
    )
    assert type(answers.headers) is dict and answers.headers is not raw["answer-headers"]
    # each header checked as a template of the job's names, at its own place
    assert reader.templates == [
        ("{job.id}", JOB_NAMES, "/answer-headers/X-Id"),
        (notes, JOB_NAMES, "/answer-headers/X-Notes"),
    ]
    assert reader.asked == ["make"], "the create's body fields, asked of the create"


def test_params_fields_is_the_default_and_may_be_said() -> None:
    said = {"make": {**CREATE["make"], "params": "fields"}}
    assert _read({"operations": said}).params_from_body is False
    assert _read({"operations": CREATE}).params_from_body is False


@pytest.mark.parametrize("client", ["a", "wrap", "wrap-clips", "v3", "a-1-b"])
def test_a_client_id_of_lower_case_letters_digits_and_dashes_is_taken(client: str) -> None:
    assert _read({"client": client}).client == client


@pytest.mark.parametrize("client", [5, "", "Wrap", "wrap clips", "1wrap", "-wrap", "wrap_x"])
def test_any_other_client_id_is_refused(client: Any) -> None:
    refused = _refused({"client": client})
    assert refused.where == "/client"
    assert refused.message == "the client's provider id: lower-case letters, digits, '-'"


@pytest.mark.parametrize("headers", [["X-Id"], "X-Id", 1])
def test_answer_headers_must_be_a_mapping(headers: Any) -> None:
    refused = _refused({"answer-headers": headers})
    assert refused.where == "/answer-headers"
    assert refused.message == "a mapping of header names to templates"


@pytest.mark.parametrize(
    "value",
    [[1], 7, None, {"x-if": "job.notes"}, {"x-if": "job.notes", "x-value": 3}],
)
def test_a_header_must_be_a_text_template(value: Any) -> None:
    reader = Reader()
    with pytest.raises(Refused) as refused:
        words.read(reader, {"answer-headers": {"X-Ok": "{job.id}", "X-Bad": value}}, JOB_NAMES)
    assert refused.value.where == "/answer-headers/X-Bad"
    assert refused.value.message == "a text template, or {x-if: NAME, x-value: TEXT}"
    assert [t[2] for t in reader.templates] == ["/answer-headers/X-Ok"]


def test_a_header_template_is_checked_whole_x_if_and_all() -> None:
    reader = Reader()
    header = {"x-if": "job.notes", "x-value": "n"}
    assert _read({"answer-headers": {"X-N": header}}, reader).headers == {"X-N": header}
    assert reader.templates == [(header, JOB_NAMES, "/answer-headers/X-N")]


@pytest.mark.parametrize("noun", ["", 3, None, ["clip"]])
def test_a_job_noun_must_be_a_word(noun: Any) -> None:
    refused = _refused({"job-noun": noun})
    assert (refused.where, refused.message) == (
        "/job-noun",
        "what the provider calls a job (a word)",
    )


@pytest.mark.parametrize("prefix", ["", "task_", "{model}:task_", "{model}{model}", 7])
def test_an_id_prefix_may_say_model(prefix: Any) -> None:
    assert _read({"id-prefix": prefix}) == Answers()


@pytest.mark.parametrize(
    ("prefix", "ref"), [("{job.id}:", "job.id"), ("{model}-{models}", "models"), ("{x}", "x")]
)
def test_an_id_prefix_may_say_nothing_else(prefix: str, ref: str) -> None:
    refused = _refused({"id-prefix": prefix})
    assert refused.where == "/id-prefix"
    assert refused.message == f"`{{{ref}}}`: an id prefix may say only {{model}}"


def test_the_not_found_param_is_a_name() -> None:
    assert _read({"errors": {"not-found-param": "id"}}).not_found_param == "id"
    assert _read({"errors": {"not-found": "no {id}"}}).not_found_param is None
    assert _read({"errors": ["not-found-param"]}).not_found_param is None
    refused = _refused({"errors": {"not-found-param": ["id"]}})
    assert (refused.where, refused.message) == (
        "/errors/not-found-param",
        "the name of the field a 404 names",
    )


@pytest.mark.parametrize("params", ["all", "", None, ["body"]])
def test_params_is_body_or_fields(params: Any) -> None:
    raw = {"operations": {"look": {"role": "read"}, "make": {"role": "create", "params": params}}}
    refused = _refused(raw)
    assert refused.where == "/operations/make/params"
    assert refused.message == (
        "`body` (the job keeps the create's body) or `fields` (its size and duration)"
    )


def test_the_size_fields_are_read_for_the_create_with_the_whole_block() -> None:
    raw = {
        "operations": {
            "make": {
                "role": "create",
                "fields": {"size": "/scale"},
                "size-fields": {"720x1280": {"/scale": "lo"}, "1280x720": {"/scale": "hi"}},
            }
        },
        "models": [{"id": "m", "sizes": ["720x1280", "1024x1792"]}],
    }
    with pytest.raises(Refused) as refused:
        _read(raw, Reader(body_fields={"scale"}))
    assert refused.value.where == "/models/0/sizes", "the models of the block handed on"
    assert refused.value.message == "1024x1792 has no entry in /operations/make/size-fields"
    del raw["models"]
    reader = Reader(body_fields={"scale"})
    assert _read(raw, reader).size_fields == {
        "720x1280": {"/scale": "lo"},
        "1280x720": {"/scale": "hi"},
    }
    assert reader.asked == ["make"]


def test_the_create_block_is_the_operation_whose_role_is_create() -> None:
    make = {"role": "create", "fields": {}}
    operations = {"look": {"role": "read"}, "odd": "not a block", 7: make}
    assert words._create_block({"operations": operations}) == ("7", make)
    assert words._create_block({"operations": {"look": {"role": "read"}}}) == ("", {})
    assert words._create_block({"operations": None}) == ("", {})
    assert words._create_block({}) == ("", {})


def test_an_envelope_is_a_job_pointer_and_maybe_a_status_pointer() -> None:
    assert _read({"envelope": {"job": "/data"}}).envelope == Envelope("/data", None)
    assert _read({"envelope": {"job": "/a/b", "status": "/code"}}).envelope == Envelope(
        "/a/b", "/code"
    )
    assert _read({"envelope": None}).envelope is None


@pytest.mark.parametrize(
    ("envelope", "where", "message"),
    [
        ("/data", "/envelope", "a mapping with `job` (a pointer: /data) and maybe `status`"),
        ({"status": "/code"}, "/envelope", "a mapping with `job` (a pointer: /data) and maybe"),
        ({"job": 1}, "/envelope", "a mapping with `job` (a pointer: /data) and maybe `status`"),
        ({"job": "data"}, "/envelope/job", "a JSON pointer (/data, /code)"),
        ({"job": "/data", "status": 200}, "/envelope/status", "a JSON pointer (/data, /code)"),
        ({"job": "/data", "status": "code"}, "/envelope/status", "a JSON pointer (/data, /code)"),
        (
            {"job": "/data", "error": "/e"},
            "/envelope/error",
            "unknown key `error`: use job, status",
        ),
    ],
)
def test_an_envelope_written_wrong_is_refused(envelope: Any, where: str, message: str) -> None:
    refused = _refused({"envelope": envelope})
    assert refused.where == where
    assert refused.message.startswith(message)


@pytest.mark.parametrize(
    ("job", "noun"),
    [("/data", "data"), ("/result/", "result"), ("/a/Xbox/", "Xbox"), ("/outer/inner", "inner")],
)
def test_an_envelopes_noun_is_the_last_step_of_its_job_pointer(job: str, noun: str) -> None:
    assert Envelope(job).noun == noun


def test_the_error_value_is_the_status_as_text() -> None:
    assert words.error_values(404) == {"status_text": "404"}
    assert words.ERROR_VALUES == {"status_text": 'the HTTP status as text ("404")'}


def test_the_client_name_is_the_client_id_else_the_prefix() -> None:
    said = SimpleNamespace(answers=Answers(client="gptproto-v3"), prefix="gptproto")
    unsaid = SimpleNamespace(answers=Answers(), prefix="wrap")
    assert (words.client_name(said), words.client_name(unsaid)) == ("gptproto-v3", "wrap")


def test_an_id_prefix_says_the_model_asked_for() -> None:
    declaration = SimpleNamespace(id_prefix="{model}:task_{model}")
    assert words.id_prefix(declaration, "sora-2") == "sora-2:task_sora-2"
    assert words.id_prefix(SimpleNamespace(id_prefix="task_"), "sora-2") == "task_"
