"""The declaration words for how a provider words its answers, beyond the job and error
templates (an OpenAI ``/v1/videos`` surface needed them): an error's ``{type}`` chosen by
code, status or status class (``errors.types``), the field a not-found answer names
(``errors.not-found-param``), headers sent with every answer that is one job (``job-headers``),
and the client's name for the provider when it is not the prefix (``client-name``: two
providers may share a prefix)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from contracts._declaration_types import JOB_VALUES, MODEL_VALUE, Model
from contracts._loader import ContractError

#: the top-level keys read here
KEYS = frozenset({"job-headers", "client-name"})


class _Reader(Protocol):
    def fail(self, where: str, message: str) -> ContractError: ...

    def _check_template(self, template: Any, names: Mapping[str, str], where: str) -> None: ...


def job_names(models: tuple[Model, ...]) -> dict[str, str]:
    """The names a job template may use: JOB_VALUES and every model's own values."""
    own = {f"{MODEL_VALUE}{name}" for model in models for name in model.values}
    return {**JOB_VALUES, **dict.fromkeys(sorted(own), "a model's own value, or null")}


def answer_words(
    reader: _Reader, raw: Mapping[str, Any], errors: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    """The :class:`~contracts._declaration_types.Declaration` keywords these words give."""
    types = errors.get("types", {})
    if not isinstance(types, Mapping) or not all(isinstance(v, str) for v in types.values()):
        raise reader.fail("/errors/types", "a mapping of a code, a status or 4xx/5xx to a type")
    param = errors.get("not-found-param")
    if param is not None and not isinstance(param, str):
        raise reader.fail("/errors/not-found-param", "the field a not-found names (a string)")
    headers = raw.get("job-headers", {})
    if not isinstance(headers, Mapping):
        raise reader.fail("/job-headers", "a mapping of header names to templates")
    reader._check_template(dict(headers), names, "/job-headers")
    client = raw.get("client-name")
    if client is not None and (
        not isinstance(client, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", client)
    ):
        raise reader.fail("/client-name", "a name for SoraClient(NAME): lower-case, digits, '-'")
    return {
        "error_types": {str(k): v for k, v in types.items()},
        "not_found_param": param,
        "job_headers": dict(headers),
        "client_name": client,
    }


def more_error_values(types: Mapping[str, str], status: int, code: str | None) -> dict[str, Any]:
    """The error values these words added: ``status_text`` and ``type`` (the declared
    ``errors.types`` of the code, else of the status, else of its class ``4xx``; or null)."""
    if code is not None and code in types:
        kind: str | None = types[code]
    else:
        kind = types.get(str(status), types.get(f"{status // 100}xx"))
    return {"status_text": str(status), "type": kind}
