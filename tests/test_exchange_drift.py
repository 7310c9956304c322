"""One exchange judged against its contract (``mockserver.conformance.validation``): where each
drift points, what its message says, which answers are judged whole and which only by status
and headers, and an event stream judged block by block as its bytes arrive.

The proxy, ``verify`` and the recorder all speak through these functions, so a drift that
points at the wrong place (or goes missing) here goes missing in every one of them. Each test
builds its own small request and answer from the shipped contracts: no server.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from werkzeug.datastructures import Headers

import contracts
from contracts import OpenAPIRequest
from contracts._results import Problem
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import (
    StreamCheck,
    _block_end,
    contracts_headers,
    drift_message,
    drift_where,
    file_drift,
    is_file,
    is_stream,
    json_document,
    path_values,
    request_drift,
    response_drift,
    transient,
)

VIDEOS = contracts.load("gptge-videos")
CHAT = contracts.load("gptproto-chat")
AUTH = {"Authorization": "Bearer sk-test"}
POLL = OpenAPIRequest.build("GET", "/v1/videos/video_1", headers=AUTH)
CHAT_POST = OpenAPIRequest.build(
    "POST", "/v1/chat/completions", headers={**AUTH, "Content-Type": "application/json"}
)
VIDEO = {
    "id": "video_1",
    "object": "video",
    "status": "queued",
    "model": "sora-2",
    "progress": 0,
    "seconds": "4",
    "size": "720x1280",
    "created_at": 1767225600,
}
CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1767225601,
    "model": "sora-2",
    "choices": [{"index": 0, "delta": {"content": "> Generating... 13%"}, "finish_reason": None}],
}


def typed(content_type: str, *more: tuple[str, str]) -> Headers:
    return Headers([("Content-Type", content_type), *more])


def sse(document: Any) -> bytes:
    return f"data: {json.dumps(document)}\n\n".encode()


def chat_stream() -> StreamCheck:
    media = ContractMap(CHAT).media(
        CHAT.operations["createChatCompletion"], 200, "text/event-stream"
    )
    assert media
    return StreamCheck(CHAT, media)


# --------------------------------------------------------------------------- small judgements


def test_repeated_answer_headers_all_reach_the_validator() -> None:
    both = httpx.Headers([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-One", "1")])
    assert contracts_headers(both).getlist("Set-Cookie") == ["a=1", "b=2"]
    plain = contracts_headers({"X-One": "1", "Content-Type": "application/json"})
    assert plain.get("content-type") == "application/json" and plain.get("x-one") == "1"
    assert isinstance(plain, Headers)


@pytest.mark.parametrize(
    ("status", "retry"), [(429, True), (500, True), (503, True), (428, False), (499, False)]
)
def test_only_rate_limits_and_server_errors_are_transient(status: int, retry: bool) -> None:
    assert transient(status) is retry


@pytest.mark.parametrize(
    ("content_type", "file"),
    [
        ("video/mp4", True),
        ("Video/MP4; codecs=avc1", True),
        ("image/webp", True),
        ("audio/mpeg", True),
        (" application/octet-stream ", True),
        ("application/json", False),
        ("text/plain; note=video/mp4", False),
        ("", False),
    ],
)
def test_a_file_is_known_by_its_media_type_alone(content_type: str, file: bool) -> None:
    assert is_file(content_type) is file


@pytest.mark.parametrize(
    ("content_type", "stream"),
    [
        ("text/event-stream", True),
        ("Text/Event-Stream; charset=utf-8", True),
        ("text/event-streams", False),
        ("application/json; x=text/event-stream", False),
    ],
)
def test_an_event_stream_is_known_by_its_media_type_alone(content_type: str, stream: bool) -> None:
    assert is_stream(content_type) is stream


@pytest.mark.parametrize(
    ("data", "content_type", "document"),
    [
        (b'{"a": 1}', "application/json", {"a": 1}),
        (b'{"a": 1}', "application/json; charset=utf-8", {"a": 1}),
        (b"[1, 2]", "text/plain", [1, 2]),
        (b"3", "", 3),
        (b'{"a": 1}', "text/html", None),
        (b"<html>", "application/json", None),
        (b"", "application/json", None),
        (None, "application/json", None),
    ],
)
def test_a_body_is_read_as_json_only_when_its_type_allows(
    data: bytes | None, content_type: str, document: Any
) -> None:
    assert json_document(data, content_type) == document


# --------------------------------------------------------------------------- where and what


@pytest.mark.parametrize(
    ("field", "message", "where"),
    [
        (None, "Unknown response http status: 418", "status code"),  # openapi-core's words
        (None, "status 418 is not declared", "status code"),  # the compiled validators'
        (None, "Status looks odd", "body"),
        (None, "missing required header X-Thing", "headers"),
        (None, "the body is not JSON", "body"),
        ("Content-Type", "unsupported", "header Content-Type"),
        ("Retry-After", "not a number", "header Retry-After"),
        ("x-request-id", "missing", "header x-request-id"),
        ("authorization", "missing", "header authorization"),
        ("data.0.url", "bad", "/data/0/url"),
        ("a/b", "bad", "/a~1b"),
    ],
)
def test_each_problem_points_at_its_place(field: str | None, message: str, where: str) -> None:
    assert drift_where(Problem("response", field, message), None) == where


def test_a_message_names_the_value_it_refused() -> None:
    document = {"data": {"size": "99x99"}}
    problem = Problem("response", "data.size", "is not one of the sizes")
    assert drift_message(problem, document) == 'is not one of the sizes (value: "99x99")'


def test_a_value_the_message_already_quotes_is_not_repeated() -> None:
    document = {"n": 5, "s": "abc"}
    assert drift_message(Problem("response", "n", "5 is too large"), document) == "5 is too large"
    quoted = "'abc' is not one of ['x']"  # repr() quoting, not JSON's
    assert drift_message(Problem("response", "s", quoted), document) == quoted


def test_a_long_refused_value_is_cut_at_80_characters() -> None:
    value = "v" * 100
    got = drift_message(Problem("response", "s", "too long"), {"s": value})
    assert got == f'too long (value: "{"v" * 79}...)'


def test_a_value_of_exactly_80_characters_is_shown_whole() -> None:
    value = "w" * 78  # 80 with its quotes
    got = drift_message(Problem("response", "s", "bad"), {"s": value})
    assert got == f'bad (value: "{value}")'
    one_more = drift_message(Problem("response", "s", "bad"), {"s": value + "w"})
    assert one_more == f'bad (value: "{value}w...)'


def test_no_value_is_added_for_a_header_or_a_missing_field() -> None:
    document = {"Content-Type": "x", "a": 1}
    header = Problem("response", "Content-Type", "unsupported")
    assert drift_message(header, document) == "unsupported"
    assert drift_message(Problem("response", "b.c", "is required"), document) == "is required"
    assert drift_message(Problem("response", None, "no field"), document) == "no field"


def test_a_long_message_keeps_its_head_and_its_verdict() -> None:
    message = "H" * 130 + "M" * 100 + "T" * 100
    got = drift_message(Problem("response", None, message), None)
    assert got == "H" * 120 + " ... " + "T" * 100


def test_a_message_of_exactly_240_characters_is_kept_whole() -> None:
    message = "x" * 240
    assert drift_message(Problem("response", None, message), None) == message
    longer = "y" * 241
    assert drift_message(Problem("response", None, longer), None) == "y" * 120 + " ... " + "y" * 100


def test_unicode_values_are_shown_as_written() -> None:
    got = drift_message(Problem("response", "p", "bad prompt"), {"p": "café"})
    assert got == 'bad prompt (value: "café")'


# --------------------------------------------------------------------------- answers


def test_a_clean_answer_has_no_drift() -> None:
    data = json.dumps(VIDEO).encode()
    headers = typed("application/json")
    assert response_drift(VIDEOS, POLL, 200, headers, data, json.loads(data)) == []


def test_a_body_drift_points_into_the_body_and_shows_the_value() -> None:
    document = {**VIDEO, "progress": "half"}
    data = json.dumps(document).encode()
    found = response_drift(VIDEOS, POLL, 200, typed("application/json"), data, document)
    assert found == [Drift("/progress", "'half' is not of type 'integer'")]


def test_a_refused_value_the_message_does_not_quote_is_shown_after_it() -> None:
    document = {**VIDEO, "object": "clip"}
    data = json.dumps(document).encode()
    (found,) = response_drift(VIDEOS, POLL, 200, typed("application/json"), data, document)
    assert found == Drift("/object", "'video' was expected (value: \"clip\")")


class Refusing:
    """A contract whose validator refuses with the given problems."""

    name = "refusing"

    def __init__(self, *problems: Problem) -> None:
        self.problems = list(problems)

    def validate_response(self, request: Any, response: Any) -> Any:
        raise contracts.ContractViolation(self.name, self.problems)


def test_an_unread_body_keeps_every_status_and_header_problem() -> None:
    refusing = Refusing(
        Problem("response", "data.id", "is required"),
        Problem("response", None, "the body is not JSON"),
        Problem("response", None, "required header X-Request-Id is missing"),
        Problem("response", "Retry-After", "not a number"),
        Problem("response", None, "status 299 is not declared"),
    )
    found = response_drift(refusing, POLL, 200, typed("video/mp4"), None)  # type: ignore[arg-type]
    assert found == [
        Drift("headers", "required header X-Request-Id is missing"),
        Drift("header Retry-After", "not a number"),
        Drift("status code", "status 299 is not declared"),
    ]
    whole = response_drift(refusing, POLL, 200, typed("application/json"), b"{}")  # type: ignore[arg-type]
    assert [d.where for d in whole] == [
        "/data/id",
        "body",
        "headers",
        "header Retry-After",
        "status code",
    ]


def test_a_wrong_content_type_says_what_came() -> None:
    found = response_drift(VIDEOS, POLL, 200, typed("text/html"), b"<html>")
    assert found == [
        Drift(
            "header Content-Type", "unsupported content type (use application/json) (got text/html)"
        )
    ]


def test_an_answer_without_a_content_type_is_judged_as_octet_stream() -> None:
    found = response_drift(VIDEOS, POLL, 200, Headers(), b"{}")
    assert [d.where for d in found] == ["header Content-Type"]
    assert found[0].message.endswith(" (got application/octet-stream)")


@pytest.mark.parametrize("data", [b"{}", None], ids=["whole", "unread"])
def test_an_undeclared_status_is_drift_of_the_status_code(data: bytes | None) -> None:
    found = response_drift(VIDEOS, POLL, 418, typed("application/json"), data)
    assert found == [Drift("status code", "status 418 is not declared")]


def test_an_undeclared_status_of_a_file_or_a_stream_is_drift_too() -> None:
    """Bug found by these tests: a file or a stream is judged by status and headers only, and
    the compiled validators' "status 418 is not declared" was placed in the body, so it was
    dropped: an undeclared status on a download or a stream went unreported."""
    file = response_drift(VIDEOS, POLL, 418, typed("video/mp4"), None)
    assert file == [Drift("status code", "status 418 is not declared")]
    stream = response_drift(CHAT, CHAT_POST, 418, typed("text/event-stream"), b"")
    assert stream == [Drift("status code", "status 418 is not declared")]


def test_a_body_not_read_whole_is_judged_by_status_and_headers_only() -> None:
    # the body is missing its fields, but it was not read: only the header drift counts
    assert response_drift(VIDEOS, POLL, 200, typed("application/json"), None) == []
    found = response_drift(VIDEOS, POLL, 200, typed("text/html"), None)
    assert [d.where for d in found] == ["header Content-Type"]


def test_a_stream_answer_is_judged_by_its_headers_not_its_bytes() -> None:
    clean = response_drift(CHAT, CHAT_POST, 200, typed("text/event-stream"), b"data: {}\n\n")
    assert clean == []


def test_a_body_drift_of_an_answer_read_whole_is_kept() -> None:
    found = response_drift(VIDEOS, POLL, 200, typed("application/json"), b"{}", {})
    assert len(found) == 8 and all(d.where.startswith("/") for d in found)


class Exploding:
    name = "exploding"

    def validate_response(self, request: Any, response: Any) -> Any:
        raise RuntimeError("validator bug")

    def validate_request(self, request: Any) -> Any:
        raise LookupError("validator bug")


def test_a_validator_crash_is_reported_as_drift_never_raised() -> None:
    found = response_drift(Exploding(), POLL, 200, typed("application/json"), b"{}")  # type: ignore[arg-type]
    assert found == [Drift("body", "could not be validated (RuntimeError)")]
    asked = request_drift(Exploding(), POLL)  # type: ignore[arg-type]
    assert asked == [Drift("request", "could not be validated (LookupError)")]


class Seeing:
    """A contract that records what the validator was given."""

    name = "seeing"

    def __init__(self) -> None:
        self.seen: Any = None

    def validate_response(self, request: Any, response: Any) -> Any:
        self.seen = response


def test_the_validator_gets_the_answer_as_it_came_but_no_stream_bytes() -> None:
    seeing = Seeing()
    headers = typed("application/json", ("X-Request-Id", "r1"))
    response_drift(seeing, POLL, 201, headers, b"{}")  # type: ignore[arg-type]
    got = seeing.seen
    assert (got.status_code, got.content_type, got.data) == (201, "application/json", b"{}")
    assert got.headers.get("X-Request-Id") == "r1"
    response_drift(seeing, POLL, 200, typed("text/event-stream"), b"data: x\n\n")  # type: ignore[arg-type]
    assert seeing.seen.data == b""


# --------------------------------------------------------------------------- requests


def test_a_poll_is_judged_by_its_path_and_query_on_the_fast_path() -> None:
    op = VIDEOS.operations["listVideos"]
    request = OpenAPIRequest.build("GET", "/v1/videos", query={"limit": "5"}, headers=AUTH)
    # the query given apart is the one judged (the fast path), not the request's own
    found = request_drift(VIDEOS, request, op, {"limit": "abc"})
    assert found == [Drift("request limit", "'abc' is not of type 'integer'")]
    assert request_drift(VIDEOS, request, op, {"limit": "7"}) == []


def test_a_poll_with_a_malformed_id_in_its_path_is_drift() -> None:
    op = VIDEOS.operations["getVideo"]
    request = OpenAPIRequest.build("GET", "/v1/videos/-bad", headers=AUTH)
    found = request_drift(VIDEOS, request, op, {})
    assert [d.where for d in found] == ["request video_id"]
    good = OpenAPIRequest.build("GET", "/v1/videos/video_1", headers=AUTH)
    assert request_drift(VIDEOS, good, op, {}) == []


def test_without_the_operation_or_query_the_whole_request_is_judged() -> None:
    op = VIDEOS.operations["listVideos"]
    request = OpenAPIRequest.build("GET", "/v1/videos", query={"limit": "abc"})
    # the full validator checks the key first (the fast path would see the bad limit)
    wheres = {d.where for d in request_drift(VIDEOS, request)}
    assert wheres == {"request Authorization"}
    assert {d.where for d in request_drift(VIDEOS, request, op)} == wheres
    assert {d.where for d in request_drift(VIDEOS, request, None, {"limit": "5"})} == wheres


def test_a_request_with_a_body_is_judged_whole() -> None:
    op = VIDEOS.operations["createVideo"]
    request = OpenAPIRequest.build(
        "POST", "/v1/videos", headers={**AUTH, "Content-Type": "application/json"}, body=b"{}"
    )
    found = request_drift(VIDEOS, request, op, {})
    assert found == [
        Drift("request Content-Type", "unsupported content type (use multipart/form-data)")
    ]


def test_a_request_problem_without_a_field_is_placed_on_the_request() -> None:
    request = OpenAPIRequest.build("GET", "/v1/nothing", headers=AUTH)
    found = request_drift(VIDEOS, request)
    assert found and all(d.where == "request" for d in found)


@pytest.mark.parametrize(
    ("operation", "path", "values"),
    [
        ("getVideo", "/v1/videos/video_1", {"video_id": "video_1"}),
        ("getVideoContent", "/v1/videos/a.b/content", {"video_id": "a.b"}),
        ("getVideoContent", "/v1/videos/a/b/content", {}),
        ("getVideo", "/v1/videos/video_1/content", {}),
        ("getVideo", "/v2/videos/video_1", {}),
        ("listVideos", "/v1/videos", {}),
    ],
)
def test_the_path_parameters_of_a_concrete_path(
    operation: str, path: str, values: dict[str, str]
) -> None:
    assert path_values(VIDEOS.operations[operation], path) == values


def test_a_path_template_with_two_parameters() -> None:
    class Op:
        path = "/v1/{kind}/x.y/{id}"

    assert path_values(Op(), "/v1/jobs/x.y/42") == {"kind": "jobs", "id": "42"}  # type: ignore[arg-type]
    assert path_values(Op(), "/v1/jobs/xzy/42") == {}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("content_type", "status", "head", "drift"),
    [
        ("video/mp4", 200, b"\x00\x00\x00\x18ftypmp42", False),
        ("video/mp4", 200, b"<html><body>oops", True),
        ("video/mp4; codecs=avc1", 200, b"<html><body>oops", True),
        ("video/mp4", 206, b"<html><body>oops", False),
        ("video/webm", 200, b"<html><body>oops", False),
        ("video/mp4", 200, b"", True),
    ],
)
def test_an_mp4_answer_must_open_with_an_ftyp_box(
    content_type: str, status: int, head: bytes, drift: bool
) -> None:
    found = file_drift(content_type, status, head)
    expected = [Drift("body", "Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)")]
    assert found == (expected if drift else [])


# --------------------------------------------------------------------------- event streams


def test_a_stream_is_judged_event_by_event_as_bytes_arrive() -> None:
    check = chat_stream()
    data = sse(CHUNK) + b"data: [DONE]\n\n"
    cut = len(sse(CHUNK)) - 1
    first = list(check.feed(data[:cut]))
    assert first == []  # the first event is not complete yet
    second = list(check.feed(data[cut:]))
    assert [raw for raw, _, _ in second] == [sse(CHUNK), b"data: [DONE]\n\n"]
    assert [event for _, event, _ in second] == [
        {"data": json.dumps(CHUNK)},
        {"data": "[DONE]"},
    ]
    assert [problems for _, _, problems in second] == [[], []]
    assert check.events == 2 and check.finished and check.finish() == []
    assert check.rest() == b""


def test_a_bad_event_is_drift_numbered_from_one() -> None:
    check = chat_stream()
    bad = {**CHUNK, "object": "chat.completion"}
    judged = list(check.feed(sse(CHUNK) + sse(bad)))
    assert judged[0][2] == []
    (problem,) = judged[1][2]
    assert problem.where == "SSE event 2 /data/object"
    assert "chat.completion.chunk" in problem.message


def test_a_comment_block_is_forwarded_but_not_counted() -> None:
    check = chat_stream()
    judged = list(check.feed(b": keep-alive\n\n" + sse(CHUNK)))
    assert [(raw, event, problems) for raw, event, problems in judged][0] == (
        b": keep-alive\n\n",
        None,
        [],
    )
    assert check.events == 1


def test_an_event_after_the_terminator_is_drift() -> None:
    check = chat_stream()
    judged = list(check.feed(b"data: [DONE]\n\n" + sse(CHUNK)))
    assert judged[0][2] == []
    assert judged[1][2] == [Drift("SSE event 2", "event after the stream's terminator")]
    assert check.finished


def test_a_stream_that_ends_without_its_terminator_is_drift() -> None:
    check = chat_stream()
    list(check.feed(sse(CHUNK)))
    assert not check.finished
    assert check.finish() == [Drift("stream end", "the stream ended without `data: [DONE]`")]


def test_the_terminator_seen_once_stays_seen() -> None:
    check = chat_stream()
    list(check.feed(b"data: [DONE]\n\n"))
    list(check.feed(b": late comment\n\n"))
    assert check.finished and check.finish() == []


def test_a_stream_without_a_declared_event_schema_is_only_cut_into_events() -> None:
    check = StreamCheck(CHAT, {})
    assert check.finished is False and check.events == 0
    judged = list(check.feed(b"data: not json\n\n"))
    assert judged == [(b"data: not json\n\n", {"data": "not json"}, [])]
    assert check.events == 1 and check.finish() == []


def test_the_bytes_after_the_last_block_are_given_back_once() -> None:
    check = chat_stream()
    list(check.feed(sse(CHUNK) + b'data: {"cut'))
    assert check.rest() == b'data: {"cut'
    assert check.rest() == b""


@pytest.mark.parametrize("end", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_other_line_ends_make_the_same_events(end: bytes) -> None:
    check = chat_stream()
    raw = sse(CHUNK).replace(b"\n", end)
    judged = list(check.feed(raw + b"data: [DONE]" + end + end))
    assert [event for _, event, _ in judged] == [{"data": json.dumps(CHUNK)}, {"data": "[DONE]"}]
    assert [problems for _, _, problems in judged] == [[], []]
    assert check.finished


def test_an_event_with_broken_utf8_is_still_judged() -> None:
    check = chat_stream()
    (judged,) = list(check.feed(b"data: \xff\n\n"))
    assert judged[1] == {"data": "\ufffd"}
    assert [d.where for d in judged[2]] == ["SSE event 1 /data"]


@pytest.mark.parametrize(
    ("buffer", "end"),
    [
        (b"data: a\n\nrest", 9),
        (b"data: a\r\n\r\nrest", 11),
        (b"data: a\r\rrest", 9),
        (b"data: a\n\ndata: b\r\n\r\n", 9),
        (b"data: a\r\n\r\ndata: b\n\n", 11),
        (b"data: a\ndata: b", None),
        (b"", None),
        (b"\n\ndata: a", 2),  # a blank line at the very start ends an empty block
        (b"\r\rdata: a", 2),
        (b"\r\n\r\ndata: a", 4),
    ],
)
def test_a_block_ends_at_its_first_blank_line(buffer: bytes, end: int | None) -> None:
    assert _block_end(buffer) == end
