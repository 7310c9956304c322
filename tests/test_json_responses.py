"""``json_response`` builds its answer without Werkzeug's general constructor
(``mockserver/http/responses.py``): the object it gives must be the one the constructor gives,
header for header, in the same order, whatever the status and the caller's headers."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from flask import Response

from mockserver.http import responses
from mockserver.http.responses import json_response
from mockserver.state._json import dumps

CASES: list[tuple[Any, Any, Any]] = [
    ({"id": "video_1", "status": "queued"}, 200, None),
    ([1, "é", None], 404, {"Retry-After": "1"}),
    ({}, 503, {"Retry-After": 1}),  # a number: made text, as the constructor does
    ({}, 429, {"Retry-After": "2", "X-Ratelimit-Remaining": "0"}),
    ({}, 201, {"content-type": "text/plain"}),  # a header json_response sets: replaced
    ({}, 200, {"Content-Length": "99"}),
    ({}, 299, None),  # a code without a reason phrase
    ({}, HTTPStatus.OK, {"X-A": ["1", "2"]}),
    ({}, "200 OK", {}),
    ("text", 400, {}),
    ({}, 200, {"X-Text": type("Text", (str,), {})("a")}),  # a str subclass: kept as it is
    ({}, 200, {"X-A": "1", "CONTENT-LENGTH": "5"}),
]


def _seen(response: Response) -> tuple[Any, ...]:
    return (
        type(response),
        response.status,
        response.status_code,
        response.headers.to_wsgi_list(),
        response.get_data(),
        response.direct_passthrough,
        response.mimetype,
        response.is_sequence,
        sorted(vars(response)),
    )


@pytest.mark.parametrize(("body", "status", "headers"), CASES)
def test_a_json_answer_is_the_one_werkzeugs_constructor_makes(
    body: Any, status: Any, headers: Any
) -> None:
    made = json_response(body, status, headers)
    expected = Response(dumps(body), status=status, mimetype="application/json", headers=headers)
    assert _seen(made) == _seen(expected)
    made.headers["x-request-id"] = "req_1"  # what exchange.finish does to it next
    expected.headers["x-request-id"] = "req_1"
    assert made.headers.to_wsgi_list() == expected.headers.to_wsgi_list()


@pytest.mark.parametrize("value", ["1\r\nX-Evil: 1", "1\nX", "1\rX"])
def test_a_header_value_with_a_newline_is_refused_as_werkzeug_refuses_it(value: str) -> None:
    with pytest.raises(ValueError, match="newline"):
        Response("{}", headers={"Retry-After": value})
    with pytest.raises(ValueError, match="newline"):
        json_response({}, 200, {"X-Fine": "1", "Retry-After": value})


def test_two_answers_never_share_their_headers_or_body() -> None:
    first, second = json_response({"a": 1}), json_response({"a": 1})
    first.headers["X-One"] = "1"
    assert "X-One" not in second.headers
    assert first.response is not second.response


def test_plain_headers_never_go_through_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the fast way is for: an answer with no header of its own, or plain text ones."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Werkzeug's constructor was used")

    monkeypatch.setattr(Response, "__init__", refuse)
    made = json_response({"a": 1}, 429, {"Retry-After": "1", "X-Ratelimit-Remaining": "0"})
    assert made.headers.to_wsgi_list() == [
        ("Retry-After", "1"),
        ("X-Ratelimit-Remaining", "0"),
        ("Content-Type", "application/json"),
        ("Content-Length", "7"),
    ]
    assert json_response([]).status == "200 OK"
    with pytest.raises(AssertionError):  # a header it sets itself: the constructor's way
        json_response({}, 200, {"Content-Type": "text/plain"})


def test_status_lines_are_worded_once_and_remembered_for_128_statuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines: dict[Any, tuple[str, int]] = {}
    monkeypatch.setattr(responses, "_STATUS_LINES", lines)
    assert json_response({}, 404).status == "404 NOT FOUND"
    assert lines == {404: ("404 NOT FOUND", 404)}
    lines[404] = ("404 REMEMBERED", 404)
    assert json_response({}, 404).status == "404 REMEMBERED"
    for code in range(200, 326):
        json_response({}, code)
    assert len(lines) == 127
    assert json_response({}, 599).status == "599 UNKNOWN"
    assert len(lines) == 128
    assert json_response({}, 598).status == "598 UNKNOWN"
    assert 598 not in lines
