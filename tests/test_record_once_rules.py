"""Record once, replay forever (``mockserver/plugin/pytest_record.py``), rule by rule and without a
network: which mode records, replays or refuses (and the refusal's words, which tell a user
what to set), where a test's cassettes live, the command-line options, and the handle a
recording test gets: the same ``requests()``/``assert_requested`` as the mock's, its key
sent by default, and a clear error for what only the mock can do."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _pytest.config.argparsing import Parser

from mockserver.plugin import pytest_record as rec
from mockserver.testing import MockError

KEY = "sk-recording-key-0123456789"


@pytest.mark.parametrize(
    ("mode", "cassette", "key", "action"),
    [
        ("none", True, None, "replay"),
        ("none", True, KEY, "replay"),
        ("none", False, KEY, "no-cassette"),
        ("once", True, KEY, "replay"),
        ("once", True, None, "replay"),
        ("once", False, KEY, "record"),
        ("once", False, None, "no-key"),
        ("once", False, "", "no-key"),
        ("new_episodes", True, None, "replay"),
        ("new_episodes", True, KEY, "record"),
        ("new_episodes", False, KEY, "record"),
        ("new_episodes", False, None, "no-key"),
        ("all", True, KEY, "record"),
        ("all", False, KEY, "record"),
        ("all", True, None, "no-key"),
        ("all", False, None, "no-key"),
    ],
)
def test_a_mode_replays_records_or_refuses(
    mode: str, cassette: bool, key: str | None, action: str
) -> None:
    try:
        got = rec.plan(mode, cassette, key)
    except rec.Refused as refused:
        got = str(refused)
    assert got == action


def test_a_refusal_says_what_to_set_or_to_commit(tmp_path: Path) -> None:
    directory = tmp_path / "cassettes" / "test_a__test_b"
    none = rec.refusal("no-cassette", "none", directory, "GPTGE_API_KEY")
    assert none == (
        f"sora_replay(record='none'): no cassette in {directory}; record it once with "
        "GPTGE_API_KEY set and --sora-record=once (or record='once'), then commit it"
    )
    first = rec.refusal("no-key", "once", directory, "VTRIX_API_KEY")
    assert first == (
        f"sora_replay(record='once'): no cassette in {directory} and no VTRIX_API_KEY in the "
        "environment to record one: set VTRIX_API_KEY and run once (the cassette is written "
        "there; commit it), or run where the cassettes are checked out"
    )
    # re-recording over cassettes that exist: the key is what is missing, replaying is possible
    directory.mkdir(parents=True)
    (directory / "one.json").write_text("{}")
    for mode in ("all", "new_episodes"):
        assert rec.refusal("no-key", mode, directory, "GPTGE_API_KEY") == (
            f"sora_replay(record={mode!r}) records against the provider and needs its key: "
            f"set GPTGE_API_KEY (or run with --sora-record=once to replay {directory})"
        )
    assert rec.refusal("no-key", "once", directory, "K").startswith("sora_replay(record='once'):")
    (directory / "one.json").unlink()
    assert "no cassette in" in rec.refusal("no-key", "all", directory, "K")


def test_a_directory_holds_a_cassette_only_with_a_visible_json_file(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    assert not rec.has_cassette(directory)
    directory.mkdir()
    assert not rec.has_cassette(directory)
    (directory / ".half.json").write_text("{")
    (directory / "notes.txt").write_text("x")
    assert not rec.has_cassette(directory)
    (directory / "gptge-0000.json").write_text("{}")
    assert rec.has_cassette(directory)
    assert not rec.has_cassette(directory / "gptge-0000.json")  # a file is not a directory


@pytest.mark.parametrize(
    ("nodeid", "name"),
    [
        ("tests/sub/test_a.py::TestB::test_c[x-1/ü]", "test_a__TestB__test_c_x-1_"),
        ("tests/test_a.py::test_b", "test_a__test_b"),
        ("tests/test_a.py", "test_a"),
        (".test_a.py::test_b.", "test_a__test_b"),
        ("Xa.py::test_X", "Xa__test_X"),
        ("t.py::test_x[a  b]", "t__test_x_a_b_"),
    ],
)
def test_a_cassette_directory_is_named_from_the_node_id(nodeid: str, name: str) -> None:
    assert rec.cassette_dir_name(nodeid) == name


def test_a_long_node_id_is_cut_and_given_a_hash_of_all_of_it() -> None:
    import hashlib

    fits = "t.py::test_" + "a" * (rec.MAX_NAME - len("t__test_"))
    assert rec.cassette_dir_name(fits) == "t__test_" + "a" * (rec.MAX_NAME - 8)
    longer = fits + "b"
    name = rec.cassette_dir_name(longer)
    digest = hashlib.sha256(longer.encode()).hexdigest()[:12]
    assert name == ("t__test_" + "a" * 200)[: rec.MAX_NAME - 13] + "-" + digest
    assert len(name) == rec.MAX_NAME


def test_a_node_id_with_nothing_to_keep_is_named_by_its_hash() -> None:
    import hashlib

    assert rec.cassette_dir_name("::") == hashlib.sha256(b"::").hexdigest()[:12]
    assert rec.cassette_dir_name("..") == hashlib.sha256(b"..").hexdigest()[:12]


def test_each_provider_names_its_key_variable_and_mock_prefix() -> None:
    assert rec.key_variable("gptge") == "GPTGE_API_KEY"
    assert rec.key_variable("gptproto-v3") == "GPTPROTO_API_KEY"
    assert rec.key_variable("vtrix") == "VTRIX_API_KEY"
    assert rec.prefix_of("gptproto-v3") == "gptproto"
    assert rec.prefix_of("gptge") == "gptge"
    assert rec.prefix_of("vtrix") == "vtrix"


def test_the_command_line_options() -> None:
    parser = Parser(_ispytest=True)
    rec.add_options(parser)
    defaults = parser.parse([])
    assert (defaults.sora_record, defaults.sora_upstream) == (None, None)
    given = parser.parse(["--sora-record=all", "--sora-upstream", "http://127.0.0.1:1/gptge"])
    assert (given.sora_record, given.sora_upstream) == ("all", "http://127.0.0.1:1/gptge")
    for mode in rec.RECORD_MODES:
        assert parser.parse([f"--sora-record={mode}"]).sora_record == mode
    with pytest.raises(pytest.UsageError):
        parser.parse(["--sora-record=sometimes"])
    help_text = parser.optparser.format_help()
    assert "\nsora-mock:\n" in help_text  # the options' own group
    words = " ".join(help_text.split())
    assert (
        "--sora-record={once,none,new_episodes,all} record mode for every test marked "
        "sora_replay(record=...): once (default: record what has no cassette), none (replay "
        "only), new_episodes, all (record again)"
    ) in words
    assert (
        "--sora-upstream=URL where recordings go instead of the provider's base URL, e.g. "
        "another mock on loopback (default: $SORA_MOCK_UPSTREAM)"
    ) in words


class _Options:
    def __init__(self, **values: str | None) -> None:
        self.values = values

    def getoption(self, name: str, default: object = None) -> object:
        return self.values.get(name, default)


def test_the_upstream_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(rec.UPSTREAM_ENV, raising=False)
    assert rec.upstream_of(_Options()) is None  # type: ignore[arg-type]
    monkeypatch.setenv(rec.UPSTREAM_ENV, "http://127.0.0.1:2/env")
    assert rec.upstream_of(_Options()) == "http://127.0.0.1:2/env"  # type: ignore[arg-type]
    option = _Options(**{"--sora-upstream": "http://127.0.0.1:3/opt"})
    assert rec.upstream_of(option) == "http://127.0.0.1:3/opt"  # type: ignore[arg-type]
    monkeypatch.setenv(rec.UPSTREAM_ENV, "")
    assert rec.upstream_of(_Options()) is None  # type: ignore[arg-type]


def test_the_command_line_mode_overrides_a_marked_test_s_own() -> None:
    once = pytest.mark.sora_replay(record="once", provider="gptge").mark
    assert rec.marker_mode(None, _Options()) is None  # type: ignore[arg-type]
    assert rec.marker_mode(once, _Options()) == "once"  # type: ignore[arg-type]
    assert rec.marker_mode(once, _Options(**{"--sora-record": "none"})) == "none"  # type: ignore[arg-type]
    old_style = pytest.mark.sora_replay("cassettes").mark
    assert rec.marker_mode(old_style, _Options(**{"--sora-record": "all"})) is None  # type: ignore[arg-type]
    with pytest.raises(pytest.UsageError) as caught:
        rec.marker_mode(pytest.mark.sora_replay(record="sometimes").mark, _Options())  # type: ignore[arg-type]
    assert str(caught.value) == (
        "sora_replay(record='sometimes'): use one of once, none, new_episodes, all"
    )


def test_names_are_listed_sorted() -> None:
    assert rec.names(["b", "a", "c"]) == "a, b, c"
    assert rec.names([]) == ""


# ------------------------------------------------------------------ the recording's request log


def echo_app(status: str = "201 Created") -> Callable[..., Any]:
    """A WSGI app standing in for the proxy: answers with the body it was given."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(status, [("Content-Type", "application/octet-stream")])
        return [body]

    return app


def test_the_request_log_notes_each_request_as_the_mock_journal_does() -> None:
    log = rec._RequestLog(echo_app(), "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        made = client.post(
            "/v1/videos",
            json={"prompt": "a cat", "seconds": "4"},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        read = client.get("/v1/videos/video_1?x=1")
        lost = client.get("/nowhere")
    assert made.status_code == 201
    assert json.loads(made.content) == {"prompt": "a cat", "seconds": "4"}  # passed on whole
    assert read.status_code == lost.status_code == 201
    first, second, third = log.entries
    assert {k: first[k] for k in ("provider", "operation", "method", "path", "status")} == {
        "provider": "gptge",
        "operation": "createVideo",
        "method": "POST",
        "path": "/gptge/v1/videos",
        "status": 201,
    }
    assert first["request"]["fields"] == {"prompt": "a cat", "seconds": "4"}
    assert KEY not in json.dumps(first)
    assert (second["operation"], second["method"], second["path"]) == (
        "getVideo",
        "GET",
        "/gptge/v1/videos/video_1",
    )
    assert second["request"]["query"] == {"x": "1"}
    assert (third["operation"], third["path"]) == (None, "/gptge/nowhere")


def test_a_form_create_is_noted_with_its_fields_and_passed_on_whole() -> None:
    log = rec._RequestLog(echo_app("200 OK"), "gptproto-videos", "gptproto")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        answer = client.post(
            "/v1/videos",
            data={"prompt": "a dog", "model": "sora-2"},
            files={"input_reference": ("a.png", b"\x89PNG-bytes", "image/png")},
        )
    assert b"\x89PNG-bytes" in answer.content and b'name="prompt"' in answer.content
    [entry] = log.entries
    assert entry["path"] == "/gptproto/v1/videos" and entry["status"] == 200
    assert entry["request"]["fields"]["prompt"] == "a dog"
    assert entry["request"]["image"]["size"] == len(b"\x89PNG-bytes")


def test_a_body_over_the_cap_is_passed_on_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rec, "MAX_CAPTURED_BODY", 7)
    log = rec._RequestLog(echo_app(), "gptge", "gptge")
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        at_cap = client.post("/v1/videos", content=b'{"a":1}', headers=json_type)
        over = client.post("/v1/videos", content=b'{"a":12}', headers=json_type)
    assert (at_cap.content, over.content) == (b'{"a":1}', b'{"a":12}')
    assert [e["status"] for e in log.entries] == [201, 201]
    assert log.entries[0]["request"]["fields"] == {"a": 1}
    assert "fields" not in log.entries[1]["request"]


def test_a_request_whose_capture_fails_is_still_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockserver.http.requests_log as requests_log

    def broken(req: Any, secrets: Any) -> Any:
        raise RuntimeError("capture broke")

    monkeypatch.setattr(requests_log, "capture", broken)
    log = rec._RequestLog(echo_app(), "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        assert client.post("/v1/videos", content=b"x").content == b"x"
    [entry] = log.entries
    assert entry["request"] is None and entry["status"] == 201


def test_a_request_the_proxy_fails_on_is_noted_without_a_status() -> None:
    def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raise RuntimeError("the proxy broke")

    log = rec._RequestLog(failing, "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="the proxy broke"):
            client.get("/v1/videos/v1")
    [entry] = log.entries
    assert entry["status"] == 0 and entry["operation"] == "getVideo"


def test_a_status_with_a_reason_of_several_words_is_read_as_its_number() -> None:
    log = rec._RequestLog(echo_app("404 Not Found Here"), "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        assert client.get("/v1/videos/v1").status_code == 404
    assert [e["status"] for e in log.entries] == [404]


def test_an_error_the_proxy_reports_with_its_exc_info_reaches_the_server() -> None:
    import sys

    def reporting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            raise ValueError("upstream went away")
        except ValueError:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"bad gateway"]

    log = rec._RequestLog(reporting, "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        # the server is handed the exception (httpx's WSGI transport raises it)
        with pytest.raises(ValueError, match="upstream went away"):
            client.get("/v1/videos/v1")
    assert [e["status"] for e in log.entries] == [502]


def test_the_request_log_keeps_the_newest_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rec, "MAX_RECORDED_REQUESTS", 3)
    log = rec._RequestLog(echo_app(), "gptge", "gptge")
    with httpx.Client(transport=httpx.WSGITransport(app=log), base_url="http://t") as client:
        for n in range(5):
            client.get(f"/v1/videos/v{n}")
    assert [e["path"] for e in log.entries] == [f"/gptge/v1/videos/v{n}" for n in (2, 3, 4)]


# ------------------------------------------------------------------ the recording handle


class _Proxy:
    """What the handle needs of the recording proxy: a WSGI app that can be closed."""

    def __init__(self) -> None:
        self.closed = 0
        self.app = echo_app("200 OK")
        self.seen: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.seen.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        return self.app(environ, start_response)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def handle(tmp_path: Path) -> Iterator[tuple[rec.SoraRecording, _Proxy]]:
    proxy = _Proxy()
    made = rec.SoraRecording(proxy, "gptproto-v3", KEY, tmp_path, "http://127.0.0.1:9/")  # type: ignore[arg-type]
    yield made, proxy
    made.close()


def test_the_handle_answers_for_its_own_provider_only(
    handle: tuple[rec.SoraRecording, _Proxy], tmp_path: Path
) -> None:
    made, _ = handle
    assert made.recording is True
    assert (made.provider, made.prefix, made.cassettes) == ("gptproto-v3", "gptproto", tmp_path)
    assert made.base_url("gptproto") == "http://127.0.0.1:9"
    ending = rec.SoraRecording(_Proxy(), "gptge", KEY, tmp_path, "http://127.0.0.1:9/X/")  # type: ignore[arg-type]
    assert ending.base_url("gptge") == "http://127.0.0.1:9/X"
    with pytest.raises(KeyError) as caught:
        made.base_url("gptge")
    assert caught.value.args == ("this test records 'gptproto' only (marker provider=...)",)


def test_the_handle_s_client_sends_the_environment_s_key_unless_told(
    handle: tuple[rec.SoraRecording, _Proxy],
) -> None:
    made, proxy = handle
    with made.client("gptproto", headers={"X-Extra": "1"}, timeout=7) as client:
        assert str(client.base_url) == "http://127.0.0.1:9"
        assert client.timeout == httpx.Timeout(7)
        client.get("/api/v3/predictions/p1/result")
    with made.client("gptproto", api_key="sk-other-key-1") as client:
        client.get("/api/v3/predictions/p2/result")
    with made.client("gptproto", headers={"Authorization": "Token x"}) as client:
        # the caller's header replaces the default: one Authorization header is sent
        assert client.headers.get_list("authorization") == ["Token x"]
        client.get("/api/v3/predictions/p3/result")
    assert [s["HTTP_AUTHORIZATION"] for s in proxy.seen] == [
        f"Bearer {KEY}",
        "Bearer sk-other-key-1",
        "Token x",
    ]
    assert proxy.seen[0]["HTTP_X_EXTRA"] == "1"


def test_the_handle_lists_and_asserts_what_it_was_sent(
    handle: tuple[rec.SoraRecording, _Proxy],
) -> None:
    made, _ = handle
    with made.client("gptproto") as client:
        client.get("/api/v3/predictions/p1/result")
        client.get("/api/v3/predictions/p2/result")
    records = made.requests()
    assert [(r.provider, r.operation, r.path) for r in records] == [
        ("gptproto", "getPredictionResult", "/gptproto/api/v3/predictions/p1/result"),
        ("gptproto", "getPredictionResult", "/gptproto/api/v3/predictions/p2/result"),
    ]
    assert [r.path for r in made.requests(path="/gptproto/api/v3/predictions/p2/result")] == [
        "/gptproto/api/v3/predictions/p2/result"
    ]
    assert len(made.assert_requested(operation="getPredictionResult", times=2)) == 2
    with pytest.raises(AssertionError, match="expected exactly 3 request"):
        made.assert_requested(operation="getPredictionResult", times=3)
    with pytest.raises(AssertionError, match="at least one"):
        made.assert_requested(operation="createSora2ImageToVideo")


@pytest.mark.parametrize(
    "name", ["advance", "set_scenario", "stepping", "virtual_sleep", "now", "jobs"]
)
def test_what_only_the_mock_can_do_is_a_clear_error_while_recording(
    handle: tuple[rec.SoraRecording, _Proxy], name: str
) -> None:
    made, _ = handle
    with pytest.raises(MockError) as caught:
        getattr(made, name)
    assert str(caught.value) == (
        f"{name}() is the mock's: this test is recording against the provider "
        "(real time, real jobs); it works when the test replays its cassette"
    )


def test_any_other_missing_attribute_is_an_attribute_error(
    handle: tuple[rec.SoraRecording, _Proxy],
) -> None:
    made, proxy = handle
    with pytest.raises(AttributeError) as caught:
        made.journal  # noqa: B018
    assert caught.value.args == ("journal",)
    assert made.check() is None
    made.close()
    assert proxy.closed == 1


def test_a_recording_empties_its_directory_only_when_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.conformance import proxy as proxy_module

    made: list[Any] = []

    class FakeProxy(_Proxy):
        def __init__(self, config: Any) -> None:
            super().__init__()
            self.config = config
            made.append(self)

    monkeypatch.setattr(proxy_module, "ContractProxy", FakeProxy)
    directory = tmp_path / "deep" / "cassettes"
    with rec.recording("gptge", KEY, directory, None, True, "http://h") as handle:
        assert directory.is_dir() and handle.host == "http://h"
        config = made[0].config
        assert (config.provider, config.upstream, config.record_dir) == ("gptge", None, directory)
        (directory / "old.json").write_text("{}")
    assert made[0].closed == 1
    with rec.recording("gptge", KEY, directory, "http://127.0.0.1:4", False, "http://h"):
        assert (directory / "old.json").exists()
        assert made[1].config.upstream == "http://127.0.0.1:4"
    with pytest.raises(RuntimeError), rec.recording("gptge", KEY, directory, None, True, "h"):
        assert not (directory / "old.json").exists()
        raise RuntimeError("the test failed")
    assert made[2].closed == 1  # closed however the test ended
