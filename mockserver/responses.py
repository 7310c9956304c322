"""JSON and error responses in a dialect's own shape."""

from __future__ import annotations

import json
from typing import Any, Protocol

from flask import Response

from mockserver.exchange import note_error


class ErrorShape(Protocol):
    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]: ...


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # a string that is no valid Unicode (a record stored before the edge refused such
        # input): escaped, the answer is still valid JSON and every read still works
        data = json.dumps(body, ensure_ascii=True).encode("ascii")
    return Response(
        data,
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
