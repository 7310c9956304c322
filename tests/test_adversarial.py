"""The standing adversarial suite: hostile input against every operation, and pressure on a
real server process (memory, idle connections, waiting chat requests).

In-process (Flask app) where the app decides; against ``sora-mock serve`` (tests/served.py)
where the server process does. Loopback only, bounded, no sleeps beyond a few seconds.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from queue import Queue

import httpx
import pytest
from flask import Flask
from served import Served, served

import contracts
from mockserver.http.app import create_app, service_of
from mockserver.providers import registered
from mockserver.testing import test_config

KEY = "sk-adversary"
AUTH = {"Authorization": f"Bearer {KEY}"}
#: the JSON size limit of the fuzzed app: small, so "huge" bodies stay cheap to send
JSON_LIMIT = 64 * 1024


def every_operation() -> list[tuple[str, str, str, bool]]:
    """(id, method, concrete path, takes a body) of every operation of every contract."""
    prefixes = {name: cls.prefix for name, cls in registered().items()}
    out = []
    for name, contract in sorted(contracts.load_all().items()):
        prefix = prefixes.get(name)
        for op in contract.operations.values():
            path = re.sub(r"\{[^}]+\}", "video_0000", op.path)
            out.append(
                (
                    f"{name}:{op.operation_id}",
                    op.method,
                    f"/{prefix}{path}" if prefix else path,
                    "requestBody" in op.definition,
                )
            )
    return out


def multipart(*parts: bytes, close: bool = True) -> bytes:
    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (n, v)
        for n, v in zip(parts[::2], parts[1::2], strict=True)
    )
    return body + (b"--b--\r\n" if close else b"")


JSON = "application/json"
MULTIPART = "multipart/form-data; boundary=b"
HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep-array": (b"[" * 5000 + b"]" * 5000, JSON),
    "deep-object": (b'{"a":' * 3000 + b"1" + b"}" * 3000, JSON),
    "deep-unclosed": (b"[" * 20000, JSON),
    "huge-string": (b'{"prompt": "' + b"x" * (JSON_LIMIT + 10) + b'"}', JSON),
    "invalid-utf8": (b'{"prompt": "\xff\xfe\xc3", "model": "sora-2"}', JSON),
    "lone-surrogates": (b'{"prompt": "\\ud800", "model": "\\udfff", "\\ud800": 1}', JSON),
    "nan-infinity": (b'{"seconds": NaN, "duration": Infinity, "times": -Infinity}', JSON),
    "overflowing-float": (b'{"seconds": 1e999, "duration": -1e400}', JSON),
    "huge-integer": (b'{"seconds": 1' + b"0" * 5000 + b"}", JSON),
    "nul-bytes": (b'{"prompt": "a\\u0000b", "model": "sora-2\\u0000"}', JSON),
    "bom-json": (b'\xef\xbb\xbf{"prompt": "a"}', JSON),
    "utf16-json": ('{"prompt": "a"}'.encode("utf-16"), "application/json; charset=utf-16"),
    "empty-json": (b"", JSON),
    "scalar-json": (b'"just a string"', JSON),
    "truncated-json": (b'{"prompt": "a", "model": ', JSON),
    "truncated-multipart": (
        multipart(b"prompt", b"a cat", b"model", b"sora-2", close=False),
        MULTIPART,
    ),
    "multipart-invalid-utf8": (
        multipart(b"prompt", b"\xff\xfe\xfd", b"model", b"\xc3("),
        MULTIPART,
    ),
    "multipart-no-boundary": (multipart(b"prompt", b"a"), "multipart/form-data"),
    "multipart-many-parts": (multipart(*[b"p%d" % i for i in range(300)]), MULTIPART),
    "multipart-as-json": (multipart(b"prompt", b"a"), JSON),
    "json-as-multipart": (b'{"prompt": "a"}', MULTIPART),
    "json-as-text": (b'{"prompt": "a"}', "text/plain"),
    "xml": (b"<video><prompt>a</prompt></video>", "application/xml"),
    "garbage-image": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
    "form-urlencoded": (b"prompt=%ff%fe&seconds=NaN", "application/x-www-form-urlencoded"),
    "no-content-type": (b'{"prompt": "a"}', ""),
}
#: what an operation that takes no body is sent (it must still not parse its way to a 5xx)
STRAY_BODIES = [
    "deep-array",
    "invalid-utf8",
    "lone-surrogates",
    "nan-infinity",
    "truncated-multipart",
]
HOSTILE_QUERIES = [
    "?limit=NaN&after=%ff%fe&order=%00",
    "?limit=1e999&after=" + "a" * 5000,
    "?variant=%ED%A0%80&api=%ud800",
]
HOSTILE_IDS = ["%ff%fe", "%ED%A0%80", "a" * 5000, "..%2F..%2Fetc", "%00"]


@pytest.fixture(scope="module")
def fuzzed_app() -> Flask:
    app = create_app(test_config(max_json_bytes=JSON_LIMIT, strict=False))
    service_of(app).sleep = lambda seconds: None  # the `slow` scenario, when a header asks
    return app


@pytest.fixture(scope="module")
def fuzz_client(fuzzed_app: Flask) -> Iterator[httpx.Client]:
    transport = httpx.WSGITransport(app=fuzzed_app)
    with httpx.Client(base_url="http://mock.test", transport=transport, headers=AUTH) as client:
        yield client


def assert_no_server_error(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    assert "Traceback" not in response.text


def assert_every_read_answers(client: httpx.Client) -> None:
    """/__mock/jobs and every list (every GET without a path parameter) still answer 200."""
    for op_id, method, path, _ in every_operation():
        if method == "get" and "video_0000" not in path:
            response = client.get(path)
            assert response.status_code == 200, (op_id, response.text[:300])
    assert client.get("/__mock/jobs").json()["data"] is not None


OPERATIONS = {op[0]: op[1:] for op in every_operation()}


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_hostile_bodies_never_get_a_5xx(
    fuzz_client: httpx.Client, fuzzed_app: Flask, op_id: str
) -> None:
    method, path, takes_body = OPERATIONS[op_id]
    service = service_of(fuzzed_app)
    errors_before = service.error_count
    for name in HOSTILE if takes_body else STRAY_BODIES:
        content, content_type = HOSTILE[name]
        headers = {"content-type": content_type} if content_type else {}
        response = fuzz_client.request(method.upper(), path, content=content, headers=headers)
        assert_no_server_error(response, name)
        if name.startswith("deep"):
            assert response.status_code in (400, 415), (name, response.text[:300])
    for query in HOSTILE_QUERIES:
        assert_no_server_error(fuzz_client.request(method.upper(), path + query), query)
    if "video_0000" in path:
        # Werkzeug's own client: it passes raw percent-escapes the way a real server does
        raw = fuzzed_app.test_client()
        for bad_id in HOSTILE_IDS:
            hostile = raw.open(path.replace("video_0000", bad_id), method=method, headers=AUTH)
            assert hostile.status_code < 500, (bad_id, hostile.status_code, hostile.text[:300])
    assert service.error_count == errors_before
    assert_every_read_answers(fuzz_client)


def test_hostile_headers_never_get_a_5xx(fuzz_client: httpx.Client) -> None:
    for headers in (
        {"Authorization": "Bearer " + "k" * 10000},
        {"Authorization": "Bearer \x7f\x01"},
        {"X-Mock-Scenario": "slow:" + "9" * 5000},
        {"X-Mock-Scenario": "\x00"},
        {"Content-Length": "-1"},
        {"Content-Type": "multipart/form-data; boundary=" + "b" * 5000},
    ):
        for path in ("/gptge/v1/videos", "/vtrix/model/v1/generation"):
            response = fuzz_client.post(path, content=b"{}", headers=headers)
            assert_no_server_error(response, str(headers)[:80])
    assert_every_read_answers(fuzz_client)


# ------------------------------------------------------------------ a real server process


DEEP_BODY = b'{"messages": [' + b"[" * (256 * 1024) + b"]}"
NAN_BODY = b'{"seconds": NaN, "pad": "' + b"x" * (256 * 1024) + b'"}'


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    """One real server for the tests below (starting one costs seconds); each resets it."""
    # one worker: the chat waiting limit below is per process
    with served("--clock", "virtual", "--max-waiting-chats", "4", workers=1) as process:
        yield process


def test_failing_requests_do_not_grow_the_server_memory(server: Served) -> None:
    """Each deep-JSON request used to keep a 500's traceback (and its body) for ever."""
    with httpx.Client(timeout=30) as client:
        targets = [
            (f"{server.base}/__mock/clock/advance", DEEP_BODY),
            (f"{server.base}/gptproto/v1/chat/completions", DEEP_BODY),
            (f"{server.base}/vtrix/model/v1/generation", NAN_BODY),
        ]

        def hammer(rounds: int) -> None:
            for i in range(rounds):
                url, body = targets[i % len(targets)]
                response = client.post(url, content=body, headers=AUTH | {"content-type": JSON})
                assert response.status_code == 400, response.text[:200]

        hammer(15)  # warm-up: allocator arenas, caches, lazy imports
        before = server.rss_kib()
        hammer(90)
        growth_mib = (server.rss_kib() - before) / 1024
        assert growth_mib < 20, f"RSS grew {growth_mib:.0f} MiB over 90 failing 256 KB requests"
        assert client.get(f"{server.base}/__mock/jobs").status_code == 200


def test_hundreds_of_idle_connections_do_not_stop_a_poll(server: Served) -> None:
    base = server.base
    host, port = base.removeprefix("http://").split(":")
    idle: list[socket.socket] = []
    try:
        for i in range(300):
            sock = socket.create_connection((host, int(port)), timeout=5)
            if i % 3 == 1:  # a request line and half its headers
                sock.sendall(b"GET /__mock/health HTTP/1.1\r\nHost: x\r\n")
            elif i % 3 == 2:  # headers promising a body that never comes
                sock.sendall(
                    b"POST /gptge/v1/videos HTTP/1.1\r\nHost: x\r\nContent-Length: 100000"
                    b"\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
                )
            idle.append(sock)
        started = time.monotonic()
        with httpx.Client(timeout=5, headers=AUTH) as client:
            poll = client.get(f"{base}/gptge/v1/videos/video_0000")
            assert poll.status_code == 404
            assert client.get(f"{base}/__mock/health").status_code == 200
        assert time.monotonic() - started < 5
    finally:
        for sock in idle:
            sock.close()


def chat(base: str, stream: bool, timeout: float = 30) -> httpx.Response:
    body = {
        "model": "sora-2",
        "stream": stream,
        "messages": [{"role": "user", "content": "a cat, duration: 4 seconds"}],
    }
    return httpx.post(
        f"{base}/gptproto/v1/chat/completions", json=body, headers=AUTH, timeout=timeout
    )


def test_waiting_chat_requests_never_stop_the_clock_being_advanced(server: Served) -> None:
    """Twelve chat requests wait for a virtual clock; the advance that frees them is served."""
    base = server.base
    assert httpx.post(f"{base}/__mock/reset", headers={"X-Mock-Client": "test"}).status_code == 200
    answers: Queue[int | str] = Queue()

    def wait_for_video() -> None:
        try:
            answers.put(chat(base, stream=False).status_code)
        except httpx.HTTPError as exc:
            answers.put(type(exc).__name__)

    threads = [threading.Thread(target=wait_for_video, daemon=True) for _ in range(12)]
    for thread in threads:
        thread.start()
    # the requests over the waiting limit are refused at once, before any job exists
    refused = [answers.get(timeout=10) for _ in range(8)]
    assert refused == [429] * 8
    advanced = httpx.post(f"{base}/__mock/clock/advance", json={"seconds": 600}, timeout=5)
    assert advanced.status_code == 200
    done = [answers.get(timeout=10) for _ in range(4)]
    assert done == [200] * 4
    for thread in threads:
        thread.join(timeout=5)
    jobs = httpx.get(f"{base}/__mock/jobs").json()["data"]
    assert len(jobs) == 4 and {j["status"] for j in jobs} == {"completed"}
