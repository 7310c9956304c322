"""The handle the pytest plugin gives a test (mockserver/testing.py), used directly on a mock
app built in each test: base URLs and an httpx client into the app, the clock moved by hand,
scenarios for one key or provider, the journal without the raw request, the requests as data,
errors and contract breaches raised at the end, requests for a provider's real host routed
into the mock, the section a failed test's report gets, and where a test's cassettes are
looked for. No server, no port: the plugin's own fixtures are exercised in
``tests/test_testing_plugin.py``."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import httpx
import pytest

from mockserver import testing
from mockserver.http.app import create_app
from mockserver.state.lifecycle import key_fingerprint
from mockserver.testing import CLOCK_START, IN_PROCESS_HOST, MockError, SoraMock, test_config

TASK = {
    "model": "sora_2_pro_i2v",
    "prompt": "a cat",
    "size": "720x1280",
    "seconds": "4",
    "input_reference": "https://example.com/cat-720x1280.png",
}


def mock(**overrides: Any) -> SoraMock:
    return SoraMock(create_app(test_config(**overrides)))


def create(handle: SoraMock, key: str = "sk-test") -> httpx.Response:
    with handle.client("vtrix", api_key=key) as client:
        return client.post("/model/v1/generation", json=TASK)


# --------------------------------------------------------------------------- the handle


def test_the_test_configuration_is_virtual_strict_and_quiet() -> None:
    config = test_config()
    assert (config.clock, config.clock_start, config.strict, config.prerender) == (
        "virtual",
        CLOCK_START,
        True,
        False,
    )
    assert test_config(strict=False, journal_size=7).strict is False
    assert test_config(journal_size=7).journal_size == 7
    assert CLOCK_START == 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_base_urls_name_each_provider_on_the_handles_host() -> None:
    handle = SoraMock(create_app(test_config()), host="http://127.0.0.1:5000/")
    assert handle.base_url("gptge") == "http://127.0.0.1:5000/gptge"
    assert handle.base_url("gptproto") == "http://127.0.0.1:5000/gptproto"
    assert handle.base_url("vtrix") == "http://127.0.0.1:5000/vtrix"
    assert mock().base_url("gptge") == f"{IN_PROCESS_HOST}/gptge"
    boxed = SoraMock(handle.app, host="http://mocks.example/BOX/")
    assert boxed.base_url("vtrix") == "http://mocks.example/BOX/vtrix"
    with pytest.raises(KeyError) as raised:
        handle.base_url("openai")
    assert raised.value.args[0] == (
        "unknown provider 'openai'; known: ['gptge', 'gptproto', 'openrouter', 'vtrix']"
    )
    assert handle.cassettes is None
    assert SoraMock.recording is False


def test_the_client_sends_the_key_and_headers_given_into_the_app() -> None:
    handle = mock()
    with handle.client("gptge", api_key="sk-one", headers={"X-Trace": "7"}, timeout=3) as client:
        assert str(client.base_url) == f"{IN_PROCESS_HOST}/gptge/"
        assert client.headers["Authorization"] == "Bearer sk-one"
        assert client.headers["X-Trace"] == "7"
        assert client.timeout.read == 3
        answer = client.get("/v1/videos")
    assert answer.status_code == 200
    (entry,) = handle.journal
    assert entry["key"] == key_fingerprint("sk-one")
    with handle.client("gptge") as client:
        assert client.headers["Authorization"] == "Bearer sk-test"
    with handle.client("gptge", headers={"Authorization": "Bearer other"}) as client:
        assert client.headers["Authorization"] == "Bearer other"


def test_the_transport_reaches_the_app_from_any_client() -> None:
    handle = mock()
    with httpx.Client(transport=handle.transport()) as client:
        answer = client.get("http://anything.test/gptge/v1/videos")
    assert answer.status_code == 401


def test_the_clock_moves_only_when_told() -> None:
    handle = mock()
    assert handle.now() == CLOCK_START
    assert handle.advance(2.5) == CLOCK_START + 2.5
    assert handle.now() == CLOCK_START + 2.5


def test_a_real_clock_cannot_be_advanced() -> None:
    handle = mock(clock="real")
    with pytest.raises(MockError) as raised:
        handle.advance(1)
    assert str(raised.value) == "the mock's clock is real: create it with clock='virtual'"


def test_a_scenario_for_one_key_and_provider_counted_down() -> None:
    handle = mock()
    handle.set_scenario("server_error", api_key="sk-a", provider="vtrix", times=2)
    (rule,) = handle.service.store.rules()
    assert (rule.scenario, rule.key, rule.provider, rule.remaining) == (
        "server_error",
        key_fingerprint("sk-a"),
        "vtrix",
        2,
    )
    assert create(handle, "sk-b").status_code == 200
    assert create(handle, "sk-a").status_code == 500
    handle.set_scenario("rate_limited")
    (_, everyone) = handle.service.store.rules()
    assert (everyone.key, everyone.provider, everyone.remaining) == (None, None, None)
    handle.clear_scenarios()
    assert handle.service.store.rules() == []


def test_an_unknown_scenario_is_refused_before_it_is_stored() -> None:
    handle = mock()
    with pytest.raises(ValueError):
        handle.set_scenario("no_such_scenario")
    assert handle.service.store.rules() == []


def test_the_journal_leaves_the_raw_request_out_and_requests_keep_it_as_data() -> None:
    handle = mock()
    create(handle)
    create(handle, "sk-other")
    raw = handle.service.journal()
    assert "request" in raw[0]
    assert handle.journal == [{k: v for k, v in e.items() if k != "request"} for e in raw]
    assert [r.operation for r in handle.requests()] == ["createGeneration", "createGeneration"]
    assert len(handle.requests(model="sora_2_pro_i2v", status=200)) == 2
    assert handle.requests(model="sora-2") == []
    assert len(handle.assert_requested(2, operation="createGeneration")) == 2
    with pytest.raises(AssertionError):
        handle.assert_requested(1, operation="createGeneration")
    with handle.client("vtrix") as client:
        client.get("/model/v1/generation/task/nope")
    (read,) = handle.assert_requested(1, operation="getGenerationTask")
    assert read.status == 404
    assert testing._without_request({"method": "GET"}) == {"method": "GET"}


def test_jobs_are_listed_oldest_first_and_reset_forgets_them() -> None:
    handle = mock()
    first = create(handle).json()["id"]
    handle.advance(1)
    second = create(handle).json()["id"]
    assert [j.id for j in handle.jobs()] == [first, second]
    handle.reset()
    assert handle.jobs() == []
    assert handle.journal == []


def test_check_raises_the_first_server_error_then_forgets_it() -> None:
    handle = mock()
    first, second = RuntimeError("first"), RuntimeError("second")
    handle.service.errors.extend([first, second])
    handle.service.violations.append("GET /x: bad")
    with pytest.raises(MockError) as raised:
        handle.check()
    assert str(raised.value) == "the mock raised RuntimeError('first')"
    assert raised.value.__cause__ is first
    assert list(handle.service.errors) == [] and list(handle.service.violations) == []
    handle.check()


def test_check_lists_every_contract_breach() -> None:
    handle = mock()
    handle.service.violations.extend(["GET /a: one", "GET /b: two"])
    with pytest.raises(MockError) as raised:
        handle.check()
    assert str(raised.value) == "responses broke their contract:\nGET /a: one\nGET /b: two"
    handle.check()


# --------------------------------------------------------------------------- real hosts


def test_a_request_for_a_providers_real_host_is_answered_by_the_mock() -> None:
    handle = mock()
    request = httpx.Request(
        "POST",
        "https://cloud.vtrix.ai/model/v1/generation",
        headers={"Authorization": "Bearer sk-real"},
        json=TASK,
    )
    answer = testing.route_to_mock(handle, request)
    assert answer.status_code == 200
    assert answer.request is request
    assert answer.headers["Content-Type"] == "application/json"  # the mock's own headers
    assert answer.json()["model"] == "sora_2_pro_i2v"
    (entry,) = handle.journal
    assert entry["path"] == "/vtrix/model/v1/generation"
    assert entry["key"] == key_fingerprint("sk-real")
    listing = testing.route_to_mock(handle, httpx.Request("GET", "https://api.gpt.ge/v1/videos"))
    assert listing.status_code == 401
    assert handle.journal[-1]["path"] == "/gptge/v1/videos"
    keyed = {"Authorization": "Bearer k"}
    url = "https://api.gpt.ge/v1/videos?limit=2&after=a%2Fb"
    testing.route_to_mock(handle, httpx.Request("GET", url, headers=keyed))
    assert handle.requests()[-1].query == {"limit": "2", "after": "a/b"}  # sent as it was
    assert testing.PROVIDER_HOSTS == {
        "gptproto.com": "gptproto",
        "api.gpt.ge": "gptge",
        "cloud.vtrix.ai": "vtrix",
        "openrouter.ai": "openrouter",  # a declared provider's host (its contract's block)
    }


# --------------------------------------------------------------------------- failed tests


def test_a_failed_tests_section_lists_the_last_requests() -> None:
    handle = mock()
    assert testing._requests_section(handle) == "the mock answered no request in this test"
    for n in range(7):
        with handle.client("gptge") as client:
            client.get(f"/v1/videos/video_{n}")
    assert testing._requests_section(handle).splitlines() == [
        "the mock answered 7 requests in this test; the last 5:",
        "  GET /gptge/v1/videos/video_2 -> 404 (Video with id 'video_2' not found.)",
        "  GET /gptge/v1/videos/video_3 -> 404 (Video with id 'video_3' not found.)",
        "  GET /gptge/v1/videos/video_4 -> 404 (Video with id 'video_4' not found.)",
        "  GET /gptge/v1/videos/video_5 -> 404 (Video with id 'video_5' not found.)",
        "  GET /gptge/v1/videos/video_6 -> 404 (Video with id 'video_6' not found.)",
        "(all of them: the fixture's .journal)",
    ]


def test_a_full_journal_says_at_least_and_errors_are_shown_cut_to_a_line() -> None:
    handle = mock(journal_size=3)
    for n in range(4):
        with handle.client("gptge", headers={"X-Mock-Scenario": "server_error"}) as client:
            client.get(f"/v1/videos/{'v' * 250}{n}")
    lines = testing._requests_section(handle).splitlines()
    assert lines[0] == "the mock answered at least 3 requests in this test; the last 5:"
    assert len(lines) == 5
    entry = handle.journal[-1]
    expected = f"  GET {entry['path']} -> {entry['status']}"
    if entry.get("error"):
        expected += f" ({entry['error']})"
    assert lines[-2] == expected[:200]
    assert len(lines[-2]) == 200


def test_an_entry_with_an_error_names_it() -> None:
    fake = SimpleNamespace(
        journal=[
            {"method": "GET", "path": "/a", "status": 500, "error": "boom"},
            {"method": "GET", "path": "/b", "status": 200, "error": None},
        ],
        service=SimpleNamespace(config=SimpleNamespace(journal_size=1000)),
    )
    assert testing._requests_section(fake).splitlines()[1:3] == [  # type: ignore[arg-type]
        "  GET /a -> 500 (boom)",
        "  GET /b -> 200",
    ]


def test_the_mock_of_a_test_is_found_among_its_fixtures() -> None:
    handle = mock()
    router = SimpleNamespace(sora_mock=handle)
    assert testing._mock_of(SimpleNamespace(funcargs={"x": 1, "m": handle})) is handle  # type: ignore[arg-type]
    assert testing._mock_of(SimpleNamespace(funcargs={"r": router})) is handle  # type: ignore[arg-type]
    assert testing._mock_of(SimpleNamespace(funcargs={"x": 1})) is None  # type: ignore[arg-type]
    assert testing._mock_of(SimpleNamespace()) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- sleeping and replays


def test_sleeping_moves_the_virtual_clock_only() -> None:
    import time

    handle = mock()
    with testing._sleeping_on_its_clock(handle):
        time.sleep(3)
    assert handle.now() == CLOCK_START + 3
    real = mock(clock="real")
    before = time.sleep
    with testing._sleeping_on_its_clock(real):
        assert time.sleep is before


def test_a_replaying_mock_reads_its_cassettes_and_checks_itself(tmp_path: Path) -> None:
    import time

    replays = testing._replaying(tmp_path, "404", sleeping=True)
    handle = next(replays)
    assert handle.cassettes == tmp_path
    assert handle.service.config.replay_dir == tmp_path
    assert handle.service.config.replay_fallback == "404"
    time.sleep(2)  # on its clock
    assert handle.now() == CLOCK_START + 2
    handle.service.errors.append(RuntimeError("late"))
    with pytest.raises(MockError, match="late"):
        next(replays)


def test_a_replaying_mock_may_sleep_for_real(tmp_path: Path) -> None:
    import time

    replays = testing._replaying(tmp_path, "mock", sleeping=False)
    handle = next(replays)
    assert time.sleep.__module__ == "time"
    assert handle.service.config.replay_fallback == "mock"
    with pytest.raises(StopIteration):
        next(replays)


def test_the_proxy_providers_are_the_verify_providers() -> None:
    assert testing._proxy_providers() == [
        "gptproto-v3",
        "gptproto-videos",
        "gptproto-chat",
        "gptge",
        "vtrix",
        "openrouter",
    ]


def test_cassettes_are_looked_for_beside_the_file_the_test_is_written_in(tmp_path: Path) -> None:
    here = Path(__file__).parent
    request = SimpleNamespace(function=test_the_mock_of_a_test_is_found_among_its_fixtures)
    assert testing._written_beside(request) == here  # type: ignore[arg-type]
    collected = SimpleNamespace(function=None, path=tmp_path / "test_x.py")
    assert testing._written_beside(collected) == tmp_path  # type: ignore[arg-type]
    built_in = SimpleNamespace(function=len, path=tmp_path / "t.py")
    assert testing._written_beside(built_in) == tmp_path  # type: ignore[arg-type]
    assert testing._written_beside(SimpleNamespace(path=tmp_path / "t.py")) == tmp_path  # type: ignore[arg-type]


def test_the_standard_library_is_told_from_installed_packages() -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    assert testing._in_standard_library(os.path.join(stdlib, "subprocess.py"))
    assert not testing._in_standard_library(httpx.__file__)
    assert not testing._in_standard_library(os.path.join(stdlib, "site-packages", "x.py"))
    assert not testing._in_standard_library(os.path.join(stdlib, "dist-packages", "x.py"))
    assert not testing._in_standard_library(__file__)
    assert not testing._in_standard_library(stdlib + "-other/x.py")


def test_the_sora_replay_marker_is_declared() -> None:
    lines: list[tuple[str, str]] = []
    config = SimpleNamespace(addinivalue_line=lambda name, line: lines.append((name, line)))
    with patch.object(testing.pytest_files, "read_options"):  # the ini options: their own test
        testing.pytest_configure(config)  # type: ignore[arg-type]
    ((name, line),) = lines
    assert name == "markers"
    assert line == (
        "sora_replay(directory, fallback='mock', record=None, provider=None): cassettes the "
        "sora_replay fixture serves; record='once'|'none'|'new_episodes'|'all' keeps them per "
        "test and records them through the proxy (mockserver.plugin.pytest_record)"
    )


def test_the_server_thread_serves_one_app_on_a_loopback_port_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    thread = testing._ServerThread(create_app(test_config()))
    thread.start()
    try:
        assert thread.name == "sora-mock-server" and thread.daemon
        assert thread.port >= 1024  # a free port the system chose
        assert thread.server.multithread  # a slow answer does not hold up the next request
        answer = httpx.get(f"http://127.0.0.1:{thread.port}/gptge/v1/videos", timeout=10)
        assert answer.status_code == 401
        # no line per request: the mock's journal has them
        assert not [
            r for r in caplog.records if r.name == "werkzeug" and "GET /gptge" in r.getMessage()
        ]
    finally:
        thread.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_the_plugins_command_line_options_are_the_recorders() -> None:
    added: list[str] = []

    class Group:
        def addoption(self, *names: str, **kwargs: Any) -> None:
            added.extend(names)

    groups: list[str] = []

    def getgroup(name: str, *args: Any) -> Group:
        groups.append(name)
        return Group()

    inis: list[str] = []
    parser = SimpleNamespace(getgroup=getgroup, addini=lambda name, *a, **k: inis.append(name))
    testing.pytest_addoption(parser)  # type: ignore[arg-type]
    assert groups and set(groups) == {"sora-mock"}
    assert {"--sora-record", "--sora-upstream"} <= set(added)
    assert inis == ["sora_mock_providers", "sora_mock_models"]  # a user's own files


def test_without_respx_the_fixture_fails_saying_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "respx", None)
    with pytest.raises(pytest.fail.Exception) as failed:
        testing._respx()
    assert failed.value.msg == (
        "the sora_respx fixture needs respx: pip install 'sora-mock[pytest]' (or pip install respx)"
    )
    assert failed.value.pytrace is False
    assert failed.value.__context__ is None  # no "during handling" chain in the report
    monkeypatch.delitem(sys.modules, "respx")
    import respx

    assert testing._respx() is respx
