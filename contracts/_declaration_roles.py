"""The words an operation of a declaration may carry beyond ``role``, ``status``, ``fields``
and ``image-matches-size`` (an OpenAI ``/v1/videos`` surface needed them): the roles ``list``
(a page of the key's jobs, cursor ``after``, ``limit``, ``order``), ``delete`` and ``remix``
(a new job from a completed one), each list's and delete's ``answer`` template, what a
``content`` answers for a job not yet completed (``not-ready``) or failed (``failed``), what a
remix of an unfinished job answers (``not-completed``), whether the content's URL is a
completed job's video URL for the client (``video-url``). Read by the reader
(``contracts/_declaration_reader.py``); served by ``mockserver/providers/declared_roles.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from contracts._declaration_types import DELETE_VALUES, LIST_VALUES, Answer
from contracts._loader import ContractError

#: the query parameters a list may name (field -> what it holds)
LIST_FIELDS = ("after", "limit", "order")
#: the roles that name the job by a path parameter (``fields: {id: NAME}``)
ID_ROLES = ("read", "content", "delete", "remix")


class _Reader(Protocol):
    def fail(self, where: str, message: str) -> ContractError: ...

    def _check_template(self, template: Any, names: Mapping[str, str], where: str) -> None: ...


def role_words(reader: _Reader, op_id: str, role: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~contracts._declaration_types.Role` keywords these words give, checked."""
    where = f"/operations/{op_id}"
    found: dict[str, Any] = {}
    answer = block.get("answer")
    if role in ("list", "delete"):
        if answer is None:
            raise reader.fail(where, f"a {role} needs `answer`: the template of its answer")
        names = LIST_VALUES if role == "list" else DELETE_VALUES
        reader._check_template(answer, names, f"{where}/answer")
        found["answer"] = answer
    elif answer is not None:
        raise reader.fail(f"{where}/answer", "only a list or a delete has an `answer` template")
    for key in ("not-ready", "failed"):
        value = block.get(key)
        if value is None:
            continue
        if role != "content":
            raise reader.fail(f"{where}/{key}", f"only a content operation has `{key}`")
        found[key.replace("-", "_")] = (
            value if value == "job" else answer_at(reader, value, f"{where}/{key}")
        )
    if "video-url" in block:
        if role != "content" or not isinstance(block["video-url"], bool):
            raise reader.fail(
                f"{where}/video-url", "a content's true: its URL is a completed job's video URL"
            )
        found["video_url"] = block["video-url"]
    if "not-completed" in block:
        if role != "remix":
            raise reader.fail(f"{where}/not-completed", "only a remix has `not-completed`")
        found["not_completed"] = answer_at(reader, block["not-completed"], f"{where}/not-completed")
    fields = block.get("fields", {})
    if role == "list":
        for name in fields:
            if name not in LIST_FIELDS:
                raise reader.fail(
                    f"{where}/fields/{name}",
                    f"a list names the query parameters {', '.join(LIST_FIELDS)}",
                )
    prompt = fields.get("prompt")
    if role == "remix" and (not isinstance(prompt, str) or "/" in prompt.strip("/")):
        raise reader.fail(
            f"{where}/fields", "a remix needs `prompt`: a top-level field of its body (/prompt)"
        )
    if role == "create" and "image" in fields and "image-file" in fields:
        raise reader.fail(
            f"{where}/fields",
            "`image` (a URL in a JSON body) or `image-file` (a file part), not both",
        )
    return found


def answer_at(reader: _Reader, raw: Any, where: str) -> Answer:
    """An error answer: ``{status, message, code}`` (``{id}`` in the message: the job's id),
    or the word ``job`` where the caller allows it."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("message"), str):
        raise reader.fail(
            where, "`job` (the job, as a read answers it) or {status, message, code} (an error)"
        )
    status = raw.get("status", 404)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status < 500:
        raise reader.fail(f"{where}/status", "an HTTP status from 400 to 499")
    code = raw.get("code")
    if code is not None and not isinstance(code, str):
        raise reader.fail(f"{where}/code", "the provider's code (a string), or leave it out")
    return Answer(status=status, message=raw["message"], code=code)
