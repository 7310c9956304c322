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
  with no server and no base URL to change. Needs respx (``pip install 'sora-mock[pytest]'``).

Under ``sora_mock_server`` and ``sora_respx`` a ``time.sleep(s)`` (or ``asyncio.sleep(s)``)
in the test's own thread moves the mock's virtual clock ``s`` seconds and returns at once
(``SoraMock.virtual_sleep``), so code that polls and sleeps (``openai``'s ``create_and_poll``,
``SoraClient.wait``, a plain loop) sees its job move exactly as far as it waited, without
waiting.

Examples, each a real test the project's suite runs: ``mockserver/examples/`` (installed with
the package).

This module is loaded by every pytest run once the package is installed, used or not: it
imports only pytest and the standard library at load time; Flask, httpx, respx and the mock
itself are imported when a fixture first needs them (``tests/test_testing_plugin.py`` checks).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import pytest

from mockserver.plugin import pytest_files, pytest_routing
from mockserver.plugin.mock_error import MockError
from mockserver.plugin.pytest_files import FILES
from mockserver.plugin.pytest_routing import (  # EXTRA and route_to_mock: the plugin's names
    EXTRA,  # noqa: F401
    _client_logs_bounded,
    _hosts,
    _httpx2_routed,
    _respx,
    route_to_mock,
)
from mockserver.plugin.redis_server import redis_server  # noqa: F401 - the plugin's name

if TYPE_CHECKING:
    import httpx
    from flask import Flask

    from mockserver.http.requests_log import RequestRecord
    from mockserver.settings.config import MockConfig
    from mockserver.state.service import MockService

#: the host in-process base URLs use (never resolved: requests go through WSGI)
IN_PROCESS_HOST = "http://sora-mock.test"
#: where the virtual clock starts in tests: 2026-01-01T00:00:00Z
CLOCK_START = 1_767_225_600.0


def __getattr__(name: str) -> Any:  # PEP 562: PROVIDER_HOSTS, PROVIDER_PREFIXES when asked
    if name in ("PROVIDER_HOSTS", "PROVIDER_PREFIXES"):
        return pytest_routing.lookups()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: requests to the mock a failed test's report lists (the newest)
REPORTED_REQUESTS = 5


class SoraMock:
    """A handle on one mock app: base URLs, the clock, scenarios, the journal."""

    #: False: the mock answers (a :class:`mockserver.plugin.pytest_record.SoraRecording` is True)
    recording = False

    def __init__(self, app: Flask, host: str = IN_PROCESS_HOST) -> None:
        self.app = app
        self.host = host.rstrip("/")
        #: the cassettes a ``sora_replay`` handle serves (None for the other fixtures)
        self.cassettes: Any = None

    @property
    def service(self) -> MockService:
        from mockserver.http.app import service_of

        return service_of(self.app)

    def base_url(self, provider: str) -> str:
        """``gptproto``, ``gptge`` or ``vtrix`` -> the base URL to give your client."""
        prefixes = pytest_routing.lookups()["PROVIDER_PREFIXES"]
        if provider not in prefixes:
            raise KeyError(f"unknown provider {provider!r}; known: {sorted(prefixes)}")
        return f"{self.host}/{prefixes[provider]}"

    def transport(self) -> httpx.WSGITransport:
        """An httpx transport into the app (for ``httpx.Client(transport=...)``)."""
        import httpx

        return httpx.WSGITransport(app=self.app)

    def client(self, provider: str, api_key: str = "sk-test", **kwargs: Any) -> httpx.Client:
        """An httpx client already pointed at one provider on the mock."""
        import httpx

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
        from mockserver.state.clock import SteppingClock, VirtualClock

        service = self.service
        original = service.clock
        if not isinstance(original, VirtualClock):
            raise MockError("the mock's clock is real: create it with clock='virtual'")
        service.clock = SteppingClock(service.store, original.now(), step)
        try:
            yield
        finally:
            service.clock = original

    @contextmanager
    def virtual_sleep(self) -> Iterator[None]:
        """Within the block, ``time.sleep(s)`` (and ``asyncio.sleep(s)``) called from this
        thread moves the virtual clock ``s`` seconds and returns at once; every other thread
        sleeps for real.

        Code under test that polls and sleeps (``openai``'s ``create_and_poll``,
        ``SoraClient.wait``, ``while ...: time.sleep(2)``) then sees its job exactly as it would
        after that much time, and the test never waits. It reaches code that looks
        ``time.sleep`` up when it sleeps (``import time``), not a ``from time import sleep``
        made before the block. The standard library's own sleeps stay real (``subprocess``
        waiting for a child with a timeout polls with them). ``sora_mock_server`` and
        ``sora_respx`` run each test inside one.
        """
        import asyncio
        import math
        import time
        from typing import SupportsIndex, TypeVar

        if getattr(self.service.clock, "advance", None) is None:
            raise MockError("the mock's clock is real: create it with clock='virtual'")
        real, real_async = time.sleep, asyncio.sleep
        owner = threading.get_ident()
        T = TypeVar("T")

        def virtual(seconds: float, caller: str) -> bool:
            return (
                threading.get_ident() == owner
                and math.isfinite(seconds)
                and seconds >= 0  # else the real sleep's own error for a bad length
                and not _in_standard_library(caller)
            )

        def sleep(secs: float | SupportsIndex, /) -> None:
            if not virtual(float(secs), sys._getframe(1).f_code.co_filename):
                real(secs)
                return
            self.advance(float(secs))

        async def async_sleep(delay: float, result: T = None) -> T:  # type: ignore[assignment]
            if not virtual(float(delay), sys._getframe(1).f_code.co_filename):
                return await real_async(delay, result)
            self.advance(float(delay))
            return await real_async(0, result)  # still lets other tasks run, as a sleep does

        time.sleep, asyncio.sleep = sleep, async_sleep
        try:
            yield
        finally:
            time.sleep, asyncio.sleep = real, real_async

    def set_scenario(
        self,
        scenario: str,
        *,
        api_key: str | None = None,
        provider: str | None = None,
        times: int | None = None,
    ) -> None:
        """Switch a scenario on for one key (or everyone), one provider (or all), N times."""
        from mockserver.state.faults import parse
        from mockserver.state.lifecycle import key_fingerprint

        parse(scenario, "rule")
        key = key_fingerprint(api_key) if api_key else None
        self.service.store.add_rule(scenario, key, provider, times)

    def clear_scenarios(self) -> None:
        self.service.store.clear_rules()

    @property
    def journal(self) -> list[dict[str, Any]]:
        """The journal's entries, oldest first (what each request carried: :meth:`requests`)."""
        return [_without_request(e) for e in self.service.journal()]

    def requests(self, **criteria: Any) -> list[RequestRecord]:
        """The provider requests the mock answered, oldest first, as data (provider,
        operation, method, path, query, headers without credentials, body fields, the
        image's size and hash, scenario, status), those meeting ``criteria`` if any are given:
        ``operation="createVideo"``, ``provider="gptge"``, ``status=200``, or a body field
        (``model="sora-2"``); a callable value is a predicate (``seconds=lambda s: s > 4``)."""
        from mockserver.http.requests_log import records_of, select

        return select(records_of(self.service.journal()), **criteria)

    def assert_requested(self, times: int | None = None, **criteria: Any) -> list[RequestRecord]:
        """Assert the mock received ``times`` requests meeting ``criteria`` (default: at least
        one), as :meth:`requests` filters them; returns them. On failure the message lists
        what did arrive, nearest first, with what each request missed."""
        __tracebackhide__ = True
        from mockserver.http.requests_log import assert_requested, records_of

        return assert_requested(records_of(self.service.journal()), times, **criteria)

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


def _without_request(entry: dict[str, Any]) -> dict[str, Any]:
    if "request" not in entry:
        return entry
    return {k: v for k, v in entry.items() if k != "request"}


def _in_standard_library(filename: str) -> bool:
    """Whether code in ``filename`` is Python's own (whose sleeps wait on the world, e.g.
    ``subprocess``'s wait with a timeout, which polls a child process)."""
    import os
    import sysconfig

    stdlib = os.path.join(os.path.realpath(sysconfig.get_paths()["stdlib"]), "")
    path = os.path.realpath(filename)
    return path.startswith(stdlib) and not any(
        part in ("site-packages", "dist-packages") for part in path[len(stdlib) :].split(os.sep)
    )


def test_config(**overrides: Any) -> MockConfig:
    """The configuration the fixtures use: virtual clock, strict, no background renders."""
    from mockserver.settings.config import MockConfig

    base = MockConfig(
        clock="virtual",
        clock_start=CLOCK_START,
        strict=True,
        prerender=False,
        providers=FILES["providers"],
        models_file=FILES["models_file"],
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


test_config.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


@pytest.fixture(scope="session")
def sora_mock_app() -> Flask:
    """The session's mock app, shared by every fixture of the plugin but ``sora_replay``
    (override this fixture to change its configuration, e.g. ``create_app(test_config(...))``)."""
    from mockserver.http.app import create_app

    return create_app(test_config())


@pytest.fixture
def sora_mock(sora_mock_app: Flask) -> Iterator[SoraMock]:
    """The mock in-process (no server, no port) on a virtual clock, reset for each test:
    ``.client("gptge")`` (an httpx client into it), ``.advance(s)``, ``.set_scenario(...)``,
    ``.journal``. A server error or contract breach of the mock fails the test at its end."""
    mock = SoraMock(sora_mock_app)
    mock.reset()
    yield mock
    mock.check()


def pytest_addoption(parser: pytest.Parser) -> None:
    from mockserver.plugin.pytest_record import add_options

    add_options(parser)
    pytest_files.add_options(parser)  # the ini options for a user's provider and models files


def pytest_configure(config: pytest.Config) -> None:
    pytest_files.read_options(config)
    config.addinivalue_line(
        "markers",
        "sora_replay(directory, fallback='mock', record=None, provider=None): cassettes the "
        "sora_replay fixture serves; record='once'|'none'|'new_episodes'|'all' keeps them per "
        "test and records them through the proxy (mockserver.plugin.pytest_record)",
    )


def _written_beside(request: pytest.FixtureRequest) -> Any:
    """The directory of the file the test function is written in (the file pytest collected
    it from, unless that file imports it from another)."""
    import inspect
    from pathlib import Path

    function = getattr(request, "function", None)
    try:
        source = inspect.getsourcefile(function) if function is not None else None
    except TypeError:
        source = None
    return Path(source).parent if source else Path(request.path).parent


@pytest.fixture
def sora_replay(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The mock replaying recorded jobs in-process on a virtual clock: mark the test
    ``@pytest.mark.sora_replay("cassettes", fallback="404")`` (a relative directory is read
    beside the test's file; ``fallback="mock"`` simulates a create nobody recorded).

    Record once, replay forever: ``@pytest.mark.sora_replay(record="once", provider="gptge")``
    keeps the test's own cassettes in ``cassettes/<module>__<test>/`` beside its file,
    records them through the recording proxy on the first run (with ``GPTGE_API_KEY`` set)
    and replays them after (``mockserver.plugin.pytest_record``: the modes, ``--sora-record``,
    ``--sora-upstream``). While it records, the test gets a :class:`SoraRecording` (the same
    ``client``, ``base_url``, ``requests``, ``assert_requested``; real time); while it
    replays, ``time.sleep`` in the test's thread moves the virtual clock."""
    from pathlib import Path

    from mockserver.plugin import pytest_record as rec

    marker = request.node.get_closest_marker("sora_replay")
    mode = rec.marker_mode(marker, request.config)
    directory = None
    if marker is not None:
        directory = marker.args[0] if marker.args else marker.kwargs.get("directory")
    if directory is None and mode is None:
        raise MockError(
            "sora_replay needs its cassettes: mark the test "
            '@pytest.mark.sora_replay("path/to/cassettes") or '
            '@pytest.mark.sora_replay(record="once", provider="gptge")'
        )
    path = Path(directory if directory is not None else rec.DEFAULT_ROOT)
    if not path.is_absolute():
        path = _written_beside(request) / path
    # a test that keeps its own cassettes answers a create nobody recorded with a 404 (as
    # vcrpy refuses a request its cassette lacks); an old-style marker simulates it
    default = "mock" if mode is None else "404"
    fallback = marker.kwargs.get("fallback", default) if marker is not None else default
    if mode is None:
        yield from _replaying(path, fallback, sleeping=False)
        return
    assert marker is not None
    path = path / rec.cassette_dir_name(request.node.nodeid)
    provider = marker.kwargs.get("provider")
    if provider is None and not rec.has_cassette(path):
        raise MockError(
            f'sora_replay(record={mode!r}) records one provider: name it, e.g. provider="gptge" '
            f"(one of {rec.names(_proxy_providers())})"
        )
    if provider is not None and provider not in _proxy_providers():
        raise MockError(
            f"sora_replay: unknown provider {provider!r}; known: {rec.names(_proxy_providers())}"
        )
    variable = rec.key_variable(provider) if provider is not None else "the provider's key"
    key = os.environ.get(variable) if provider is not None else None
    try:
        action = rec.plan(mode, rec.has_cassette(path), key)
    except rec.Refused as refused:
        pytest.fail(rec.refusal(str(refused), mode, path, variable), pytrace=False)
    if action == "replay":
        yield from _replaying(path, fallback, sleeping=True)
        return
    assert provider is not None and key is not None
    upstream = rec.upstream_of(request.config)
    with rec.recording(provider, key, path, upstream, mode == "all", IN_PROCESS_HOST) as handle:
        with _client_logs_bounded([IN_PROCESS_HOST.split("//", 1)[1]]):
            yield handle


def _proxy_providers() -> list[str]:
    from mockserver.conformance.providers import PROVIDERS

    return list(PROVIDERS)


def _replaying(path: Any, fallback: str, sleeping: bool) -> Iterator[SoraMock]:
    from mockserver.http.app import create_app

    mock = SoraMock(create_app(test_config(replay_dir=path, replay_fallback=fallback)))
    mock.cassettes = path
    with _sleeping_on_its_clock(mock) if sleeping else nullcontext():
        yield mock
    mock.check()


def _sleeping_on_its_clock(mock: SoraMock) -> AbstractContextManager[None]:
    """``mock.virtual_sleep()``, unless ``sora_mock_app`` was overridden with a real clock
    (then sleeps are real, as the user asked for real time)."""
    if getattr(mock.service.clock, "advance", None) is None:
        return nullcontext()
    return mock.virtual_sleep()


class _ServerThread(threading.Thread):
    """A werkzeug server for one app on a free loopback port. It logs no line per request
    (the mock's journal has them): a polling test that fails shows its error, not a log line
    for each of its polls."""

    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        super().__init__(name="sora-mock-server", daemon=True)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.port = self.server.server_port

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def _sora_mock_server_session(sora_mock_app: Flask) -> Iterator[SoraMock]:
    """The session's mock app served on a free loopback port (started once per session)."""
    thread = _ServerThread(sora_mock_app)
    thread.start()
    try:
        yield SoraMock(sora_mock_app, host=f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()


@pytest.fixture
def sora_mock_server(_sora_mock_server_session: SoraMock) -> Iterator[SoraMock]:
    """The mock on a real loopback port, for code that is not httpx-based (``requests``, the
    ``openai`` package, a subprocess): ``.base_url("gptge")`` is the base URL to give it.
    Reset for each test; ``time.sleep`` in the test's thread moves the virtual clock instead
    of waiting, so polling code finishes at once (``SoraMock.virtual_sleep``)."""
    mock = _sora_mock_server_session
    mock.reset()
    with _sleeping_on_its_clock(mock), _client_logs_bounded([mock.host.split("//", 1)[1]]):
        yield mock
    mock.check()


@pytest.fixture
def sora_respx(sora_mock: SoraMock) -> Iterator[Any]:
    """A respx router sending httpx requests for the providers' real hosts
    (``https://api.gpt.ge``, ``https://gptproto.com``, ``https://cloud.vtrix.ai``) into the
    in-process mock: pure-httpx code runs unchanged, with no server and no base URL to change
    (an httpx2 client's too, such as the ``openai`` package's: served, not in ``.calls``).
    ``.sora_mock`` is the mock (``advance``, scenarios); ``time.sleep`` in the test's thread
    moves the virtual clock instead of waiting. Needs respx: ``pip install 'sora-mock[pytest]'``."""
    respx = _respx()
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        for host in _hosts():
            router.route(host=host).mock(side_effect=lambda req: route_to_mock(sora_mock, req))
        router.sora_mock = sora_mock
        router.requests = sora_mock.requests  # what the app sent, as data
        router.assert_requested = sora_mock.assert_requested
        with (
            _httpx2_routed(sora_mock),
            _client_logs_bounded(_hosts()),
            _sleeping_on_its_clock(sora_mock),
        ):
            yield router


def _mock_of(item: pytest.Item) -> SoraMock | None:
    for value in getattr(item, "funcargs", {}).values():
        mock = getattr(value, "sora_mock", value)
        if isinstance(mock, SoraMock):
            return mock
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that used the mock gets a short section: how many requests the mock
    answered and the last few (a polling loop that never saw its job finish shows here)."""
    report = yield
    if call.when == "call" and report.failed:
        mock = _mock_of(item)
        if mock is not None:
            try:
                section = _requests_section(mock)
            except Exception as exc:  # the report must not fail because the mock is broken
                section = f"(the mock's journal could not be read: {type(exc).__name__})"
            report.sections.append(("sora-mock requests", section))
    return report


def _requests_section(mock: SoraMock) -> str:
    entries = mock.journal
    if not entries:
        return "the mock answered no request in this test"
    kept = mock.service.config.journal_size
    many = f"{len(entries)}" if len(entries) < kept else f"at least {kept}"
    lines = [f"the mock answered {many} requests in this test; the last {REPORTED_REQUESTS}:"]
    for entry in entries[-REPORTED_REQUESTS:]:
        line = f"  {entry['method']} {entry['path']} -> {entry['status']}"
        if entry.get("error"):
            line += f" ({entry['error']})"
        lines.append(line[:200])
    lines.append("(all of them: the fixture's .journal)")
    return "\n".join(lines)
