"""``contracts/_declaration_roles.py`` rule by rule, in process, through the real reader (its
``fail`` and its template check, on a stand-in for the contract: only its path is read): the
words an operation may carry beyond ``role``, ``status`` and ``fields`` (a list's and a
delete's ``answer``, a content's ``not-ready``, ``failed`` and ``video-url``, a remix's
``not-completed`` and ``prompt``, a create's ``image`` or ``image-file``), what each reads as,
and every mistake refused with its place and its words exactly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from contracts._declaration_reader import _Reader
from contracts._declaration_roles import ID_ROLES, LIST_FIELDS, answer_at, role_words
from contracts._declaration_types import Answer
from contracts._loader import ContractError

READER: Any = _Reader(SimpleNamespace(path="deck.yaml"))  # type: ignore[arg-type]
LIST_ANSWER = {"data": "{jobs}", "first": "{first_id}", "last": "{last_id}", "more": "{has_more}"}
DELETE_ANSWER = {"id": "{job.id}", "deleted": "{deleted}"}


def words(role: str, **block: Any) -> dict[str, Any]:
    return role_words(READER, "op", role, {"role": role, **block})


def refused(role: str, **block: Any) -> tuple[str, str]:
    with pytest.raises(ContractError) as caught:
        words(role, **block)
    return caught.value.where, caught.value.message


def test_the_fixed_names() -> None:
    assert LIST_FIELDS == ("after", "limit", "order")
    assert ID_ROLES == ("read", "content", "delete", "remix")


def test_an_operation_with_none_of_these_words_reads_none() -> None:
    for role in ("create", "read", "content", "models", "remix"):
        block = {"fields": {"prompt": "/prompt"}} if role == "remix" else {}
        assert words(role, **block) == {}


def test_a_list_and_a_delete_read_their_answer_templates() -> None:
    fields = {"after": "after", "limit": "limit", "order": "order"}
    assert words("list", answer=LIST_ANSWER, fields=fields) == {"answer": LIST_ANSWER}
    assert words("delete", answer=DELETE_ANSWER) == {"answer": DELETE_ANSWER}


@pytest.mark.parametrize("role", ["list", "delete"])
def test_a_list_or_a_delete_without_an_answer_is_refused(role: str) -> None:
    assert refused(role) == (
        "/x-sora-mock/operations/op",
        f"a {role} needs `answer`: the template of its answer",
    )


def test_a_list_answer_uses_the_lists_names_and_a_delete_the_jobs_and_deleted() -> None:
    where, message = refused("list", answer={"id": "{job.id}"})
    assert where == "/x-sora-mock/operations/op/answer/id"
    assert message.startswith("`{job.id}` is not a value a template can use: use one of {jobs}")
    where, message = refused("delete", answer={"data": "{jobs}"})
    assert where == "/x-sora-mock/operations/op/answer/data"
    assert message.startswith("`{jobs}` is not a value a template can use: use one of {job.id}")
    assert message.endswith("{deleted}")


@pytest.mark.parametrize("role", ["create", "read", "content", "remix"])
def test_only_a_list_or_a_delete_has_an_answer(role: str) -> None:
    assert refused(role, answer={}, fields={"prompt": "/prompt"}) == (
        "/x-sora-mock/operations/op/answer",
        "only a list or a delete has an `answer` template",
    )


@pytest.mark.parametrize("key", ["not-ready", "failed"])
def test_a_content_reads_not_ready_and_failed_as_the_job_or_an_answer(key: str) -> None:
    name = key.replace("-", "_")
    assert words("content", **{key: "job"}) == {name: "job"}
    raw = {"status": 409, "message": "{id} is not ready", "code": "not_ready"}
    assert words("content", **{key: raw}) == {name: Answer(409, "{id} is not ready", "not_ready")}


def test_a_content_reads_both_and_its_video_url() -> None:
    found = words("content", **{"not-ready": "job", "failed": {"message": "gone"}})
    assert found == {"not_ready": "job", "failed": Answer(404, "gone", None)}
    assert words("content", **{"video-url": True}) == {"video_url": True}
    assert words("content", **{"video-url": False}) == {"video_url": False}


@pytest.mark.parametrize("key", ["not-ready", "failed"])
@pytest.mark.parametrize("role", ["read", "create", "list"])
def test_only_a_content_has_not_ready_or_failed(key: str, role: str) -> None:
    block = {"answer": LIST_ANSWER} if role == "list" else {}
    assert refused(role, **block, **{key: "job"}) == (
        f"/x-sora-mock/operations/op/{key}",
        f"only a content operation has `{key}`",
    )


def test_a_content_answer_not_the_job_is_checked_at_its_place() -> None:
    assert refused("content", **{"failed": "the job"}) == (
        "/x-sora-mock/operations/op/failed",
        "`job` (the job, as a read answers it) or {status, message, code} (an error)",
    )


@pytest.mark.parametrize(("role", "value"), [("read", True), ("content", "yes"), ("content", 1)])
def test_video_url_is_a_contents_true_or_false(role: str, value: Any) -> None:
    assert refused(role, **{"video-url": value}) == (
        "/x-sora-mock/operations/op/video-url",
        "a content's true: its URL is a completed job's video URL",
    )


def test_a_remix_reads_not_completed_and_needs_a_top_level_prompt() -> None:
    raw = {"status": 400, "message": "{id} unfinished"}
    found = words("remix", fields={"prompt": "/prompt"}, **{"not-completed": raw})
    assert found == {"not_completed": Answer(400, "{id} unfinished", None)}
    assert words("remix", fields={"prompt": "prompt/"}) == {}
    for prompt in (None, 3, "/input/prompt", "/X/prompt"):
        assert refused("remix", fields={"prompt": prompt}) == (
            "/x-sora-mock/operations/op/fields",
            "a remix needs `prompt`: a top-level field of its body (/prompt)",
        )
    assert refused("remix") == (
        "/x-sora-mock/operations/op/fields",
        "a remix needs `prompt`: a top-level field of its body (/prompt)",
    )


def test_not_completed_is_a_remixs_and_checked_at_its_place() -> None:
    assert refused("read", **{"not-completed": {"message": "x"}}) == (
        "/x-sora-mock/operations/op/not-completed",
        "only a remix has `not-completed`",
    )
    where, _ = refused("remix", fields={"prompt": "/p"}, **{"not-completed": "job"})
    assert where == "/x-sora-mock/operations/op/not-completed"


def test_a_list_names_only_its_query_parameters() -> None:
    assert refused("list", answer=LIST_ANSWER, fields={"limit": "n", "page": "p"}) == (
        "/x-sora-mock/operations/op/fields/page",
        "a list names the query parameters after, limit, order",
    )
    # another role's fields are not a list's
    assert words("read", fields={"page": "p", "id": "x"}) == {}


def test_a_create_takes_image_or_image_file_not_both() -> None:
    assert words("create", fields={"image": "/image"}) == {}
    assert words("create", fields={"image-file": "/image"}) == {}
    assert words("read", fields={"image": "/i", "image-file": "/f"}) == {}
    assert refused("create", fields={"image": "/i", "image-file": "/f"}) == (
        "/x-sora-mock/operations/op/fields",
        "`image` (a URL in a JSON body) or `image-file` (a file part), not both",
    )


def test_an_answer_reads_its_status_message_and_code() -> None:
    assert answer_at(READER, {"message": "m"}, "/w") == Answer(404, "m", None)
    raw = {"status": 400, "message": "m", "code": "c"}
    assert answer_at(READER, raw, "/w") == Answer(400, "m", "c")
    assert answer_at(READER, {**raw, "status": 499}, "/w").status == 499


@pytest.mark.parametrize("raw", ["job", ["m"], {"status": 400}, {"message": 3}])
def test_an_answer_needs_a_message(raw: Any) -> None:
    with pytest.raises(ContractError) as caught:
        answer_at(READER, raw, "/w")
    assert (caught.value.where, caught.value.message) == (
        "/x-sora-mock/w",
        "`job` (the job, as a read answers it) or {status, message, code} (an error)",
    )


@pytest.mark.parametrize("status", [399, 500, "404", True, 404.0])
def test_an_answers_status_is_a_4xx_integer(status: Any) -> None:
    with pytest.raises(ContractError) as caught:
        answer_at(READER, {"message": "m", "status": status}, "/w")
    assert (caught.value.where, caught.value.message) == (
        "/x-sora-mock/w/status",
        "an HTTP status from 400 to 499",
    )


@pytest.mark.parametrize("code", [3, True, ["c"]])
def test_an_answers_code_is_text(code: Any) -> None:
    with pytest.raises(ContractError) as caught:
        answer_at(READER, {"message": "m", "code": code}, "/w")
    assert (caught.value.where, caught.value.message) == (
        "/x-sora-mock/w/code",
        "the provider's code (a string), or leave it out",
    )
