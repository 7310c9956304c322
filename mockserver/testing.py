"""pytest fixtures for users of the mock (registered through the ``pytest11`` entry point).

- ``sora_mock``: the mock app in-process with a virtual clock. Session-scoped app, reset before
  each test, and any unexpected server error or contract violation re-raised at the end of the
  test (like pytest-httpserver's ``check()``).
- ``sora_mock_server``: the same app on a real loopback port in a background thread, for code
  that is not httpx-based (requests, the ``openai`` package, a subprocess).
- ``sora_replay``: the mock serving the jobs recorded by ``sora-mock proxy --record DIR``
  (mark the test ``@pytest.mark.sora_replay("cassettes", fallback="404")``; a relative
  directory is read beside the test file), in-process with a virtual clock like ``sora_mock``.
- ``sora_respx``: a respx router that sends httpx requests for the providers' real hosts
  (``https://api.gpt.ge/...``) into the same in-process mock: pure-httpx code runs unchanged,
  with no server and no base URL to change. Needs respx installed.

Examples, each a real test: tests/examples/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from flask import Flask

from mockserver.app import create_app, service_of
from mockserver.config import MockConfig
from mockserver.service import MockService

#: the host in-process base URLs use (never resolved: requests go through WSGI)
IN_PROCESS_HOST = "http://sora-mock.test"
#: the providers' real hosts -> the mock prefix that stands in for each
PROVIDER_HOSTS = {
    "gptproto.com": "gptproto",
    "api.gpt.ge": "gptge",
    "cloud.vtrix.ai": "vtrix",
}
#: where the virtual clock starts in tests: 2026-01-01T00:00:00Z
CLOCK_START = 1_767_225_600.0
PROVIDER_PREFIXES = {"gptproto": "gptproto", "gptge": "gptge", "vtrix": "vtrix"}


class MockError(AssertionError):
    """The mock failed in a way a test must see: an unexpected exception or a contract breach."""


class SoraMock:
    """A handle on one mock app: base URLs, the clock, scenarios, the journal."""

    def __init__(self, app: Flask, host: str = IN_PROCESS_HOST) -> None:
        self.app = app
        self.host = host.rstrip("/")

    @property
    def service(self) -> MockService:
        return service_of(self.app)

    def base_url(self, provider: str) -> str:
        """``gptproto``, ``gptge`` or ``vtrix`` -> the base URL to give your client."""
        if provider not in PROVIDER_PREFIXES:
            raise KeyError(f"unknown provider {provider!r}; known: {sorted(PROVIDER_PREFIXES)}")
        return f"{self.host}/{PROVIDER_PREFIXES[provider]}"

    def transport(self) -> httpx.WSGITransport:
        """An httpx transport into the app (for ``httpx.Client(transport=...)``)."""
        return httpx.WSGITransport(app=self.app)

    def client(self, provider: str, api_key: str = "sk-test", **kwargs: Any) -> httpx.Client:
        """An httpx client already pointed at one provider on the mock."""
        headers = {"Authorization": f"Bearer {api_key}"} | kwargs.pop("headers", {})
        return httpx.Client(
            base_url=self.base_url(provider), transport=self.transport(), headers=headers, **kwargs
        )

    def advance(self, seconds: float) -> float:
        """Move the virtual clock forward; jobs move with it. Returns the new time."""
        advance = getattr(self.service.clock, "advance", None)
        if advance is None:
            raise MockError("the mock's clock is real: create it with clock='virtual'")
        now: float = advance(seconds)
        return now

    def now(self) -> float:
        return self.service.clock.now()

    @contextmanager
    def stepping(self, step: float = 0.25) -> Iterator[None]:
        """Within the block, the clock also moves ``step`` seconds each time the mock reads it.

        For code that blocks inside the mock until time passes (chat mode, or a stream a
        transport buffers whole): it ends without any real waiting and without a thread.
        """
        from mockserver.clock import SteppingClock, VirtualClock

        service = self.service
        original = service.clock
        if not isinstance(original, VirtualClock):
            raise MockError("the mock's clock is real: create it with clock='virtual'")
        service.clock = SteppingClock(service.store, original.now(), step)
        try:
            yield
        finally:
            service.clock = original

    def set_scenario(
        self,
        scenario: str,
        *,
        api_key: str | None = None,
        provider: str | None = None,
        times: int | None = None,
    ) -> None:
        """Switch a scenario on for one key (or everyone), one provider (or all), N times."""
        from mockserver.faults import parse
        from mockserver.lifecycle import key_fingerprint

        parse(scenario, "rule")
        key = key_fingerprint(api_key) if api_key else None
        self.service.store.add_rule(scenario, key, provider, times)

    def clear_scenarios(self) -> None:
        self.service.store.clear_rules()

    @property
    def journal(self) -> list[dict[str, Any]]:
        return self.service.journal()

    def jobs(self) -> list[Any]:
        jobs, _ = self.service.store.jobs(order="asc")
        return jobs

    def reset(self) -> None:
        self.service.reset()

    def check(self) -> None:
        """Raise the first unexpected server error or contract violation, then forget them."""
        errors, violations = list(self.service.errors), list(self.service.violations)
        self.service.errors.clear()
        self.service.violations.clear()
        if errors:
            raise MockError(f"the mock raised {errors[0]!r}") from errors[0]
        if violations:
            raise MockError("responses broke their contract:\n" + "\n".join(violations))


def test_config(**overrides: Any) -> MockConfig:
    """The configuration the fixtures use: virtual clock, strict, no background renders."""
    base = MockConfig(clock="virtual", clock_start=CLOCK_START, strict=True, prerender=False)
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


test_config.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


@pytest.fixture(scope="session")
def sora_mock_app() -> Flask:
    """The session's mock app (override this fixture to change its configuration)."""
    return create_app(test_config())


@pytest.fixture
def sora_mock(sora_mock_app: Flask) -> Iterator[SoraMock]:
    mock = SoraMock(sora_mock_app)
    mock.reset()
    yield mock
    mock.check()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sora_replay(directory, fallback='mock'): cassettes the sora_replay fixture serves",
    )


@pytest.fixture
def sora_replay(request: pytest.FixtureRequest) -> Iterator[SoraMock]:
    """The mock replaying recorded jobs (see ``@pytest.mark.sora_replay``)."""
    from pathlib import Path

    marker = request.node.get_closest_marker("sora_replay")
    directory = None
    if marker is not None:
        directory = marker.args[0] if marker.args else marker.kwargs.get("directory")
    if directory is None:
        raise MockError(
            "sora_replay needs its cassettes: mark the test "
            '@pytest.mark.sora_replay("path/to/cassettes")'
        )
    path = Path(directory)
    if not path.is_absolute():
        path = Path(request.path).parent / path
    fallback = marker.kwargs.get("fallback", "mock") if marker is not None else "mock"
    mock = SoraMock(create_app(test_config(replay_dir=path, replay_fallback=fallback)))
    yield mock
    mock.check()


class _ServerThread(threading.Thread):
    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import make_server

        super().__init__(name="sora-mock-server", daemon=True)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _sora_mock_server_session(sora_mock_app: Flask) -> Iterator[SoraMock]:
    thread = _ServerThread(sora_mock_app)
    thread.start()
    try:
        yield SoraMock(sora_mock_app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


@pytest.fixture
def sora_mock_server(_sora_mock_server_session: SoraMock) -> Iterator[SoraMock]:
    _sora_mock_server_session.reset()
    yield _sora_mock_server_session
    _sora_mock_server_session.check()


def route_to_mock(mock: SoraMock, request: httpx.Request) -> httpx.Response:
    """Answer a request for a provider's real host from the in-process mock (a respx side
    effect): ``https://api.gpt.ge/v1/videos`` is served as ``/gptge/v1/videos``."""
    prefix = PROVIDER_HOSTS[request.url.host]
    url = httpx.URL(f"{mock.host}/{prefix}{request.url.raw_path.decode('ascii')}")
    body = request.read()
    forwarded = httpx.Request(request.method, url, headers=request.headers, content=body)
    response = mock.transport().handle_request(forwarded)
    response.read()
    return httpx.Response(
        response.status_code, headers=response.headers, content=response.content, request=request
    )


@pytest.fixture
def sora_respx(sora_mock: SoraMock) -> Iterator[Any]:
    import respx

    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        for host in PROVIDER_HOSTS:
            router.route(host=host).mock(side_effect=lambda req: route_to_mock(sora_mock, req))
        router.sora_mock = sora_mock  # type: ignore[attr-defined]  # advance, scenarios
        yield router


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` (no persistence) on a free loopback port, for a mock with
    ``--store redis://``: yields ``redis://127.0.0.1:PORT/0``; the server and its directory go
    away on exit. ``RuntimeError`` when Debian's ``redis-server`` is not installed."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="sora-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.01)  # a readiness retry
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
