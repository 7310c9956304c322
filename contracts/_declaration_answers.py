"""The declaration words for how an OpenAI-style provider words its errors and its jobs,
beyond the job and error templates (gpt.ge's move needed them): an error's ``{type}`` chosen
by code, status or status class (``errors.types``), and a model's own values
(``models[].values``: ``{model.NAME}`` in the job template). The client's name, the headers on
a job's answers and the field a not-found names are GPTProto v3's words
(``contracts/_decl_answers.py``: ``client``, ``answer-headers``, ``errors.not-found-param``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from contracts._declaration_types import JOB_VALUES, MODEL_VALUE, Model
from contracts._loader import ContractError


class _Reader(Protocol):
    def fail(self, where: str, message: str) -> ContractError: ...


def job_names(models: tuple[Model, ...]) -> dict[str, str]:
    """The names a job template may use: JOB_VALUES and every model's own values."""
    own = {f"{MODEL_VALUE}{name}" for model in models for name in model.values}
    return {**JOB_VALUES, **dict.fromkeys(sorted(own), "a model's own value, or null")}


def answer_words(reader: _Reader, errors: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~contracts._declaration_types.Declaration` keywords these words give."""
    types = errors.get("types", {})
    if not isinstance(types, Mapping) or not all(isinstance(v, str) for v in types.values()):
        raise reader.fail("/errors/types", "a mapping of a code, a status or 4xx/5xx to a type")
    return {"error_types": {str(k): v for k, v in types.items()}}


def more_error_values(types: Mapping[str, str], status: int, code: str | None) -> dict[str, Any]:
    """The error value these words added: ``type`` (the declared ``errors.types`` of the code,
    else of the status, else of its class ``4xx``; or null)."""
    if code is not None and code in types:
        kind: str | None = types[code]
    else:
        kind = types.get(str(status), types.get(f"{status // 100}xx"))
    return {"type": kind}
