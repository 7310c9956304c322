"""The proxy run in-process: a :class:`ContractProxy` whose upstream is an ``httpx``
transport answering from the test, called through Werkzeug's test client.

No socket and no thread: each answer is a list of chunks (and, if the test says so, an error
raised after them), so a test decides exactly what arrives and in what pieces.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from werkzeug.test import Client, TestResponse

from mockserver.conformance.proxy import ContractProxy
from mockserver.conformance.proxy_config import ProxyConfig

KEY = "sk-proxy-fake-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
UPSTREAM = "http://upstream.test/base"
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
BAD_CHUNK = {**CHUNK, "object": "chat.completion"}
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def sse(document: Any) -> bytes:
    return f"data: {json.dumps(document)}\n\n".encode()


class Chunks(httpx.SyncByteStream):
    """An answer's body as the upstream sends it: these chunks, then perhaps an error."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def answer(
    status: int = 200,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    *chunks: bytes,
    error: Exception | None = None,
) -> httpx.Response:
    return httpx.Response(
        status,
        headers=headers if headers is not None else {"Content-Type": "application/json"},
        stream=Chunks(list(chunks), error),
    )


def document(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return answer(
        status,
        {"Content-Type": "application/json", **headers},
        json.dumps(body).encode(),
    )


@dataclass
class Upstream:
    """The upstream's side: every request it got (its body read) and what it answers."""

    reply: Callable[[httpx.Request], httpx.Response] = lambda request: document(VIDEO)
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        return self.reply(request)


@dataclass
class Proxied:
    proxy: ContractProxy
    upstream: Upstream
    out: io.StringIO
    client: Client

    def get(self, path: str, **options: Any) -> TestResponse:
        options.setdefault("headers", AUTH)
        return self.client.get(path, **options)

    def post(self, path: str, **options: Any) -> TestResponse:
        options.setdefault("headers", AUTH)
        return self.client.post(path, **options)

    @property
    def console(self) -> str:
        return self.out.getvalue()

    @property
    def entry(self) -> dict[str, Any]:
        return self.proxy.journal[-1]


def proxied(
    provider: str = "gptge",
    reply: Callable[[httpx.Request], httpx.Response] | httpx.Response | None = None,
    **config: Any,
) -> Proxied:
    if isinstance(reply, httpx.Response):
        fixed = reply
        upstream = Upstream(lambda request: fixed)
    else:
        upstream = Upstream(reply) if reply is not None else Upstream()
    out = io.StringIO()
    config.setdefault("upstream", UPSTREAM)
    proxy = ContractProxy(
        ProxyConfig(provider, **config),
        transport=httpx.MockTransport(upstream),
        out=out,
        clock=iter(range(1000, 10**6)).__next__,
    )
    return Proxied(proxy, upstream, out, Client(_status_checked(proxy)))


def _status_checked(app: Any) -> Any:
    """The proxy as a server sees it: a status that is not ``"<code> <words>"`` (text) fails
    the test (Werkzeug's test client would take a missing status for 200)."""

    def checked(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: Any, headers: Any, *exc_info: Any) -> Any:
            assert isinstance(status, str), status
            code, _, words = status.partition(" ")
            assert code.isdigit() and len(code) == 3 and words, status
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers), headers
            return start_response(status, headers, *exc_info)

        return app(environ, start)

    return checked


def error_of(response: TestResponse) -> dict[str, Any]:
    body = json.loads(response.get_data())
    return dict(body["error"])


def noted_deadlines(monkeypatch: Any) -> list[Any]:
    """Make the proxy's deadlines say when they pass (each has a ``passed`` event); the list
    fills with every deadline the proxy makes."""
    import threading

    from mockserver.conformance import bounds
    from mockserver.conformance import proxy as proxy_module

    made: list[Any] = []

    class Noted(bounds.Deadline):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.passed = threading.Event()
            made.append(self)

        def expire(self) -> None:
            super().expire()
            self.passed.set()

    monkeypatch.setattr(proxy_module, "Deadline", Noted)
    return made


def late(deadlines: list[Any], *before: bytes, content_type: str = "application/json") -> Any:
    """An upstream that sends ``before``, then breaks once the proxy's deadline has passed."""

    class Late(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from before
            assert deadlines[-1].passed.wait(10)
            raise httpx.ReadError("shut by the deadline")

    return lambda request: httpx.Response(
        200, headers={"Content-Type": content_type}, stream=Late()
    )
