"""JSON and error responses in a dialect's own shape."""

from __future__ import annotations

from typing import Any, Protocol

from flask import Response

from mockserver.http.exchange import note_error
from mockserver.state._json import dumps
from mockserver.state.store_guard import RETRY_AFTER_SECONDS, StoreUnavailable


class ErrorShape(Protocol):
    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]: ...


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(body),
        status=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(
    dialect: ErrorShape,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    note_error(message)
    return json_response(
        dialect.error_body(status, message, code=code, param=param), status, headers
    )


def store_unavailable(
    error_json: Any, exc: StoreUnavailable, prefix: str | None = None, metrics: Any = None
) -> Response:
    """503 with ``Retry-After``, in the shape of the API asked (the console has said once
    that the store is down: mockserver.state.store_guard), counted as a store error."""
    if metrics is not None:
        metrics.store_error("request")
    response: Response = error_json(503, exc.message, prefix)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
