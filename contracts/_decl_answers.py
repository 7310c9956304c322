"""Declaration words for an API whose answers wrap the job and whose sizes are named in words
(GPTProto v3's move to data, issue 26): read and checked here, hooked into the reader of
``contracts/_declaration.py`` (which passes itself in: this module imports no other module of
the declaration, so there is no import circle).

Top-level keys of the ``x-sora-mock`` block:

``client``          the client's provider id (``SoraClient("gptproto-v3")``); default: the prefix
``answer-headers``  headers on every answer that carries a job (create, read): templates of the
                    job's values; an ``x-if`` header is left out when its value is empty
``envelope``        ``{job: POINTER, status: POINTER}``: where the job object is in an answer,
                    and a status code that, when it is a number of 400 or more, makes a 200
                    answer the error it names (the client reads it so)
``job-noun``        what the provider calls a job, in the client's messages (``prediction``)

Keys of the create operation's block (``operations.X``):

``size-fields``     ``WIDTHxHEIGHT -> {POINTER: value, ...}``: the pixel sizes the body names in
                    words (``small`` + ``portrait``); contracts/_named_sizes.py
``params``          ``body``: a job keeps the create's body (but its image and prompt) as its
                    parameters; ``fields`` (default): only the size and the duration

Keys of ``errors``: ``not-found-param``, the field an unknown id's 404 names (``param``).
``id-prefix`` may say ``{model}``: the model asked for (``sora-2:task_``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import _named_sizes

KEYS = ("client", "answer-headers", "envelope", "job-noun")
#: the job values these words added (contracts._declaration.JOB_VALUES holds them all)
JOB_VALUES = {
    "job.created_at_text": 'creation time as text, "YYYY-MM-DD HH:MM:SS" in UTC',
    "job.notes_text": 'the notes joined by " | " (text; empty when there is none)',
    "elapsed_ms": "milliseconds of rendering: from its start to its end (to now while it "
    "runs; 0 before it starts) (integer)",
}
#: the error values these words added
ERROR_VALUES = {"status_text": 'the HTTP status as text ("404")'}
_REF = re.compile(r"\{([a-z_.]+)\}")


@dataclass(frozen=True)
class Envelope:
    """Where the job is in an answer (``/data``) and its status code (``/code``)."""

    job: str
    status: str | None = None

    @property
    def noun(self) -> str:
        """The envelope's job object as its messages name it (``data``)."""
        return self.job.strip("/").split("/")[-1]


@dataclass(frozen=True)
class Answers:
    """The words of this module a declaration says (each optional)."""

    client: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    envelope: Envelope | None = None
    job_noun: str = "job"
    not_found_param: str | None = None
    #: WIDTHxHEIGHT -> {pointer: value}: the create's sizes named in words (contracts/_named_sizes)
    size_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    params_from_body: bool = False


def read(reader: Any, raw: Mapping[str, Any], job_values: Mapping[str, str]) -> Answers:
    """The words, checked (``reader`` is the declaration's reader: its ``fail``, its
    ``_check_template``, its contract; ``job_values`` the names a job template may use)."""
    client = raw.get("client")
    if client is not None and not (
        isinstance(client, str) and re.fullmatch(r"[a-z][a-z0-9-]*", client)
    ):
        raise reader.fail("/client", "the client's provider id: lower-case letters, digits, '-'")
    headers = raw.get("answer-headers", {})
    if not isinstance(headers, Mapping):
        raise reader.fail("/answer-headers", "a mapping of header names to templates")
    for name, value in headers.items():
        where = f"/answer-headers/{name}"
        inner = value.get("x-value") if isinstance(value, Mapping) else value
        if not isinstance(inner, str):
            raise reader.fail(where, "a text template, or {x-if: NAME, x-value: TEXT}")
        reader._check_template(value, job_values, where)
    noun = raw.get("job-noun", "job")
    if not isinstance(noun, str) or not noun:
        raise reader.fail("/job-noun", "what the provider calls a job (a word)")
    prefix = raw.get("id-prefix", "")
    if isinstance(prefix, str):
        for ref in _REF.findall(prefix):
            if ref != "model":
                raise reader.fail("/id-prefix", f"`{{{ref}}}`: an id prefix may say only {{model}}")
    errors = raw.get("errors", {})
    param = errors.get("not-found-param") if isinstance(errors, Mapping) else None
    if param is not None and not isinstance(param, str):
        raise reader.fail("/errors/not-found-param", "the name of the field a 404 names")
    create_op, block = _create_block(raw)
    params = block.get("params", "fields")
    if params not in ("fields", "body"):
        raise reader.fail(
            f"/operations/{create_op}/params",
            "`body` (the job keeps the create's body) or `fields` (its size and duration)",
        )
    return Answers(
        client=client,
        headers=dict(headers),
        envelope=_envelope(reader, raw.get("envelope")),
        job_noun=noun,
        not_found_param=param,
        size_fields=_named_sizes.read(reader, raw, create_op, block),
        params_from_body=params == "body",
    )


def _create_block(raw: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The create operation's id and block (the reader checked there is exactly one)."""
    for op_id, block in dict(raw.get("operations") or {}).items():
        if isinstance(block, Mapping) and block.get("role") == "create":
            return str(op_id), block
    return "", {}


def _envelope(reader: Any, raw: Any) -> Envelope | None:
    if raw is None:
        return None
    where = "/envelope"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("job"), str):
        raise reader.fail(where, "a mapping with `job` (a pointer: /data) and maybe `status`")
    for key, pointer in raw.items():
        if key not in ("job", "status"):
            raise reader.fail(f"{where}/{key}", f"unknown key `{key}`: use job, status")
        if not isinstance(pointer, str) or not pointer.startswith("/"):
            raise reader.fail(f"{where}/{key}", "a JSON pointer (/data, /code)")
    return Envelope(job=raw["job"], status=raw.get("status"))


def error_values(status: int) -> dict[str, Any]:
    """The error values of ``ERROR_VALUES`` (beside ``contracts._declaration.error_values``)."""
    return {"status_text": str(status)}


def client_name(declaration: Any) -> str:
    """The client's provider id of a declared provider."""
    return str(declaration.answers.client or declaration.prefix)


def id_prefix(declaration: Any, model: str) -> str:
    """The declared id prefix, ``{model}`` filled in."""
    return str(declaration.id_prefix).replace("{model}", model)
