"""The three error families the providers use. Shapes are recorded in contracts/README.md."""

from __future__ import annotations

from typing import Any

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "insufficient_quota",
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


def openai_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI (gpt.ge): ``{"error": {"message", "type", "param", "code"}}``."""
    kind = OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def vtrix_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Vtrix: its documented task ``error`` object, wrapped: ``{"error": {...}}``."""
    text = f"{param}: {message}" if param and not message.startswith(param) else message
    return {"error": {"code": code or str(status), "error_message": text}}


#: the error family of each mock prefix, for answers outside any operation (404, 405)
PREFIX_ERRORS = {"gptproto": gptproto_error, "gptge": openai_error, "vtrix": vtrix_error}

#: provider error codes per scenario and family
SCENARIO_CODES: dict[str, dict[str, str]] = {
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
        "insufficient_balance": "insufficient_quota",
        "forbidden": "permission_denied",
        "rate_limited": "rate_limit_exceeded",
        "unauthorized": "invalid_api_key",
        "server_error": "server_error",
    },
    "vtrix": {
        "content_policy": "content_policy_violation",
        "insufficient_balance": "403",
        "forbidden": "403",
        "rate_limited": "429",
        "unauthorized": "401",
        "server_error": "500",
    },
}
