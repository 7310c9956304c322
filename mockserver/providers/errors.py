"""The error families the Python dialects use (a declared provider's is its `errors.body`
template). Shapes are recorded in contracts/README.md."""

from __future__ import annotations

import functools
from typing import Any

from contracts import _decl_answers as answers
from contracts._declaration import Declaration, Mirrored, error_values, fill
from contracts._declaration_answers import more_error_values


def gptproto_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """GPTProto: ``{"error": {"message", "type": "<status>"}}`` (+ optional code, param)."""
    error: dict[str, Any] = {"message": message, "type": str(status)}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return {"error": error}


#: the error family of each mock prefix, for answers outside any operation (404, 405)
PREFIX_ERRORS = Mirrored(
    {"gptproto": gptproto_error},
    lambda d: [(d.prefix, functools.partial(declared_error, d))],
)

#: provider error codes per scenario and family
SCENARIO_CODES: dict[str, dict[str, str]] = Mirrored(
    {
        "gptproto": {
            "content_policy": "content_policy_violation",
            "insufficient_balance": "insufficient_balance",
            "forbidden": "permission_denied",
            "rate_limited": "rate_limit_exceeded",
            "unauthorized": "invalid_api_key",
            "server_error": "internal_error",
        },
    },
    lambda d: [(d.prefix, dict(d.scenario_codes))],
)

#: each family's "model not found": (status, code, message with {model}); contracts/README.md
MODEL_NOT_FOUND: dict[str, tuple[int, str, str]] = Mirrored(
    {
        # OpenAI's own words and status for an unknown model (GPTProto clones OpenAI's surface)
        "gptproto": (
            404,
            "model_not_found",
            "The model `{model}` does not exist or you do not have access to it.",
        ),
    },
    lambda d: [(d.prefix, d.model_not_found)],
)


def declared_error(
    declaration: Declaration,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """A declared provider's error body: its ``errors.body`` template filled in."""
    values = {
        **error_values(status, message, code, param),
        **more_error_values(declaration.error_types, status, code),
        **answers.error_values(status),
    }
    body: dict[str, Any] = fill(declaration.error, values)
    return body
