"""The error families the Python dialects use (a declared provider's is its `errors.body`
template). Shapes are recorded in contracts/README.md."""

from __future__ import annotations

import functools
from typing import Any

from contracts import _decl_answers as answers
from contracts._declaration import Declaration, Mirrored, error_values, fill

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    416: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
}


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


#: errors an OpenAI-style relay raises itself (quota, access, model routing), before any
#: upstream call: new-api answers them with `type: new_api_error` (contracts/README.md cites
#: the source); errors passed through from upstream keep OpenAI's types
RELAY_CODES = frozenset(
    {
        "insufficient_user_quota",
        "pre_consume_token_quota_failed",
        "access_denied",
        "model_not_found",
    }
)
RELAY_ERROR_TYPE = "new_api_error"


def openai_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI (gpt.ge): ``{"error": {"message", "type", "param", "code"}}``; the relay's own
    errors carry the relay's type (``new_api_error``)."""
    if code in RELAY_CODES:
        kind = RELAY_ERROR_TYPE
    else:
        kind = OPENAI_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


#: the error family of each mock prefix, for answers outside any operation (404, 405)
PREFIX_ERRORS = Mirrored(
    {"gptproto": gptproto_error, "gptge": openai_error},
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
        "gptge": {
            "content_policy": "moderation_blocked",
            "insufficient_balance": "insufficient_user_quota",
            "forbidden": "access_denied",
            "rate_limited": "rate_limit_exceeded",
            "unauthorized": "invalid_api_key",
            "server_error": "server_error",
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
        # new-api's distributor: 503, code model_not_found, when no channel serves the model
        "gptge": (
            503,
            "model_not_found",
            "No available channel for model {model} under group default (distributor)",
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
    values = {**error_values(status, message, code, param), **answers.error_values(status)}
    body: dict[str, Any] = fill(declaration.error, values)
    return body
