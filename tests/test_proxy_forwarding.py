"""``sora-mock proxy`` forwarding a request and a JSON answer, run in-process
(:mod:`proxy_fakes`): what reaches the upstream, what reaches the client, what the journal
and the console say, and every way the proxy answers for itself (a refused request, an
unreachable or late upstream, a failure page, an answer too large to judge).

``tests/test_proxy.py`` and ``tests/test_proxy_bounds.py`` show the same through real
servers; here each test builds its own proxy over a fake upstream and takes milliseconds.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import socket
import threading
from typing import Any

import httpx
import pytest
from proxy_fakes import (
    AUTH,
    KEY,
    UPSTREAM,
    VIDEO,
    Chunks,
    answer,
    document,
    error_of,
    late,
    noted_deadlines,
    proxied,
)
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockserver.conformance.proxy import ContractProxy, make_server
from mockserver.conformance.proxy_config import (
    MAX_BODY_BYTES,
    MAX_DOCUMENT_BYTES,
    MAX_EVENT_BYTES,
    ProxyConfig,
)
from mockserver.conformance.proxy_headers import (
    _backward_headers,
    _credentials,
    _forward_headers,
    _has_response_problem,
    _raw_target,
    _status_line,
)
from mockserver.conformance.results import Drift


def test_the_defaults_bound_every_input() -> None:
    config = ProxyConfig("gptge")
    assert (config.mode, config.timeout, config.journal_size) == ("transparent", 60.0, 1000)
    assert (config.max_body, config.max_document, config.max_event) == (
        MAX_BODY_BYTES,
        MAX_DOCUMENT_BYTES,
        MAX_EVENT_BYTES,
    )
    assert MAX_BODY_BYTES == 32 * 1024 * 1024 and MAX_DOCUMENT_BYTES == 16 * 1024 * 1024
    assert MAX_EVENT_BYTES == 1024 * 1024
    assert config.record_dir is None and config.record_media_urls


def test_an_unknown_mode_is_refused_when_the_proxy_is_made() -> None:
    with pytest.raises(ValueError, match="unknown mode 'loose': use one of transparent, strict"):
        ContractProxy(ProxyConfig("gptge", mode="loose"))


def test_without_an_upstream_the_provider_s_own_base_url_is_used() -> None:
    proxy = ContractProxy(ProxyConfig("gptge"))
    try:
        assert proxy.upstream == "https://api.gpt.ge"
    finally:
        proxy.close()


# --------------------------------------------------------------------------- forwarding


def test_a_clean_answer_passes_through_untouched() -> None:
    body = json.dumps(VIDEO).encode()
    run = proxied(
        reply=answer(200, {"Content-Type": "application/json", "X-Request-Id": "req_1"}, body)
    )
    got = run.get("/v1/videos/video_1")
    assert got.status == "200 OK" and got.get_data() == body
    assert got.headers["X-Contract-Violations"] == "0"
    assert got.headers["Content-Length"] == str(len(body))
    assert got.headers["X-Request-Id"] == "req_1"
    assert got.headers["Content-Type"] == "application/json"


def test_the_request_goes_to_the_upstream_s_path_with_its_key() -> None:
    run = proxied()
    run.get("/v1/videos/video_1?x=1&x=2", headers={**AUTH, "X-Custom": "c"})
    (request,) = run.upstream.requests
    assert str(request.url) == f"{UPSTREAM}/v1/videos/video_1?x=1&x=2"
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Bearer {KEY}"  # credentials untouched
    assert request.headers["X-Custom"] == "c"
    assert request.headers["Accept-Encoding"] == "identity"


def test_a_body_is_forwarded_with_its_length() -> None:
    run = proxied()
    run.post("/v1/videos", data=b'{"prompt": "a cat"}', content_type="application/json")
    (request,) = run.upstream.requests
    assert run.upstream.bodies == [b'{"prompt": "a cat"}']
    assert request.headers["Content-Length"] == "19"
    assert request.headers["Content-Type"] == "application/json"


def test_a_strict_proxy_forwards_a_clean_body_as_it_read_it() -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    builder = EnvironBuilder(
        method="POST",
        path="/v1/videos",
        headers=AUTH,
        data={"model": "sora-2", "prompt": "a cat", "input_reference": (image, "a.png")},
    )
    environ = builder.get_environ()
    raw = environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(raw)
    run = proxied(mode="strict")
    got = run.client.open(environ)
    assert run.upstream.requests, error_of(got)
    assert run.upstream.bodies == [raw]
    assert run.upstream.requests[0].headers["Content-Length"] == str(len(raw))


def test_hop_by_hop_headers_stop_at_the_proxy_both_ways() -> None:
    upstream_headers = [
        ("Content-Type", "application/json"),
        ("Connection", "close, X-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("X-Hop", "1"),
        ("Trailer", "X-Sum"),
        ("Upgrade", "h2c"),
        ("X-Kept", "yes"),
    ]
    run = proxied(reply=answer(200, upstream_headers, json.dumps(VIDEO).encode()))
    got = run.get(
        "/v1/videos/video_1",
        headers={
            **AUTH,
            "Connection": "X-Secret-Hop",
            "X-Secret-Hop": "1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic abc",
            "Expect": "100-continue",
            "X-Kept": "yes",
        },
    )
    sent = run.upstream.requests[0].headers
    for name in ("X-Secret-Hop", "TE", "Proxy-Authorization", "Expect"):
        assert name not in sent, name
    assert sent["X-Kept"] == "yes"
    for name in ("Keep-Alive", "X-Hop", "Trailer", "Upgrade"):
        assert name not in got.headers, name
    assert got.headers["X-Kept"] == "yes"


def test_forward_headers_drop_hop_by_hop_and_ask_for_identity() -> None:
    headers = Headers(
        [
            ("Host", "proxy"),
            ("Content-Length", "3"),
            ("Transfer-Encoding", "chunked"),
            ("Accept-Encoding", "gzip"),
            ("Connection", "keep-alive, , X-A"),
            ("Connection", "X-C,X-D"),
            ("X-A", "1"),
            ("X-C", "1"),
            ("X-D", "1"),
            ("Proxy-Connection", "x"),
            ("Proxy-Authenticate", "x"),
            ("X-B", "2"),
        ]
    )
    assert _forward_headers(headers) == [("X-B", "2"), ("Accept-Encoding", "identity")]


def test_backward_headers_keep_the_length_only_when_the_body_goes_as_sent() -> None:
    headers = httpx.Headers(
        [
            ("Content-Length", "9"),
            ("Content-Encoding", "gzip"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("connection", "X-Gone"),
            ("x-gone", "1"),
        ]
    )
    assert _backward_headers(headers) == [
        ("content-encoding", "gzip"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]
    assert ("content-length", "9") in _backward_headers(headers, keep_length=True)


@pytest.mark.parametrize(
    ("headers", "secrets"),
    [
        ({"Authorization": "Bearer sk-1"}, ["Bearer sk-1", "sk-1"]),
        ({"Authorization": "basic dXNlcjpw"}, ["basic dXNlcjpw", "dXNlcjpw"]),
        ({"Authorization": "Token  t-1 "}, ["Token  t-1 ", "t-1"]),
        ({"Authorization": "Digest abc"}, ["Digest abc"]),
        ({"Authorization": "sk-alone"}, ["sk-alone"]),
        ({"X-Api-Key": "k-1", "Accept": "*/*"}, ["k-1"]),
        ({"Authorization": ""}, []),
        ({"Accept": "Bearer x"}, []),
    ],
)
def test_the_credentials_a_request_carries(headers: dict[str, str], secrets: list[str]) -> None:
    assert _credentials(Headers(headers)) == secrets


def test_the_target_is_the_path_as_the_client_sent_it() -> None:
    run = proxied()
    run.client.get(
        "/v1/videos/video%5F1",
        headers=AUTH,
        environ_overrides={"RAW_URI": "/v1/videos/video%5F1?a=%20"},
    )
    assert str(run.upstream.requests[0].url) == f"{UPSTREAM}/v1/videos/video%5F1?a=%20"


@pytest.mark.parametrize(
    ("environ", "target"),
    [
        ({"RAW_URI": "/a%2Fb?q=1"}, "/a%2Fb?q=1"),
        ({"REQUEST_URI": "/r%20i"}, "/r%20i"),
        ({"RAW_URI": "http://host/x", "REQUEST_URI": "/y"}, "/v1/videos/a b"),
        ({}, "/v1/videos/a b"),
    ],
)
def test_the_raw_target_is_read_from_the_server_when_it_has_one(
    environ: dict[str, str], target: str
) -> None:
    from werkzeug.wrappers import Request

    base = EnvironBuilder(path="/v1/videos/a b").get_environ()
    del base["RAW_URI"], base["REQUEST_URI"]  # as a server that does not set them
    request = Request({**base, **environ})
    expected = target.replace(" ", "%20")
    assert _raw_target(request) == expected


def test_the_raw_target_keeps_the_query_as_sent() -> None:
    from werkzeug.wrappers import Request

    environ = EnvironBuilder(path="/v1/x'y", query_string="a=1&b=%20").get_environ()
    del environ["RAW_URI"], environ["REQUEST_URI"]
    request = Request(environ)
    assert _raw_target(request) == "/v1/x'y?a=1&b=%20"


def test_a_path_that_climbs_out_of_the_base_path_is_refused_unsent() -> None:
    run = proxied()
    got = run.client.get(
        "/v1/x", headers=AUTH, environ_overrides={"RAW_URI": "/v1/%2e%2e/%2e%2e/admin"}
    )
    assert got.status_code == 400 and run.upstream.requests == []
    error = error_of(got)
    assert error["code"] == "invalid_path"
    assert error["message"] == (
        "sora-mock proxy: the request path climbs out of the upstream's base path (a `..` "
        "segment, perhaps percent-encoded): not forwarded"
    )
    assert run.entry["status"] == 400 and run.entry["upstream_status"] is None


def test_dot_segments_inside_the_base_path_are_resolved() -> None:
    run = proxied()
    run.client.get(
        "/x", headers=AUTH, environ_overrides={"RAW_URI": "/v1/videos/../videos/video_1"}
    )
    assert str(run.upstream.requests[0].url) == f"{UPSTREAM}/v1/videos/video_1"
    assert run.entry["operation"] == "getVideo"


# --------------------------------------------------------------------------- drift


def test_transparent_forwards_drift_and_names_it() -> None:
    body = json.dumps({**VIDEO, "progress": "half"}).encode()
    run = proxied(reply=answer(200, {"Content-Type": "application/json"}, body))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 200 and got.get_data() == body
    assert got.headers["X-Contract-Violations"] == "1; /progress: 'half' is not of type 'integer'"
    assert run.entry["violations"] == [
        {"where": "/progress", "message": "'half' is not of type 'integer'"}
    ]
    assert run.console == (
        "[proxy gptge] GET /v1/videos/video_1 -> 200 DRIFT: 1 difference from the contract\n"
        "    /progress: 'half' is not of type 'integer'\n"
    )


def test_the_console_counts_differences() -> None:
    run = proxied(reply=document({**VIDEO, "progress": "half", "size": 5}))
    run.get("/v1/videos/video_1")
    assert "-> 200 DRIFT: 2 differences from the contract\n" in run.console


def test_the_journal_says_what_happened() -> None:
    run = proxied()
    run.get("/v1/videos/video_1?limit=1")
    assert list(run.proxy.journal) == [
        {
            "id": 1,
            "time": 1000,
            "method": "GET",
            "path": "/v1/videos/video_1",
            "operation": "getVideo",
            "upstream_status": 200,
            "status": 200,
            "mode": "transparent",
            "violations": [],
            "error": None,
        }
    ]
    assert run.console == "[proxy gptge] GET /v1/videos/video_1 -> 200 no drift\n"
    run.get("/v1/videos/video_2")
    assert [e["id"] for e in run.proxy.journal] == [1, 2]


def test_the_journal_keeps_its_last_entries_and_is_served() -> None:
    run = proxied(journal_size=2)
    for n in range(3):
        run.get(f"/v1/videos/video_{n}")
    assert [e["path"] for e in run.proxy.journal] == ["/v1/videos/video_1", "/v1/videos/video_2"]
    got = run.client.get("/__proxy/journal/")
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/json"
    assert [e["id"] for e in json.loads(got.get_data())["entries"]] == [2, 3]
    assert len(run.upstream.requests) == 3  # the journal is the proxy's own


def test_a_key_in_a_path_never_reaches_the_journal_or_console() -> None:
    run = proxied(reply=document({"error": {"message": f"bad key {KEY}"}}, status=401))
    run.get(f"/v1/videos/{KEY}")
    text = json.dumps(list(run.proxy.journal)) + run.console
    assert KEY not in text and "[REDACTED]" in text


def test_a_request_no_operation_matches_is_drift() -> None:
    run = proxied(
        reply=document(
            {"error": {"message": "nope", "type": "x", "param": None, "code": None}}, status=404
        )
    )
    run.get("/v1/nothing")
    assert run.entry["operation"] is None
    assert run.entry["violations"][0] == {
        "where": "request",
        "message": "no operation of gptge-videos is GET /v1/nothing",
    }


def test_a_bad_request_is_forwarded_in_transparent_mode_and_named() -> None:
    run = proxied()
    got = run.get("/v1/videos?limit=abc")
    assert got.status_code == 200 and len(run.upstream.requests) == 1
    count, _, first = got.headers["X-Contract-Violations"].partition("; ")
    assert int(count) >= 1 and first == "request limit: 'abc' is not of type 'integer'"


def test_strict_refuses_a_bad_request_without_sending_it() -> None:
    run = proxied(mode="strict")
    got = run.get("/v1/videos?limit=abc")
    assert got.status_code == 400 and run.upstream.requests == []
    error = error_of(got)
    assert error == {
        "message": "sora-mock proxy (strict): the request breaks the gptge-videos contract: "
        "request limit: 'abc' is not of type 'integer' (not forwarded)",
        "type": "invalid_request_error",
        "param": None,
        "code": "contract_violation",
    }
    assert (
        got.headers["X-Contract-Violations"] == "1; request limit: 'abc' is not of type 'integer'"
    )
    assert run.entry["status"] == 400 and run.entry["upstream_status"] is None


def test_strict_refuses_a_bad_body_before_a_byte_goes_upstream() -> None:
    run = proxied(mode="strict")
    got = run.post("/v1/videos", data=b'{"prompt": "x"}', content_type="application/json")
    assert got.status_code == 400 and run.upstream.requests == []
    assert error_of(got)["message"].endswith("(not forwarded)")


def test_strict_refuses_a_drifting_answer_with_the_provider_s_error() -> None:
    run = proxied(mode="strict", reply=document({**VIDEO, "progress": "half", "size": 5}))
    got = run.get("/v1/videos/video_1")
    assert got.status == "502 Bad Gateway"
    assert error_of(got) == {
        "message": "sora-mock proxy (strict): the upstream answer breaks the gptge-videos "
        "contract: /progress: 'half' is not of type 'integer' (and 1 more)",
        "type": "server_error",
        "param": None,
        "code": "contract_violation",
    }
    assert got.headers["X-Contract-Violations"].startswith("2; /progress")
    assert run.entry["status"] == 502 and run.entry["upstream_status"] == 200


def test_strict_passes_a_clean_answer() -> None:
    run = proxied(mode="strict")
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 200 and json.loads(got.get_data()) == VIDEO
    assert run.entry["mode"] == "strict"


def test_strict_names_the_key_nowhere_in_its_refusal() -> None:
    run = proxied(mode="strict", reply=document({**VIDEO, "progress": KEY}))
    got = run.get("/v1/videos/video_1")
    assert "[REDACTED]" in error_of(got)["message"]
    assert KEY not in got.get_data(as_text=True)
    assert KEY not in got.headers["X-Contract-Violations"]


# --------------------------------------------------------------------------- the violations header


def test_the_violations_header_is_ascii_and_bounded() -> None:
    run = proxied()
    header = run.proxy._violation_header([Drift("/prompt", "é" + "x" * 400), Drift("/a", "b")])
    assert header[0] == "X-Contract-Violations"
    assert header[1].startswith("2; /prompt: ?xxx") and len(header[1]) == 300
    assert run.proxy._violation_header([]) == ("X-Contract-Violations", "0")
    masked = run.proxy._violation_header([Drift("body", "key sk-abcdefghijklmnop quoted")])
    assert masked[1] == "1; body: key [REDACTED] quoted"
    assert run.proxy._violation_header([Drift("a", "\x7f\x1f~ ")])[1] == "1; a: ??~ "


def test_only_answer_problems_count_as_the_answer_s() -> None:
    assert not _has_response_problem([Drift("request limit", "x"), Drift("request", "y")])
    assert _has_response_problem([Drift("request", "y"), Drift("body", "z")])
    assert not _has_response_problem([])


# --------------------------------------------------------------------------- request bodies


def test_a_declared_body_over_the_limit_is_refused_unread() -> None:
    run = proxied(max_body=10)
    got = run.post("/v1/videos", data=b"x" * 11, content_type="application/json")
    assert got.status_code == 413 and run.upstream.requests == []
    assert error_of(got) == {
        "message": "sora-mock proxy: the request body (11 bytes) is larger than the proxy's "
        "limit of 10 bytes: not read, not forwarded",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }
    assert got.status == "413 Content Too Large"
    assert run.entry["error"].startswith("sora-mock proxy: the request body (11 bytes)")


def test_a_body_of_the_limit_is_forwarded() -> None:
    run = proxied(max_body=10)
    run.post("/v1/videos", data=b"y" * 10, content_type="application/json")
    assert run.upstream.bodies == [b"y" * 10]


def chunked(run: Any, data: bytes, mode_path: str = "/v1/videos") -> Any:
    return run.client.post(
        mode_path,
        input_stream=io.BytesIO(data),
        headers={**AUTH, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_is_streamed_up_without_a_length() -> None:
    run = proxied()
    chunked(run, b'{"prompt": "a cat"}')
    assert run.upstream.bodies == [b'{"prompt": "a cat"}']
    assert "Content-Length" not in run.upstream.requests[0].headers


def test_a_chunked_body_over_the_limit_is_refused_as_it_streams() -> None:
    run = proxied(max_body=8)
    got = chunked(run, b"z" * 20)
    assert got.status_code == 413
    assert error_of(got)["code"] == "request_too_large"
    assert "limit of 8 bytes (counted as it streamed)" in error_of(got)["message"]


def test_strict_reads_a_chunked_body_whole_then_sends_its_length() -> None:
    run = proxied(mode="strict", max_body=8)
    got = chunked(run, b"z" * 20)
    assert got.status_code == 413 and run.upstream.requests == []
    ok = proxied(mode="strict")
    chunked(ok, b'{"a": 1}')
    assert ok.upstream.requests == []  # a JSON create breaks the multipart contract
    assert ok.entry["status"] == 400


# --------------------------------------------------------------------------- upstream failures


def raising(exc: Exception) -> Any:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc

    return reply


def test_an_upstream_that_times_out_is_a_504_in_the_provider_s_shape() -> None:
    run = proxied(reply=raising(httpx.ReadTimeout("slow")))
    got = run.get("/v1/videos/video_1")
    assert got.status == "504 Gateway Timeout"
    assert error_of(got) == {
        "message": f"sora-mock proxy: the upstream {UPSTREAM} timed out (ReadTimeout)",
        "type": "server_error",
        "param": None,
        "code": "upstream_timeout",
    }
    assert run.entry["error"] == error_of(got)["message"] and run.entry["status"] == 504
    assert f"-> 504 ERROR sora-mock proxy: the upstream {UPSTREAM} timed out" in run.console


def test_an_unreachable_upstream_is_a_502() -> None:
    run = proxied(reply=raising(httpx.ConnectError("refused")))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 502
    error = error_of(got)
    assert error["code"] == "upstream_unreachable"
    assert (
        error["message"]
        == f"sora-mock proxy: the upstream {UPSTREAM} could not be reached (ConnectError)"
    )


def test_a_failure_page_instead_of_the_provider_s_error_keeps_its_status() -> None:
    page = b"<html><body><h1>500 Error</h1>\ncloudflare</body></html>"
    run = proxied(reply=answer(500, {"Content-Type": "text/html"}, page))
    got = run.get("/v1/videos/video_1")
    assert got.status == "500 Error"
    error = error_of(got)
    assert error["code"] == "upstream_error"
    assert error["message"] == (
        "sora-mock proxy: the upstream answered 500 with a body that is not the provider's "
        "error shape (text/html): <html><body><h1>500 Error</h1> cloudflare</body></html>"
    )
    assert got.headers["X-Contract-Violations"].startswith("1; header Content-Type")
    assert run.entry["status"] == 500 and run.entry["upstream_status"] == 500


def test_an_empty_failure_without_a_type_says_so() -> None:
    run = proxied(reply=answer(503, []))
    error = error_of(run.get("/v1/videos/video_1"))
    assert error["message"] == (
        "sora-mock proxy: the upstream answered 503 with a body that is not the provider's "
        "error shape (no Content-Type)"
    )


def test_a_long_failure_page_is_quoted_in_part() -> None:
    run = proxied(reply=answer(500, {"Content-Type": "text/plain"}, b"E" * 5000))
    message = error_of(run.get("/v1/videos/video_1"))["message"]
    assert message.endswith(": " + "E" * 160)
    assert run.entry["status"] == 500


def test_a_server_error_in_the_provider_s_shape_is_forwarded() -> None:
    error = {"error": {"message": "busy", "type": "server_error", "param": None, "code": None}}
    run = proxied(reply=document(error, status=500))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 500 and json.loads(got.get_data()) == error
    assert got.headers["X-Contract-Violations"] == "0"


def test_a_client_error_with_drift_is_forwarded_not_replaced() -> None:
    run = proxied(reply=answer(404, {"Content-Type": "text/html"}, b"<h1>nope</h1>"))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 404 and got.get_data() == b"<h1>nope</h1>"


def test_an_answer_that_breaks_off_before_it_is_judged_is_a_502() -> None:
    run = proxied(reply=answer(200, None, b'{"id": ', error=httpx.ReadError("reset")))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 502
    error = error_of(got)
    assert error["code"] == "upstream_unreachable"
    assert error["message"] == (
        f"sora-mock proxy: the upstream {UPSTREAM} upstream connection broke mid-answer (ReadError)"
    )
    assert run.entry["error"] == "upstream connection broke mid-answer (ReadError)"
    assert run.entry["status"] == 502 and run.entry["upstream_status"] == 200


def test_an_answer_whose_reads_time_out_is_a_504() -> None:
    run = proxied(reply=answer(200, None, b"{", error=httpx.ReadTimeout("slow")))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 504
    assert error_of(got)["code"] == "upstream_timeout"
    assert run.entry["error"] == "upstream read timed out mid-answer (ReadTimeout)"


def test_a_proxy_bug_is_a_502_in_the_provider_s_shape(caplog: pytest.LogCaptureFixture) -> None:
    run = proxied(reply=raising(RuntimeError("bug")))
    with caplog.at_level(logging.ERROR, logger="mockserver.proxy"):
        got = run.get("/v1/videos/video_1")
    assert got.status == "502 Bad Gateway"
    assert error_of(got)["message"] == "sora-mock proxy: internal error (RuntimeError)"
    assert error_of(got)["code"] == "proxy_error"
    assert [r.getMessage() for r in caplog.records if r.name == "mockserver.proxy"] == [
        "sora-mock proxy failed on GET /v1/videos/video_1"
    ]


@pytest.mark.parametrize(
    ("status", "line"), [(200, "200 OK"), (299, "299 Unknown"), (418, "418 I'm a teapot")]
)
def test_the_status_line_keeps_the_upstream_s_reason(status: int, line: str) -> None:
    assert _status_line(httpx.Response(status)) == line


# --------------------------------------------------------------------------- size and codings


def test_an_answer_past_the_document_limit_passes_through_unjudged() -> None:
    body = json.dumps({**VIDEO, "prompt": "p" * 200}).encode()
    pieces = [body[:100], body[100:200], body[200:]]
    run = proxied(
        max_document=150,
        reply=answer(
            200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, *pieces
        ),
    )
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 200 and got.get_data() == body
    assert got.headers["Content-Length"] == str(len(body))
    assert got.headers["X-Contract-Violations"] == (
        "1; body: larger than the 150 bytes the proxy judges: 150 bytes judged, "
        "the rest passed through unjudged"
    )


def test_an_answer_of_exactly_the_limit_is_judged() -> None:
    body = json.dumps(VIDEO).encode()
    run = proxied(max_document=len(body), reply=answer(200, None, body))
    assert run.get("/v1/videos/video_1").headers["X-Contract-Violations"] == "0"


def test_strict_refuses_an_answer_too_large_to_judge() -> None:
    body = b"[" + b"1," * 100 + b"1]"
    run = proxied(mode="strict", max_document=50, reply=answer(200, None, body))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 502
    error = error_of(got)
    assert error["code"] == "unjudged_answer"
    assert error["message"] == (
        "sora-mock proxy (strict): the upstream answer could not be judged: body: larger than "
        "the 50 bytes the proxy judges: 50 bytes judged, the rest passed through unjudged"
    )


def test_a_gzip_answer_is_judged_decoded_and_forwarded_as_sent() -> None:
    raw = gzip.compress(json.dumps({**VIDEO, "progress": "half"}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(reply=answer(200, headers, raw[:10], raw[10:]))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw and got.headers["Content-Encoding"] == "gzip"
    assert got.headers["Content-Length"] == str(len(raw))
    assert got.headers["X-Contract-Violations"] == "1; /progress: 'half' is not of type 'integer'"


def test_a_gzip_bomb_is_judged_only_up_to_the_limit() -> None:
    raw = gzip.compress(b"[" + b"0," * 50_000 + b"0]")
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(max_document=1000, reply=answer(200, headers, raw))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"] == (
        "1; body: larger than the 1000 bytes the proxy judges (decoded): 1000 bytes judged, "
        "the rest passed through unjudged"
    )


def test_an_encoded_answer_small_raw_but_large_decoded_at_the_end() -> None:
    raw = gzip.compress(b"x" * 70_000)  # comes out in the decoder's last steps
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(max_document=65_536 + 10, reply=answer(200, headers, raw))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"].startswith(
        f"1; body: larger than the {65_536 + 10} bytes the proxy judges (decoded): "
        f"{65_536 + 10} bytes judged"
    )


def test_an_encoding_the_proxy_cannot_undo_leaves_the_body_unjudged() -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "br"}
    run = proxied(reply=answer(200, headers, b"\x0b\x02\x80{}\x03"))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 200 and got.get_data() == b"\x0b\x02\x80{}\x03"
    assert got.headers["X-Contract-Violations"] == (
        "1; body: Content-Encoding br: the proxy cannot decode br (it asked for identity), "
        "so the body was not judged"
    )


def test_strict_refuses_an_answer_it_cannot_decode() -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "br"}
    run = proxied(mode="strict", reply=answer(200, headers, b"\x0b"))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 502 and error_of(got)["code"] == "unjudged_answer"


def test_a_text_answer_is_kept_as_text_for_the_journal_s_sake() -> None:
    run = proxied(mode="strict", reply=answer(200, {"Content-Type": "text/html"}, b"<p>hi</p>"))
    got = run.get("/v1/videos/video_1")
    assert error_of(got)["message"].startswith(
        "sora-mock proxy (strict): the upstream answer breaks the gptge-videos contract: "
        "header Content-Type"
    )


# --------------------------------------------------------------------------- the server


def test_the_proxy_s_server_sends_one_server_and_one_date() -> None:
    upstream_headers = {
        "Content-Type": "application/json",
        "Server": "upstream/1",
        "Date": "Thu, 01 Jan 2026 00:00:00 GMT",
    }
    run = proxied(reply=lambda request: document(VIDEO, **upstream_headers))
    server = make_server(run.proxy)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(b"GET /__proxy/journal HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            own = _read_all(sock)
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(
                b"GET /v1/videos/video_1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + f"Authorization: Bearer {KEY}\r\n\r\n".encode()
            )
            forwarded = _read_all(sock)
    finally:
        server.shutdown()
        server.server_close()
    assert own.startswith(b"HTTP/1.1 200 OK\r\n")
    own_names = _names(own)
    server_value = _value(own, "server")
    assert server_value.startswith("Werkzeug/") and _value(own, "date").endswith(" GMT")
    assert own_names.count("server") == 1 and own_names.count("date") == 1
    names = _names(forwarded)
    assert names.count("server") == 1 and names.count("date") == 1
    assert b"server: upstream/1" in forwarded.lower()


def _value(raw: bytes, name: str) -> str:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    (value,) = [
        v.strip() for k, _, v in (line.partition(":") for line in head) if k.lower() == name
    ]
    return value


def test_the_proxy_s_server_keeps_its_own_status_words_and_is_threaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from werkzeug.serving import ThreadedWSGIServer

    run = proxied(reply=answer(500, {"Content-Type": "text/html"}, b"<h1>down</h1>"))
    server = make_server(run.proxy)
    other = make_server(run.proxy)  # the default port is any free one
    assert isinstance(server, ThreadedWSGIServer) and server.multithread
    assert server.RequestHandlerClass.disable_nagle_algorithm is True  # type: ignore[attr-defined]
    assert server.server_port != other.server_port
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
                sock.sendall(
                    b"GET /v1/videos/video_1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                raw = _read_all(sock)
    finally:
        server.shutdown()
        server.server_close()
        other.server_close()
    assert raw.startswith(b"HTTP/1.1 500 Error\r\n")  # the proxy's words, not the default
    assert '"GET /v1/videos/video_1 HTTP/1.1" 500' in caplog.text


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while piece := sock.recv(65536):
        data += piece
    return data


def _names(raw: bytes) -> list[str]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return [line.partition(":")[0].strip().lower() for line in head]


# --------------------------------------------------------------------------- more of the pipeline


def test_the_console_defaults_to_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    proxy = ContractProxy(
        ProxyConfig("gptge", upstream=UPSTREAM),
        transport=httpx.MockTransport(lambda request: document(VIDEO)),
    )
    try:
        from werkzeug.test import Client

        Client(proxy).get("/v1/videos/video_1", headers=AUTH)
    finally:
        proxy.close()
    assert "[proxy gptge] GET /v1/videos/video_1 -> 200 no drift" in capsys.readouterr().err


def test_the_upstream_client_uses_the_timeout_and_follows_no_redirect() -> None:
    run = proxied(timeout=7.5, reply=answer(302, {"Location": "https://elsewhere.example/x"}))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 302 and got.headers["Location"] == "https://elsewhere.example/x"
    assert len(run.upstream.requests) == 1
    timeout = run.proxy.client.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (7.5,) * 4


def test_the_upstream_s_answer_is_closed_once_forwarded() -> None:
    chunks = Chunks([json.dumps(VIDEO).encode()])
    run = proxied(
        reply=httpx.Response(200, headers={"Content-Type": "application/json"}, stream=chunks)
    )
    run.get("/v1/videos/video_1").get_data()
    assert chunks.closed


def test_each_request_carries_its_deadline_to_httpcore() -> None:
    run = proxied()
    run.get("/v1/videos/video_1")
    trace = run.upstream.requests[0].extensions["trace"]
    assert type(trace.__self__).__name__ == "Deadline"
    assert trace.__self__.seconds == 60.0


def test_a_chunked_body_is_known_by_its_transfer_coding_in_any_case() -> None:
    run = proxied()
    run.client.post(
        "/v1/videos",
        input_stream=io.BytesIO(b'{"a": 1}'),
        headers={**AUTH, "Transfer-Encoding": "Chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert run.upstream.bodies == [b'{"a": 1}']


def test_an_encoded_answer_larger_than_the_limit_as_sent_is_not_held_whole() -> None:
    import os

    raw = gzip.compress(os.urandom(95))  # about 118 bytes sent, 95 decoded
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(max_document=100, reply=answer(200, headers, raw[:60], raw[60:]))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"].startswith(
        "1; body: larger than the 100 bytes the proxy judges (decoded): "
    )


def test_a_text_answer_is_recorded_as_text_at_most_4000_characters(tmp_path: Any) -> None:
    from mockserver.conformance import cassettes

    page = ("<p>" + "é" * 5000 + "</p>").encode()
    run = proxied(
        record_dir=tmp_path,
        record_media_urls=False,
        reply=answer(400, {"Content-Type": "text/html"}, page),
    )
    run.post("/v1/videos", data=b"x", content_type="application/json")
    (path,) = cassettes.iter_files(tmp_path)
    text = json.loads(path.read_text())["create"]["response"]["text"]
    assert text == page.decode()[:4000] and len(text) == 4000


def test_an_error_message_keeps_its_non_ascii_text() -> None:
    run = proxied(reply=answer(500, {"Content-Type": "text/plain"}, "café fermé".encode()))
    got = run.get("/v1/videos/video_1")
    raw = got.get_data()
    assert "café fermé".encode() in raw  # not \\u00e9
    assert got.headers["Content-Length"] == str(len(raw))


def test_a_recorder_that_cannot_write_is_logged(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run = proxied(record_dir=tmp_path, record_media_urls=False)

    def full(seen: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(run.proxy.recorder, "record", full)
    with caplog.at_level(logging.ERROR, logger="mockserver.proxy"):
        assert run.get("/v1/videos/video_1").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name == "mockserver.proxy"] == [
        "could not record GET /v1/videos/video_1: No space left on device"
    ]


def test_a_refused_request_is_not_recorded(tmp_path: Any) -> None:
    from mockserver.conformance import cassettes

    run = proxied(record_dir=tmp_path, record_media_urls=False, max_body=1)
    run.post("/v1/videos", data=b"xx", content_type="application/json")
    assert list(cassettes.iter_files(tmp_path)) == []


# --------------------------------------------------------------------------- deadlines and leaving


@pytest.fixture
def deadlines(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    return noted_deadlines(monkeypatch)


def test_an_answer_not_whole_within_the_timeout_is_a_504(deadlines: list[Any]) -> None:
    run = proxied(timeout=0.01, reply=late(deadlines, b'{"id": '))
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 504
    error = error_of(got)
    assert error["code"] == "upstream_timeout"
    assert error["message"] == (
        f"sora-mock proxy: the upstream {UPSTREAM} did not finish its answer within "
        "--timeout 0.01 s (7 bytes received)"
    )


def test_the_timeout_starts_once_a_body_is_sent(deadlines: list[Any]) -> None:
    run = proxied(timeout=0.01, reply=late(deadlines))
    got = run.post("/v1/videos", data=b"{}", content_type="application/json")
    assert got.status_code == 504
    assert (
        "did not finish its answer within --timeout 0.01 s (0 bytes received)"
        in (error_of(got)["message"])
    )


def test_an_upstream_whose_connection_the_deadline_shut_is_late_not_unreachable(
    deadlines: list[Any],
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        assert deadlines[-1].passed.wait(10)
        raise httpx.ReadError("shut")

    run = proxied(timeout=0.01, reply=reply)
    got = run.get("/v1/videos/video_1")
    assert got.status_code == 504
    assert error_of(got)["message"] == (
        f"sora-mock proxy: the upstream {UPSTREAM} did not finish its answer within "
        "--timeout 0.01 s (0 bytes received)"
    )


def gone_client() -> tuple[socket.socket, socket.socket]:
    mine, theirs = socket.socketpair()
    theirs.close()  # the client has left
    return mine, theirs


def test_a_download_keeps_the_request_s_drift_too() -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(100)
    run = proxied(reply=answer(200, {"Content-Type": "video/mp4"}, video))
    got = run.get("/v1/videos/-bad/content")
    assert got.get_data() == video
    assert got.headers["X-Contract-Violations"].startswith("1; request video_id: ")


def test_a_client_that_left_mid_document_is_let_go() -> None:
    mine, _ = gone_client()
    chunks = Chunks([b'{"id": ', b'"video_1"}'])
    run = proxied(
        reply=httpx.Response(200, headers={"Content-Type": "application/json"}, stream=chunks)
    )
    try:
        got = run.client.get(
            "/v1/videos/video_1", headers=AUTH, environ_overrides={"werkzeug.socket": mine}
        )
        assert got.status_code == 502  # only so the server has a status to try to send
    finally:
        mine.close()
    assert chunks.sent == 1  # no more was read
    assert run.entry["error"] == "the client went away before the answer was complete"
    assert len(run.proxy.journal) == 1


def test_a_document_in_many_chunks_is_judged_whole() -> None:
    body = json.dumps(VIDEO).encode()
    run = proxied(reply=answer(200, None, body[:5], body[5:50], body[50:]))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == body and got.headers["X-Contract-Violations"] == "0"


def test_the_drift_names_a_value_its_message_does_not_quote() -> None:
    run = proxied(reply=document({**VIDEO, "object": "clip"}))
    got = run.get("/v1/videos/video_1")
    assert got.headers["X-Contract-Violations"] == (
        "1; /object: 'video' was expected (value: \"clip\")"
    )


def test_a_failure_page_with_broken_utf8_is_quoted_readably() -> None:
    run = proxied(reply=answer(500, {"Content-Type": "text/plain"}, b"down \xff now"))
    assert error_of(run.get("/v1/videos/video_1"))["message"].endswith(": down \ufffd now")


def test_a_decoded_answer_one_chunk_past_the_limit_is_over_it() -> None:
    raw = gzip.compress(b"[" + b"0," * 40_000 + b"0]")  # 80 kB decoded
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(max_document=65_536, reply=answer(200, headers, raw))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw
    assert got.headers["X-Contract-Violations"] == (
        "1; body: larger than the 65536 bytes the proxy judges (decoded): 65536 bytes judged, "
        "the rest passed through unjudged"
    )


def test_an_answer_too_large_to_judge_keeps_the_request_s_drift() -> None:
    body = json.dumps({**VIDEO, "prompt": "p" * 300}).encode()
    run = proxied(max_document=100, reply=answer(200, None, body))
    got = run.get("/v1/videos/-bad")
    assert got.get_data() == body
    assert got.headers["X-Contract-Violations"].startswith("2; request video_id: ")


def test_a_decoded_answer_of_exactly_the_limit_is_judged_whole() -> None:
    body = json.dumps({**VIDEO, "prompt": ""}).encode()
    body = body.replace(b'"prompt": ""', b'"prompt": "' + b"p" * (65_536 - len(body)) + b'"')
    assert len(body) == 65_536
    raw = gzip.compress(body)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    run = proxied(max_document=65_536, reply=answer(200, headers, raw))
    got = run.get("/v1/videos/video_1")
    assert got.get_data() == raw and got.headers["X-Contract-Violations"] == "0"


def test_a_poll_without_a_key_is_left_for_the_provider_to_refuse() -> None:
    # a poll takes the fast path (its path and query only): the provider's own 401 says
    # what is wrong, and that answer is in its contract
    error = {
        "error": {"message": "no key", "type": "invalid_request_error", "param": None, "code": None}
    }
    run = proxied(reply=document(error, status=401))
    got = run.get("/v1/videos/video_1", headers={})
    assert got.status_code == 401 and got.headers["X-Contract-Violations"] == "0"


def test_a_recorded_create_keeps_what_the_client_sent(tmp_path: Any) -> None:
    from mockserver.conformance import cassettes

    run = proxied(record_dir=tmp_path, record_media_urls=False)
    run.post("/v1/videos", data=b'{"prompt": "a cat"}', content_type="application/json")
    (path,) = cassettes.iter_files(tmp_path)
    request = json.loads(path.read_text())["create"]["request"]
    assert request["prompt"] == "a cat" and request["body"] == {"prompt": "a cat"}
    assert request["headers"] == {"content-type": "application/json"}


class Flushed(io.StringIO):
    """A console that notes what it held when it was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_each_console_line_is_flushed_as_it_is_written() -> None:
    out = Flushed()
    proxy = ContractProxy(
        ProxyConfig("gptge", upstream=UPSTREAM),
        transport=httpx.MockTransport(lambda request: document(VIDEO)),
        out=out,
    )
    try:
        from werkzeug.test import Client

        Client(proxy).get("/v1/videos/video_1", headers=AUTH)
    finally:
        proxy.close()
    assert out.flushed and out.flushed[-1].endswith("-> 200 no drift\n")


def test_only_the_journal_s_own_path_is_the_proxy_s() -> None:
    run = proxied(reply=document({"error": {"message": "no", "type": "x", "param": None}}, 404))
    run.client.get("/__proxy/journalX", headers=AUTH)
    assert [str(r.url) for r in run.upstream.requests] == [f"{UPSTREAM}/__proxy/journalX"]


def multipart(image_size: int) -> dict[str, Any]:
    """A createVideo request as a WSGI environ, its body read back: (environ, raw body)."""
    image = io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(image_size))
    builder = EnvironBuilder(
        method="POST",
        path="/v1/videos",
        headers=AUTH,
        data={"model": "sora-2", "prompt": "a cat", "input_reference": (image, "a.png")},
    )
    environ = builder.get_environ()
    raw = environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(raw)
    return {"environ": environ, "raw": raw}


@pytest.mark.parametrize("mode", ["transparent", "strict"])
def test_a_body_larger_than_one_read_is_judged_and_recorded_whole(mode: str, tmp_path: Any) -> None:
    from mockserver.conformance import cassettes

    request = multipart(100_000)  # two reads of 64 KiB
    run = proxied(mode=mode, record_dir=tmp_path, record_media_urls=False)
    got = run.client.open(request["environ"])
    assert got.status_code == 200, error_of(got)
    assert run.upstream.bodies == [request["raw"]]
    assert got.headers["X-Contract-Violations"] == "0"
    (path,) = cassettes.iter_files(tmp_path)
    kept = json.loads(path.read_text())["create"]["request"]
    content_type = request["environ"]["CONTENT_TYPE"]
    assert kept["body_sha256"] == cassettes.summarize_request(content_type, request["raw"])[1]


def test_strict_sends_a_chunked_body_on_with_its_length() -> None:
    request = multipart(1000)
    environ = request["environ"]
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    run = proxied(mode="strict")
    # straight to the app: the test client would give the body back its length
    _, status, _ = run_wsgi_app(run.client.application, environ, buffered=True)
    assert status.startswith("200 "), status
    sent = run.upstream.requests[0]
    assert run.upstream.bodies == [request["raw"]]
    assert sent.headers["Content-Length"] == str(len(request["raw"]))
    assert "Transfer-Encoding" not in sent.headers


def test_a_chunked_body_sends_no_length_even_if_one_was_declared() -> None:
    run = proxied()
    run.client.post(
        "/v1/videos",
        input_stream=io.BytesIO(b'{"a": 1}'),
        headers={
            **AUTH,
            "Transfer-Encoding": "Chunked",
            "Content-Length": "3",
            "Content-Type": "application/json",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert run.upstream.bodies == [b'{"a": 1}']
    assert "Content-Length" not in run.upstream.requests[0].headers


def test_strict_says_why_it_would_not_read_a_body() -> None:
    run = proxied(mode="strict", max_body=8)
    got = chunked(run, b"z" * 20)
    assert error_of(got) == {
        "message": "sora-mock proxy: the request body is larger than the proxy's limit of 8 "
        "bytes (counted as it streamed): not forwarded whole",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }


def test_the_deadline_shuts_the_upstream_s_connection(deadlines: list[Any]) -> None:
    mine, peer = socket.socketpair()

    class Stream:
        def get_extra_info(self, name: str) -> Any:
            return mine if name == "socket" else None

    class Late(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            yield b'{"id": '
            assert deadlines[-1].passed.wait(10)
            raise httpx.ReadError("shut")

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Type": "application/json"},
            stream=Late(),
            extensions={"network_stream": Stream()},
        )

    run = proxied(timeout=0.01, reply=reply)
    try:
        assert run.get("/v1/videos/video_1").status_code == 504
        peer.settimeout(10)
        assert peer.recv(1) == b""  # the proxy shut its end: a blocked read wakes
    finally:
        mine.close()
        peer.close()


def test_a_proxy_bug_answers_in_each_provider_s_shape() -> None:
    run = proxied("gptproto-chat", reply=raising(RuntimeError("bug")))
    got = run.client.post("/v1/chat/completions", json={}, headers=AUTH)
    assert json.loads(got.get_data()) == {
        "error": {
            "message": "sora-mock proxy: internal error (RuntimeError)",
            "type": "502",
            "code": "proxy_error",
        }
    }


def test_the_upstream_s_trailing_slashes_are_dropped_once() -> None:
    run = proxied(upstream="http://upstream.test/MAX//")
    run.get("/v1/videos/video_1")
    assert str(run.upstream.requests[0].url) == "http://upstream.test/MAX/v1/videos/video_1"


def test_a_key_that_looks_like_nothing_is_still_kept_out_of_the_journal() -> None:
    key = "plainsecretvalue12345"
    run = proxied(reply=document({**VIDEO, "id": key}))
    run.get(f"/v1/videos/{key}", headers={"Authorization": f"Bearer {key}"})
    text = json.dumps(list(run.proxy.journal)) + run.console
    assert key not in text and "/v1/videos/[REDACTED]" in text


def test_a_recorded_poll_keeps_every_query_value(tmp_path: Any) -> None:
    from mockserver.conformance import cassettes

    run = proxied(record_dir=tmp_path, record_media_urls=False)
    run.post("/v1/videos", data=b"{}", content_type="application/json")
    run.get("/v1/videos/video_1?a=1&a=2")
    (path,) = cassettes.iter_files(tmp_path)
    assert json.loads(path.read_text())["polls"][0]["query"] == [["a", "1"], ["a", "2"]]
