"""JSON and error responses in a dialect's own shape."""

from __future__ import annotations

from typing import Any, Protocol

from flask import Response
from werkzeug.datastructures import Headers

from mockserver.http.exchange import note_error
from mockserver.state._json import dumps
from mockserver.state.store_guard import RETRY_AFTER_SECONDS, StoreUnavailable


class ErrorShape(Protocol):
    def error_body(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]: ...


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``Response(dumps(body), status, mimetype="application/json", headers=headers)``, made
    without Werkzeug's general constructor (which looks its two headers up and sets them one
    at a time, and words the status line anew): the same object, headers in the same order
    (``headers``, then ``Content-Type``, then ``Content-Length``), on every answer
    (``tests/test_json_responses.py`` compares the two)."""
    data = dumps(body)
    pairs = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if headers:
        given = list(headers.items())
        for name, value in given:
            if (
                value.__class__ is not str
                or "\n" in value
                or "\r" in value
                or name.lower() in _SET_HERE
            ):
                # a value Werkzeug makes text or refuses, or a header the constructor sets in
                # place: its own way
                return Response(data, status=status, mimetype="application/json", headers=headers)
        pairs[:0] = given
    response: Response = Response.__new__(Response)
    response.headers = fields = Headers()
    fields._list = pairs
    line = _STATUS_LINES.get(status)
    if line is None:
        line = response._clean_status(status)
        if len(_STATUS_LINES) < 128:
            _STATUS_LINES[status] = line
    response._status, response._status_code = line
    response.direct_passthrough = False
    response._on_close = []
    response.response = [data]
    return response


#: (status line, code) of each status a JSON answer had (Werkzeug's ``_clean_status``)
_STATUS_LINES: dict[Any, tuple[str, int]] = {}
#: the headers json_response sets itself (a caller's own goes through the constructor)
_SET_HERE = frozenset(("content-type", "content-length"))


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
