"""What the client tests share (a test module imports the ``*_fixture`` functions it uses;
pytest finds them by their ``name``): one way to build a sync or async client (the ``flavor``
fixture), the mock app they run against, fake keys, images, and a respx router that checks
every request against the provider's contract.

The async client is driven through the same blocking facade as the sync one (an
``asyncio.Runner`` per client), so every behavioural test runs unchanged for both.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import io
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from asgiref.wsgi import WsgiToAsgi
from flask import Flask
from PIL import Image

import contracts
from contracts._declaration import fill
from mockserver import media
from mockserver.app import create_app, service_of
from mockserver.testing import SoraMock, test_config
from sora_client import AsyncSoraClient, Job, SoraClient
from sora_client._providers import PROVIDERS

PROVIDER_IDS = tuple(PROVIDERS)
#: provider id -> the mock's prefix
PREFIX = {name: contracts.PROVIDER_CONTRACTS[cls.contract_name] for name, cls in PROVIDERS.items()}
CONTRACT = {name: cls.contract_name for name, cls in PROVIDERS.items()}
#: the key every test sends: recognizable, so a leak is easy to spot
KEY = "sk-test-LEAKCANARY-7f3a9c1e5d"
RESPX_BASE = "https://provider.test/api"
#: where the fake providers say their videos are (another origin: no key is sent there)
CDN = "https://cdn.provider.test"
MAX_RETRIES = 3


def png(width: int, height: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


@functools.cache
def image(width: int, height: int) -> bytes:
    """A cached PNG of this size (hypothesis draws sizes; encoding 1792 px costs ~20 ms)."""
    return png(width, height)


def declared_model(provider: str) -> Any:
    """A declared provider's first model (sizes, durations), or None for a Python adapter."""
    declaration = getattr(PROVIDERS[provider], "declaration", None)
    return declaration.models[0] if declaration is not None else None


#: a create that every provider accepts on the mock: (kwargs for create)
def good_create(provider: str) -> dict[str, Any]:
    model = declared_model(provider)
    if model is not None:  # what its declaration says it takes
        width, height = map(int, model.sizes[0].split("x"))
        return {"image": image(width, height), "seconds": model.durations[0], "model": model.id}
    return {
        "gptproto-v3": {"image": image(720, 1280), "seconds": 10},
        "gptproto-videos": {"image": image(1280, 720), "seconds": 4},
        "gptproto-chat": {"image": image(720, 1280), "seconds": 1},
        "gptge": {"image": image(720, 1280), "seconds": 4},
        "vtrix": {"image": image(1280, 720), "seconds": 4},
    }[provider]


# ---------------------------------------------------------------------- the mock


def fast_renders(app: Flask) -> None:
    """Render each (variant, image, size, duration) once for this app: the state machine
    downloads many videos of the same shape, and a render costs ~0.2 s even at 1 fps. Only
    this app's service is patched; ``mockserver.media`` itself is untouched."""
    service = service_of(app)
    original = service._render
    cache: dict[tuple[Any, ...], bytes] = {}
    lock = threading.Lock()

    def render(job: Any, variant: str) -> bytes:
        blob = service.image_of(job)
        key = (variant, hash(blob), job.width, job.height, job.seconds)
        with lock:
            if key not in cache:
                cache[key] = original(job, variant)
            return cache[key]

    service._render = render  # type: ignore[method-assign]


@pytest.fixture(scope="session", name="client_app")
def client_app_fixture() -> Flask:
    """The mock for client tests: virtual clock, strict, 1 fps videos."""
    app = create_app(test_config(fps=1))
    fast_renders(app)
    return app


@pytest.fixture(name="mock")
def mock_fixture(client_app: Flask) -> Iterator[SoraMock]:
    """The mock, reset before the test; server errors and contract breaches re-raised after."""
    handle = SoraMock(client_app)
    handle.reset()
    recorded: list[float] = []
    handle.service.sleep = recorded.append  # the `slow` scenario never really sleeps
    yield handle
    handle.check()


def fresh(mock: SoraMock) -> SoraMock:
    """Reset between hypothesis examples (the fixture resets only per test)."""
    mock.reset()
    mock.service.sleep = lambda seconds: None
    return mock


def clock_pump(mock: SoraMock, step: float = 0.25) -> Any:
    """Chat mode blocks inside the server while its job renders (and httpx's ASGITransport
    buffers the whole stream): nothing on the client side can advance the clock then. Within
    this block the mock's clock steps ``step`` seconds each time it is read, so the stream
    ends without real time passing."""
    return mock.stepping(step)


def posts(mock: SoraMock) -> int:
    return sum(1 for e in mock.journal if e["method"] == "POST")


# ---------------------------------------------------------------------- sync and async


class AsyncFacade:
    """An AsyncSoraClient driven from blocking code: each call runs on one asyncio.Runner."""

    def __init__(self, client: AsyncSoraClient) -> None:
        self.client = client
        self.runner = asyncio.Runner()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.runner.run(attr(*args, **kwargs))

        return call

    def close(self) -> None:
        try:
            self.runner.run(self.client.aclose())
        finally:
            self.runner.close()


@dataclass(frozen=True)
class Flavor:
    """``sync`` or ``async``: how a test builds its client."""

    name: str

    @property
    def is_async(self) -> bool:
        return self.name == "async"

    def transport_for_app(self, app: Flask) -> Any:
        if self.is_async:
            return httpx.ASGITransport(app=WsgiToAsgi(app))
        return httpx.WSGITransport(app=app)

    @contextmanager
    def client(
        self,
        provider: str,
        *,
        app: Flask | None = None,
        transport: Any = None,
        base_url: str | None = None,
        api_key: str = KEY,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """A client (sync, or the async one behind a blocking facade). ``app``: the mock,
        in-process; ``transport``: anything httpx takes (e.g. a respx MockTransport)."""
        if app is not None:
            transport = self.transport_for_app(app)
            base_url = base_url or f"http://sora-mock.test/{PREFIX[provider]}"
        kwargs.setdefault("sleep", lambda seconds: None)
        if self.is_async:
            facade = AsyncFacade(
                AsyncSoraClient(provider, api_key, base_url=base_url, transport=transport, **kwargs)
            )
            try:
                yield facade
            finally:
                facade.close()
        else:
            client = SoraClient(provider, api_key, base_url=base_url, transport=transport, **kwargs)
            try:
                yield client
            finally:
                client.close()


@pytest.fixture(name="never_really_sleep")
def never_really_sleep_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that ignored its injected ``sleep`` would wait for real: fail at once. Only
    in the test's own thread: ``time.sleep`` is the process's, and another app's background
    threads (a metrics flusher, a journal writer) go on sleeping for real."""
    import sora_client._client as client_module

    test_thread = threading.get_ident()
    sleep = time.sleep

    def real_sleep(seconds: float) -> None:
        if threading.get_ident() != test_thread:
            return sleep(seconds)
        raise AssertionError(f"the client slept {seconds} s for real")

    async def real_async_sleep(seconds: float) -> None:
        raise AssertionError(f"the client slept {seconds} s for real")

    monkeypatch.setattr(client_module.time, "sleep", real_sleep)
    monkeypatch.setattr(client_module.asyncio, "sleep", real_async_sleep)


FLAVORS = (Flavor("sync"), Flavor("async"))


@pytest.fixture(scope="session", params=FLAVORS, ids=lambda f: f.name, name="flavor")
def flavor_fixture(request: pytest.FixtureRequest) -> Flavor:
    """Every test that takes ``flavor`` runs once with SoraClient, once with AsyncSoraClient."""
    flavor: Flavor = request.param
    return flavor


# ---------------------------------------------------------------------- respx, contract-checked


@dataclass
class ContractRouter:
    """A respx router whose every request is validated against the provider's contract
    before its side effect answers; ``problems`` collects violations (a test asserts none)."""

    provider: str
    #: False: only route and record (when a test is about answers, not requests)
    validate: bool = True
    router: respx.Router = field(
        default_factory=lambda: respx.Router(assert_all_called=False, base_url=RESPX_BASE)
    )
    problems: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def check(self, request: httpx.Request) -> None:
        self.requests.append(request)
        if not self.validate:
            return
        contract = contracts.load(CONTRACT[self.provider])
        try:
            contract.validate_request(
                contracts.request_from_httpx(request, strip_prefix=httpx.URL(RESPX_BASE).path)
            )
        except contracts.ContractViolation as exc:
            self.problems.append(f"{request.method} {request.url.path}: {exc}")

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith(httpx.URL(RESPX_BASE).path):
                self.check(request)
            return self.router.handler(request)

        return httpx.MockTransport(handler)

    def posts(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST")


def routes_for(provider: str) -> dict[str, str]:
    """Path patterns (regex) of the create, status and content operations (a declared
    provider's from its operations' roles)."""
    declaration = getattr(PROVIDERS[provider], "declaration", None)
    if declaration is not None:
        contract = contracts.load(declaration.contract)
        kinds = {"create": "create", "read": "get", "content": "content"}
        return {
            kinds[role.role]: re.sub(
                r"\\\{[^}]+\\\}", "[^/]+", re.escape(contract.operation(op).path)
            )
            + "$"
            for op, role in declaration.roles.items()
            if role.role in kinds
        }
    return {
        "gptproto-v3": {
            "create": r"/api/v3/openai/reverse/[^/]+/image-to-video",
            "get": r"/api/v3/predictions/[^/]+/result",
        },
        "gptproto-videos": {
            "create": r"/v1/videos$",
            "get": r"/v1/videos/[^/]+$",
            "content": r"/v1/videos/[^/]+/content",
        },
        "gptge": {
            "create": r"/v1/videos$",
            "get": r"/v1/videos/[^/]+$",
            "content": r"/v1/videos/[^/]+/content",
        },
        "vtrix": {
            "create": r"/model/v1/generation$",
            "get": r"/model/v1/generation/task/[^/]+",
        },
        "gptproto-chat": {"create": r"/v1/chat/completions"},
    }[provider]


def route(cr: ContractRouter, method: str, kind: str) -> respx.Route:
    return cr.router.route(method=method, path__regex=routes_for(cr.provider)[kind])


# ---------------------------------------------------------------------- provider bodies


def job_body(provider: str, status: str, job_id: str = "job_1", progress: float = 0.5) -> Any:
    """A status body in the provider's words (neutral ``status`` in); a declared provider's
    is its job template filled in."""
    declaration = getattr(PROVIDERS[provider], "declaration", None)
    if declaration is not None:
        done = status == "completed"
        values = {
            "job.id": job_id,
            "job.model": declaration.models[0].id,
            "job.prompt": "p",
            "job.seconds": declaration.models[0].durations[0],
            "job.size": declaration.models[0].sizes[0],
            "job.width": int(declaration.models[0].sizes[0].split("x")[0]),
            "job.height": int(declaration.models[0].sizes[0].split("x")[1]),
            "job.created_at": 1766556441,
            "status": declaration.statuses[status],
            "progress": 1.0 if done else progress,
            "progress_percent": 100 if done else int(progress * 100),
            "completed_at": 1766556500 if done else None,
            "expires_at": None,
            "base_url": RESPX_BASE,
            "video_url": f"{CDN}/files/{job_id}.mp4",
            "cost": 0.5,
            # a failed job says the declared failure (Vtrix's 003000095, as its body had here)
            "error.code": declaration.failure[0] if status == "failed" else None,
            "error.message": declaration.failure[1] if status == "failed" else None,
            "job.seconds_text": str(declaration.models[0].durations[0]),
            "cost_text": "0.5000",
            "job.notes": [],
            "job.remixed_from": None,
            "job.created_at_text": "2026-01-01 00:00:00",
            "job.notes_text": "",
            "elapsed_ms": 0,
            "job.created_at_unix_text": "1766556441",
            "completed_at_unix_text": "1766556500" if done else None,
            "expires_at_unix_text": "1766560100" if done else None,
            "poll_after_ms": 1000,
            # the first model's own values ({model.quality}), null where it has none
            **{
                f"model.{name}": declaration.models[0].values.get(name)
                for model in declaration.models
                for name in model.values
            },
        }
        return fill(declaration.job, values, status)
    body = {
        "id": job_id,
        "object": "video",
        "status": status,
        "model": "sora-2",
        "progress": 100 if status == "completed" else int(progress * 100),
        "seconds": "4",
        "size": "720x1280",
        "created_at": 1766556441 if provider == "gptge" else "1766556441",
        "error": {"code": "video_generation_failed", "message": "it broke"}
        if status == "failed"
        else None,
    }
    return body


def create_body(provider: str, job_id: str = "job_1") -> Any:
    return job_body(provider, "queued", job_id, 0.0)


def sse(*chunks: dict[str, Any] | str) -> bytes:
    lines = []
    for chunk in chunks:
        import json

        data = chunk if isinstance(chunk, str) else json.dumps(chunk, ensure_ascii=False)
        lines.append(f"data: {data}\n\n")
    return "".join(lines).encode()


def chat_chunk(content: str | None, job_id: str = "chatcmpl-1", finish: str | None = None) -> Any:
    delta = {"content": content} if content is not None else {}
    return {
        "id": job_id,
        "object": "chat.completion.chunk",
        "created": 1766556441,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def chat_stream(url: str = f"{CDN}/files/v.mp4", fail: bool = False) -> bytes:
    last = (
        "> ❌ Video generation failed: out of GPUs\n\n"
        if fail
        else f"> ✅ Video generated successfully, [click here]({url}) to view video~~~\n\n"
    )
    return sse(
        chat_chunk("> ⌛ Task queued (chatcmpl-1), waiting for a worker...\n\n"),
        chat_chunk("> 🏃 Generating... 40%\n\n"),
        chat_chunk(last),
        chat_chunk(None, finish="error" if fail else "stop"),
        "[DONE]",
    )


def mp4_bytes() -> bytes:
    return _mp4()


@functools.cache
def _mp4() -> bytes:
    return media.render_video(None, 64, 64, 1, fps=1)


def all_text(*values: Any) -> str:
    """str() and repr() of everything, for secret scans."""
    return "\n".join(f"{v!s}\n{v!r}" for v in values)


def collect(on: list[Job]) -> Callable[[Job], None]:
    return on.append


def read_mp4(path: Path) -> tuple[str, int, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert frames > 0
        return stream.codec_context.name, stream.width, stream.height


# ------------------------------------------------------------------ hand-fed transports
# (answers a test hands out one by one, bodies it controls chunk by chunk, a clock it moves)


class Clock:
    """The client's clock: moves only when the fake server says time passed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Feed(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body the test controls: chunks handed out one by one (``pulled`` counts
    them), ``each`` run before each, then optionally an error (a broken connection)."""

    def __init__(
        self,
        chunks: list[bytes],
        each: Callable[[], None] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.chunks = chunks
        self.each = each
        self.error = error
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.each is not None:
                self.each()
            self.pulled += 1
            yield chunk
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def events(*chunks: Any) -> list[bytes]:
    """One SSE event per body chunk."""
    out = []
    for chunk in chunks:
        data = chunk if isinstance(chunk, str) else json.dumps(chunk, ensure_ascii=False)
        out.append(f"data: {data}\n\n".encode())
    return out


def transport(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """Answers in order, one per request; the requests are recorded."""
    queue = list(answers)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handler), seen


def broken_video(data: bytes, at: int, **headers: str) -> httpx.Response:
    """A 200 video answer whose connection breaks after ``at`` bytes (the peer closes it)."""
    head = {"content-type": "video/mp4", "content-length": str(len(data)), **headers}
    error = httpx.RemoteProtocolError("peer closed connection without sending complete body")
    return httpx.Response(200, headers=head, stream=Feed([data[:at]], error=error))


def video_rest(data: bytes, at: int, **headers: str) -> httpx.Response:
    """The 206 that resumes ``data`` at byte ``at``."""
    head = {
        "content-type": "video/mp4",
        "content-range": f"bytes {at}-{len(data) - 1}/{len(data)}",
        "content-length": str(len(data) - at),
        **headers,
    }
    return httpx.Response(206, headers=head, stream=Feed([data[at:]]))


def progress_reported(flavor: Flavor, states: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """What ``wait`` passes to ``on_progress`` while a gptge job answers these (status,
    progress) polls in turn; every poll is asked for and the job ends completed."""
    answers = [httpx.Response(200, json=job_body("gptge", s, "video_1", p)) for s, p in states]
    mock, seen = transport(*answers)
    reported: list[tuple[str, float]] = []
    with flavor.client("gptge", transport=mock, base_url=RESPX_BASE, poll_interval=1) as c:
        done = c.wait("video_1", on_progress=lambda j: reported.append((j.status, j.progress)))
    assert done.completed and len(seen) == len(states)
    return reported


def stream_answer(feed: Feed, content_type: str = "text/event-stream", **headers: str) -> Any:
    return httpx.Response(200, headers={"content-type": content_type, **headers}, stream=feed)
