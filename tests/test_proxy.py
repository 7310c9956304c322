"""``sora-mock proxy`` in front of a deliberately drifting upstream (every server on loopback).

The drifting upstream is the mock itself behind a small WSGI middleware: the request header
``X-Drift`` (which the proxy forwards like any other) picks what it breaks.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_helpers import CANARY, LIFECYCLES, proxy_in_front, serving
from providers import data_url, png

from mockserver.http.app import create_app
from mockserver.state.lifecycle import key_fingerprint
from mockserver.testing import SoraMock, test_config

HEADERS = {"Authorization": f"Bearer {CANARY}"}
GPTGE = LIFECYCLES["gptge"]

CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1767225601,
    "model": "sora-2",
    "choices": [
        {"index": 0, "delta": {"content": "> 🏃 Generating... 13%\n\n"}, "finish_reason": None}
    ],
}
BAD_CHUNK = {**CHUNK, "object": "chat.completion", "choices": "none"}
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def sse(document: Any) -> bytes:
    return f"data: {json.dumps(document)}\n\n".encode()


class Drifting:
    """WSGI middleware over the mock: ``X-Drift`` names the breakage; ``release`` holds a
    stream or a download after its first block until the test says so."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        drift = environ.get("HTTP_X_DRIFT", "")
        if drift in ("sse", "slow-sse", "late-sse"):
            return self._stream(start_response, bad=drift == "sse", late=drift == "late-sse")
        if drift == "slow-file":
            return self._file(start_response)
        if drift == "cdn-502":
            page = b"<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>"
            start_response("502 Bad Gateway", [("Content-Type", "text/html")])
            return [page]
        if drift == "echo-key":  # a provider that quotes the key back (OpenAI does)
            key = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
            error = {
                "message": f"Incorrect API key provided: {key}. Your token={key} is wrong.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [json.dumps({"error": error}).encode()]
        if drift == "html":
            page = b"<!doctype html><html><body>Welcome! Please sign in.</body></html>"
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [page]
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        body = b"".join(self.app(environ, keep))
        if drift in ("rename", "word"):
            document = json.loads(body)
            if drift == "rename":
                document["state"] = document.pop("status")
            else:
                document["status"] = "done"
            body = json.dumps(document).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _stream(
        self, start_response: Callable[..., Any], bad: bool, late: bool = False
    ) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        yield sse(BAD_CHUNK if bad else CHUNK)
        self.release.wait(10)
        if late:
            yield sse(BAD_CHUNK)
        yield sse({**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        yield b"data: [DONE]\n\n"
        self.finished.set()

    def _file(self, start_response: Callable[..., Any]) -> Iterator[bytes]:
        first = MP4_HEAD + b"\x00" * (64 * 1024 - len(MP4_HEAD))
        size = len(first) + 64 * 1024
        start_response(
            "200 OK",
            [
                ("Content-Type", "video/mp4"),
                ("Content-Length", str(size)),
                ("Accept-Ranges", "bytes"),
            ],
        )
        yield first
        self.release.wait(10)
        yield b"\x01" * (64 * 1024)
        self.finished.set()


@pytest.fixture(scope="module")
def drifting() -> Iterator[tuple[Drifting, SoraMock, str]]:
    app = create_app(test_config(fps=2, strict=False))
    drift = Drifting(app)
    with serving(drift) as base:
        yield drift, SoraMock(app, host=base), base


@pytest.fixture
def upstream(drifting: tuple[Drifting, SoraMock, str]) -> tuple[Drifting, SoraMock, str]:
    drift, mock, base = drifting
    mock.reset()
    drift.release.clear()
    drift.finished.clear()
    return drifting


def _job(client: httpx.Client) -> str:
    created = GPTGE.create(client, HEADERS)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


DRIFTS = {
    "rename": ("/status", "'status' is a required property"),
    "word": ("/status", "'done' is not one of"),
    "html": ("Content-Type", "text/html"),
}


# --------------------------------------------------------------------------- transparent


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_transparent_forwards_the_drift_untouched_and_reports_it(
    upstream: tuple[Drifting, SoraMock, str], drift: str
) -> None:
    _, mock, base = upstream
    console = io.StringIO()
    where, words = DRIFTS[drift]
    with proxy_in_front("gptge", base + "/gptge", out=console) as (proxy_base, proxy):
        with httpx.Client(base_url=proxy_base) as client:
            job = _job(client)
            proxied = client.get(f"/v1/videos/{job}", headers={**HEADERS, "X-Drift": drift})
        direct = httpx.get(f"{base}/gptge/v1/videos/{job}", headers={**HEADERS, "X-Drift": drift})
    assert proxied.status_code == direct.status_code == 200
    assert proxied.content == direct.content
    header = proxied.headers["X-Contract-Violations"]
    count, _, first = header.partition("; ")
    assert int(count) >= 1 and words.split("'")[0] in first and where.strip("/") in first
    entry = proxy.journal[-1]
    assert entry["violations"] and entry["status"] == 200
    assert any(words in v["message"] or where in v["where"] for v in entry["violations"])
    assert f"GET /v1/videos/{job} -> 200 DRIFT" in console.getvalue()
    assert CANARY not in console.getvalue() + header + json.dumps(list(proxy.journal))


def test_transparent_forwards_a_bad_sse_event_and_names_it(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    drift, _, base = upstream
    drift.release.set()
    with proxy_in_front("gptproto-chat", base + "/gptproto", out=io.StringIO()) as (pb, proxy):
        response = httpx.post(
            pb + "/v1/chat/completions",
            json=_chat_body(),
            headers={**HEADERS, "X-Drift": "sse"},
        )
    assert response.status_code == 200
    assert response.text.startswith(sse(BAD_CHUNK).decode()) and "[DONE]" in response.text
    assert response.headers["X-Contract-Violations"].startswith(
        ("1; SSE event 1", "2; SSE event 1")
    )
    assert proxy.journal[-1]["violations"][0]["where"].startswith("SSE event 1")


# --------------------------------------------------------------------------- strict


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_strict_answers_502_in_the_providers_shape_naming_the_drift(
    upstream: tuple[Drifting, SoraMock, str], drift: str
) -> None:
    _, _, base = upstream
    where, words = DRIFTS[drift]
    with proxy_in_front("gptge", base + "/gptge", mode="strict", out=io.StringIO()) as (pb, _):
        with httpx.Client(base_url=pb) as client:
            job = _job(client)
            answer = client.get(f"/v1/videos/{job}", headers={**HEADERS, "X-Drift": drift})
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}  # gpt.ge's (OpenAI's) shape
    assert error["code"] == "contract_violation"
    assert "strict" in error["message"] and words.split("'")[0] in error["message"]


def test_strict_answers_502_for_a_bad_first_sse_event(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    drift, _, base = upstream
    drift.release.set()
    with proxy_in_front("gptproto-chat", base + "/gptproto", mode="strict") as (pb, _):
        answer = httpx.post(
            pb + "/v1/chat/completions", json=_chat_body(), headers={**HEADERS, "X-Drift": "sse"}
        )
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["type"] == "502"  # GPTProto's shape: the status as a string
    assert "SSE event 1" in error["message"]


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
def test_strict_ends_a_stream_at_a_later_bad_event_with_the_providers_error(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    from openai import APIError, OpenAI

    drift, _, base = upstream
    drift.release.set()
    with proxy_in_front("gptproto-chat", base + "/gptproto", mode="strict") as (pb, proxy):
        answer = httpx.post(
            pb + "/v1/chat/completions",
            json=_chat_body(),
            headers={**HEADERS, "X-Drift": "late-sse"},
        )
        client = OpenAI(api_key=CANARY, base_url=pb + "/v1", max_retries=0)
        with pytest.raises(APIError, match="SSE event 2"):  # the openai package raises on it
            for _ in client.chat.completions.create(
                model="sora-2",
                messages=_chat_body()["messages"],
                stream=True,
                extra_headers={"X-Drift": "late-sse"},
            ):
                pass
        client.close()
    assert answer.status_code == 200  # the status line had gone out with the good event
    events = [line for line in answer.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[0].removeprefix("data: ")) == CHUNK
    error = json.loads(events[-1].removeprefix("data: "))["error"]
    assert error["code"] == "contract_violation" and "SSE event 2" in error["message"]
    assert "[DONE]" not in answer.text
    assert proxy.journal[-1]["violations"][0]["where"].startswith("SSE event 2")


def test_strict_refuses_a_request_the_contract_refuses_without_forwarding_it(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    _, mock, base = upstream
    with proxy_in_front("gptge", base + "/gptge", mode="strict", out=io.StringIO()) as (pb, _):
        answer = httpx.post(
            pb + "/v1/videos", files={"prompt": (None, "no image")}, headers=HEADERS
        )
    assert answer.status_code == 400
    assert "input_reference" in answer.json()["error"]["message"]
    assert "not forwarded" in answer.json()["error"]["message"]
    assert mock.journal == []


# --------------------------------------------------------------------------- streaming


def test_the_first_sse_event_reaches_the_client_before_the_upstream_finishes(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    drift, _, base = upstream
    with proxy_in_front("gptproto-chat", base + "/gptproto", out=io.StringIO()) as (pb, proxy):
        started = time.perf_counter()
        with httpx.stream(
            "POST",
            pb + "/v1/chat/completions",
            json=_chat_body(),
            headers={**HEADERS, "X-Drift": "slow-sse"},
            timeout=10,
        ) as response:
            lines = response.iter_lines()
            first = next(lines)
            first_seconds = time.perf_counter() - started
            assert not drift.finished.is_set()  # the upstream is still holding the rest
            drift.release.set()
            rest = list(lines)
    assert json.loads(first.removeprefix("data: ")) == CHUNK
    assert "data: [DONE]" in rest
    assert response.headers["X-Contract-Violations"] == "0"
    assert proxy.journal[-1]["violations"] == []
    assert first_seconds < 5


def test_a_download_is_forwarded_chunk_by_chunk(upstream: tuple[Drifting, SoraMock, str]) -> None:
    drift, _, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, proxy):
        with httpx.Client(base_url=pb, timeout=10) as client:
            job = _job(client)
            with client.stream(
                "GET", f"/v1/videos/{job}/content", headers={**HEADERS, "X-Drift": "slow-file"}
            ) as response:
                chunks = response.iter_raw()
                head = next(chunks)
                assert not drift.finished.is_set()
                drift.release.set()
                body = head + b"".join(chunks)
    assert body.startswith(MP4_HEAD) and len(body) == 128 * 1024
    assert response.headers["Content-Length"] == str(128 * 1024)


# --------------------------------------------------------------------------- failures


def test_an_upstream_5xx_page_reaches_the_client_in_the_providers_shape(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    _, _, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, _):
        answer = httpx.get(pb + "/v1/videos/video_1", headers={**HEADERS, "X-Drift": "cdn-502"})
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_error"
    assert "answered 502" in error["message"] and "text/html" in error["message"]
    assert "502 Bad Gateway" in error["message"]


def test_an_unreachable_upstream_is_a_502_naming_it() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with proxy_in_front("vtrix", f"http://127.0.0.1:{port}", out=io.StringIO()) as (pb, _):
        answer = httpx.get(pb + "/model/v1/generation/task/video_1", headers=HEADERS)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert set(error) == {"code", "error_message"}  # Vtrix's shape
    assert "could not be reached (ConnectError)" in error["error_message"]


def test_an_upstream_timeout_is_a_504_naming_it() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    transport = httpx.MockTransport(hang)
    with proxy_in_front(
        "gptproto-videos", "http://provider.invalid", transport=transport, out=io.StringIO()
    ) as (pb, proxy):
        answer = httpx.get(pb + "/v1/videos/video_1", headers=HEADERS)
    assert answer.status_code == 504
    assert answer.json()["error"]["type"] == "504"
    assert "timed out (ReadTimeout)" in answer.json()["error"]["message"]
    assert proxy.journal[-1]["error"]


# --------------------------------------------------------------------------- credentials, openai


def test_a_key_the_upstream_echoes_reaches_no_file(
    upstream: tuple[Drifting, SoraMock, str], tmp_path: Path
) -> None:
    _, _, base = upstream
    console = io.StringIO()
    with proxy_in_front("gptge", base + "/gptge", record_dir=tmp_path, out=console) as (pb, p):
        with httpx.Client(base_url=pb) as client:
            refused = GPTGE.create(client, {**HEADERS, "X-Drift": "echo-key"})
    assert refused.status_code == 401 and CANARY in refused.text  # forwarded untouched
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert [path.suffix for path in written] == [".json"]  # the refused create, recorded
    for path in written:
        assert CANARY.encode() not in path.read_bytes()
    assert "Incorrect API key provided" in written[0].read_text()
    assert CANARY not in console.getvalue() + json.dumps(list(p.journal))


def test_credentials_pass_through_unchanged(upstream: tuple[Drifting, SoraMock, str]) -> None:
    _, mock, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, _):
        with httpx.Client(base_url=pb) as client:
            _job(client)
    assert mock.journal[-1]["key"] == key_fingerprint(CANARY)


@pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")
def test_the_openai_package_works_unchanged_through_the_proxy(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    from openai import OpenAI

    _, mock, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, proxy):
        client = OpenAI(api_key=CANARY, base_url=pb + "/v1", max_retries=0)
        video = client.videos.create(
            model="sora-2",
            prompt="A cat in a hat",
            seconds="4",
            size="720x1280",
            input_reference=("cat.png", png(720, 1280), "image/png"),
        )
        mock.advance(30)
        assert client.videos.retrieve(video.id).status == "completed"
        content = client.videos.download_content(video.id).read()
        client.close()
    assert content[4:8] == b"ftyp"
    assert all(entry["violations"] == [] for entry in proxy.journal)


def _chat_body() -> dict[str, Any]:
    return {
        "model": "sora-2",
        "stream": True,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A cat"},
                    {"type": "image_url", "image_url": {"url": data_url(png(720, 1280))}},
                ],
            }
        ],
    }


def test_a_bug_in_the_proxy_is_a_502_in_the_providers_shape(
    upstream: tuple[Drifting, SoraMock, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.conformance import proxy as proxy_module

    def broken(*_: Any) -> list[Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(proxy_module, "request_drift", broken)
    _, _, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, _):
        answer = httpx.get(pb + "/v1/videos/video_1", headers=HEADERS)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "proxy_error"
    assert "RuntimeError" in answer.json()["error"]["message"]


def test_a_read_the_contract_refuses_is_reported_as_request_drift(
    upstream: tuple[Drifting, SoraMock, str],
) -> None:
    _, _, base = upstream
    with proxy_in_front("gptge", base + "/gptge", out=io.StringIO()) as (pb, proxy):
        answer = httpx.get(pb + "/v1/videos?limit=500", headers=HEADERS)
    # transparent: forwarded, the mock's own 400 comes back, and the proxy names the cause
    assert answer.status_code == 400
    assert answer.headers["X-Contract-Violations"].startswith("1; request limit:")
    assert "500 is greater than the maximum of 100" in proxy.journal[-1]["violations"][0]["message"]
