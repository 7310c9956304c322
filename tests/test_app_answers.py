"""The app as a whole (mockserver.http.app): what its index lists, how an unknown path, a wrong
method, a body too large, a store that fails and an unexpected error are answered (in the
shape of the provider the path names, the admin API's elsewhere), and its metrics page.
Each test builds its own app."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

import contracts
from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.providers import registered
from mockserver.state.store_guard import RETRY_AFTER_SECONDS, StoreUnavailable
from mockserver.testing import test_config

AUTH = {"Authorization": "Bearer sk-app"}


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app(test_config())
    yield app
    assert list(service_of(app).violations) == []


def test_the_index_lists_every_provider_with_its_contracts(app: Flask) -> None:
    answer = app.test_client().get("/", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert "Accept" in answer.headers["Vary"]
    index = answer.json
    assert index["name"] == "sora-mock"
    assert index["scenario_header"] == "X-Mock-Scenario"
    assert index["admin"] == {
        "base_url": "http://localhost/__mock",
        "contract": "http://localhost/__mock/contracts/mock-admin.yaml",
        "dashboard": "http://localhost/__mock/",
    }
    assert set(index["providers"]) == {"gptproto", "gptge", "vtrix", "openrouter"}
    gptproto = index["providers"]["gptproto"]
    assert gptproto["base_url"] == "http://localhost/gptproto"
    names = [c["name"] for c in gptproto["contracts"]]
    assert sorted(names) == ["gptproto-chat", "gptproto-v3", "gptproto-videos"]
    for name, cls in registered().items():
        entry = index["providers"][cls.prefix]
        contract = contracts.load(name)
        assert entry["live_base_url"] == contract.spec["info"].get("x-provider-base-url")
        (listed,) = [c for c in entry["contracts"] if c["name"] == name]
        assert listed["url"] == f"http://localhost/__mock/contracts/{name}.yaml"
        assert listed["operations"] == [
            f"{op.method.upper()} {op.path}" for op in contract.operations.values()
        ]
    assert "POST /v1/videos" in index["providers"]["gptge"]["contracts"][0]["operations"]


def test_a_browser_asking_for_the_index_gets_the_dashboard(app: Flask) -> None:
    answer = app.test_client().get("/", headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"


def test_an_unknown_path_under_a_provider_is_a_404_in_its_shape(app: Flask) -> None:
    answer = app.test_client().get("/vtrix/no/such/path", headers=AUTH)
    assert answer.status_code == 404
    error = answer.json["error"]
    assert error["code"] == "404"
    # Vtrix's text is error_message; the hint is in message too (what openai shows)
    assert error["message"] == error["error_message"]
    assert "/vtrix/no/such/path" in error["message"]


def test_an_unknown_path_elsewhere_is_a_404_in_the_admin_shape(app: Flask) -> None:
    answer = app.test_client().get("/nowhere")
    assert answer.status_code == 404
    assert answer.json["error"]["type"] == "404"
    assert "/nowhere" in answer.json["error"]["message"]


def test_a_wrong_method_is_a_405_naming_it_with_allow(app: Flask) -> None:
    answer = app.test_client().delete("/gptge/v1/videos", headers=AUTH)
    assert answer.status_code == 405
    assert answer.json["error"]["message"] == "Method DELETE is not allowed on '/gptge/v1/videos'"
    assert answer.json["error"]["type"] == "invalid_request_error"
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_options_is_no_operation_and_a_405(app: Flask) -> None:
    answer = app.test_client().options("/gptge/v1/videos", headers=AUTH)
    assert answer.status_code == 405
    index = app.test_client().options("/")
    assert index.status_code == 405
    metrics = app.test_client().options("/metrics")
    assert metrics.status_code == 405


def test_a_body_over_the_limit_is_a_413_in_the_providers_shape() -> None:
    app = create_app(test_config(max_body_bytes=1000))
    answer = app.test_client().post(
        "/gptge/v1/videos", data=b"x" * 2000, headers=AUTH | {"Content-Type": "text/plain"}
    )
    assert answer.status_code == 413
    assert "1000 bytes" in answer.json["error"]["message"]
    assert answer.json["error"]["type"] == "invalid_request_error"


def test_a_multipart_text_field_over_a_mebibyte_is_a_413() -> None:
    app = create_app(test_config())
    answer = app.test_client().post(
        "/gptge/v1/videos",
        data=(
            b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
            + b"x" * (1024 * 1024 + 10)
            + b"\r\n--x--\r\n"
        ),
        content_type="multipart/form-data; boundary=x",
        headers=AUTH,
    )
    assert answer.status_code == 413
    assert answer.json["error"]["message"] == "Request body is too large"


def test_a_json_body_deeper_than_configured_is_refused() -> None:
    app = create_app(test_config(max_json_depth=2))
    answer = app.test_client().post("/__mock/scenarios", json={"scenario": [[["x"]]]})
    assert answer.status_code == 400
    assert "2 levels" in answer.json["error"]["message"]


def test_a_json_body_longer_than_configured_is_refused() -> None:
    app = create_app(test_config(max_json_bytes=30))
    answer = app.test_client().post("/__mock/scenarios", json={"scenario": "server_error" * 3})
    assert answer.status_code == 413
    assert "30 bytes" in answer.json["error"]["message"]


def test_text_is_written_as_utf8_not_escaped(app: Flask) -> None:
    answer = app.test_client().get("/__mock/jobs/caf%C3%A9")
    assert "café" in answer.get_data(as_text=True)


def test_a_store_that_fails_is_a_503_with_retry_after_in_the_providers_shape(app: Flask) -> None:
    service = service_of(app)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("the sqlite store does not answer (disk I/O error)")

    service.store.get = down  # type: ignore[method-assign]
    service.store.live = down  # type: ignore[attr-defined]
    answer = app.test_client().post(
        "/gptge/v1/videos/video_x/remix", json={"prompt": "p"}, headers=AUTH
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "(the sqlite store does not answer (disk I/O error))" in answer.json["error"]["message"]
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'sora_mock_store_errors_total{where="request"} 1' in text


def test_an_unexpected_error_is_a_500_logged_once(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    service = service_of(app)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    service.store.get = broken  # type: ignore[method-assign]
    answer = app.test_client().post(
        "/gptge/v1/videos/video_x/remix", json={"prompt": "p"}, headers=AUTH
    )
    assert answer.status_code == 500
    assert answer.json["error"]["message"] == "An internal server error occurred in the mock"
    assert answer.json["error"]["type"] == "server_error"
    assert any("POST /gptge/v1/videos/video_x/remix" in r.getMessage() for r in caplog.records) or (
        service.errors
    )


def test_the_metrics_page_is_prometheus_text_never_cached(app: Flask) -> None:
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "sora_mock_requests_total" in answer.get_data(as_text=True)


def test_without_metrics_the_page_is_unknown() -> None:
    app = create_app(test_config(metrics=False))
    assert app.test_client().get("/metrics").status_code == 404


def test_a_console_is_attached_when_a_log_format_is_set() -> None:
    assert "sora_mock_console" not in create_app(test_config()).extensions
    app = create_app(test_config(log_format="json", log_dashboard=True))
    console = app.extensions["sora_mock_console"]
    assert isinstance(console, RequestLog)
    out = io.StringIO()
    console._stream = out
    assert console.show_dashboard
    app.test_client().get("/gptge/v1/videos", headers=AUTH | {"X-Mock-Client": "dashboard"})
    assert console.flush()
    assert "/gptge/v1/videos" in out.getvalue()  # the dashboard's own requests shown too


def test_a_host_the_mock_was_told_to_answer_to_is_answered() -> None:
    app = create_app(test_config(allowed_hosts=("devbox.lan",)))
    assert app.test_client().get("/__mock/clock", base_url="http://devbox.lan").status_code == 200
    bound = create_app(test_config(bind_host="devbox2.lan"))
    assert (
        bound.test_client().get("/__mock/clock", base_url="http://devbox2.lan").status_code == 200
    )
    other = create_app(test_config())
    assert other.test_client().get("/__mock/clock", base_url="http://devbox.lan").status_code == 421


def test_a_providers_own_host_is_answered() -> None:
    app = create_app(test_config())
    assert app.test_client().get("/__mock/clock", base_url="https://api.gpt.ge").status_code == 200


def test_overrides_replace_fields_of_the_config() -> None:
    app = create_app(test_config(), slow_seconds=9.0)
    assert service_of(app).config.slow_seconds == 9.0
    assert create_app().extensions["sora_mock"].config.clock == "real"


# -- what the first round of mutation testing showed -------------------------------------------


def multipart_fields(fields: dict[str, bytes]) -> bytes:
    body = b""
    for name, value in fields.items():
        body += b'--x\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
        body += value + b"\r\n"
    return body + b"--x--\r\n"


def post_form(app: Flask, fields: dict[str, bytes]) -> Any:
    return app.test_client().post(
        "/gptge/v1/videos",
        data=multipart_fields(fields),
        content_type="multipart/form-data; boundary=x",
        headers=AUTH,
    )


def test_a_multipart_text_field_under_a_mebibyte_is_read() -> None:
    """Flask's own default (500 kB) would refuse it: the mock allows a mebibyte."""
    answer = post_form(create_app(test_config()), {"prompt": b"x" * 600_000})
    assert answer.status_code != 413
    assert answer.status_code == 400  # the contract then names what is missing


def test_a_form_of_100_parts_is_read_and_of_101_refused() -> None:
    app = create_app(test_config())
    assert post_form(app, {f"f{n}": b"x" for n in range(100)}).status_code == 400
    refused = post_form(app, {f"f{n}": b"x" for n in range(101)})
    assert refused.status_code == 413


def test_a_multipart_create_is_answered() -> None:
    from providers import APIS

    from mockserver.testing import SoraMock

    app = create_app(test_config())
    with SoraMock(app).client("gptge") as client:
        assert APIS["gptge-videos"].create(client, AUTH).status_code == 200


def test_the_admin_api_answers_options_405_too(app: Flask) -> None:
    answer = app.test_client().options("/__mock/jobs")
    assert answer.status_code == 405
    assert "OPTIONS" not in answer.headers["Allow"]


def test_the_mock_serves_no_static_files(app: Flask) -> None:
    assert not any(rule.rule.startswith("/static") for rule in app.url_map.iter_rules())


def test_the_index_vary_header_and_entries_are_exact(app: Flask) -> None:
    answer = app.test_client().get("/", headers={"Accept": "application/json"})
    assert answer.headers["Vary"] == "Accept"
    for entry in answer.json["providers"].values():
        assert set(entry) == {"base_url", "live_base_url", "contracts"}


def test_a_path_that_only_starts_like_a_provider_is_answered_in_the_admin_shape(
    app: Flask,
) -> None:
    answer = app.test_client().get("/Xvtrix/x")
    assert answer.status_code == 404
    assert answer.json["error"]["type"] == "404"


def test_a_json_log_format_writes_json_lines() -> None:
    app = create_app(test_config(log_format="json"))
    out = io.StringIO()
    app.extensions["sora_mock_console"]._stream = out
    app.test_client().get("/nowhere")
    assert app.extensions["sora_mock_console"].flush()
    (line,) = out.getvalue().splitlines()
    import json

    assert json.loads(line)["path"] == "/nowhere"


def test_a_request_served_by_flask_is_journalled_whole() -> None:
    app = create_app(test_config())
    out = io.StringIO()
    app.extensions["sora_mock_console"] = RequestLog("json", out)
    answer = app.test_client().post(
        "/gptge/v1/videos/video_none/remix", json={"prompt": "again"}, headers=AUTH
    )
    assert answer.status_code == 404
    (entry,) = app.test_client().get("/__mock/journal").json["data"]
    assert entry["method"] == "POST"
    assert entry["job_id"] == "video_none"
    assert entry["error"] == answer.json["error"]["message"]
    (record,) = app.test_client().get("/__mock/requests").json["data"]
    assert record["fields"] == {"prompt": "again"}
    assert app.extensions["sora_mock_console"].flush()
    assert "/gptge/v1/videos/video_none/remix" in out.getvalue()


def test_an_unknown_path_is_journalled_with_its_message() -> None:
    app = create_app(test_config())
    answer = app.test_client().get("/vtrix/no/such/path", headers=AUTH)
    (entry,) = app.test_client().get("/__mock/journal").json["data"]
    assert entry["error"] == answer.json["error"]["error_message"]


def test_an_unknown_path_gets_the_hint_and_the_shape_of_the_provider_it_names(
    app: Flask,
) -> None:
    from mockserver.http.hints import not_found_message

    with app.test_request_context("/v1/videos"):
        message, prefix = not_found_message(app, "/v1/videos", "GET")
    answer = app.test_client().get("/v1/videos", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json["error"]["message"] == message
    assert "did you mean /gptproto/v1/videos or /gptge/v1/videos?" in message
    assert prefix == "gptproto"  # whose shape the answer takes (the admin API's is the same)
    vtrix = app.test_client().post("/model/v1/generation", json={}, headers=AUTH)
    assert vtrix.status_code == 404
    assert "/vtrix/model/v1/generation" in vtrix.json["error"]["error_message"]
    assert vtrix.json["error"]["message"] == vtrix.json["error"]["error_message"]


def test_a_wrong_method_under_vtrix_has_its_text_in_message_too(app: Flask) -> None:
    answer = app.test_client().put("/vtrix/model/v1/generation", headers=AUTH)
    assert answer.status_code == 405
    error = answer.json["error"]
    assert (
        error["message"]
        == error["error_message"]
        == ("Method PUT is not allowed on '/vtrix/model/v1/generation'")
    )


def test_a_refusal_at_the_edge_under_vtrix_has_no_message_field() -> None:
    app = create_app(test_config(max_json_depth=2))
    answer = app.test_client().post("/vtrix/model/v1/generation", json={"a": [[1]]}, headers=AUTH)
    assert answer.status_code == 400
    assert "message" not in answer.json["error"]
    assert "2 levels" in answer.json["error"]["error_message"]


def test_a_range_past_the_end_is_a_416_with_the_length(app: Flask) -> None:
    from providers import APIS

    from mockserver.testing import SoraMock

    mock = SoraMock(app)
    with mock.client("gptge") as client:
        job_id = APIS["gptge-videos"].create(client, AUTH).json()["id"]
    mock.advance(3600)
    answer = app.test_client().get(
        f"/__mock/media/{job_id}/video.mp4", headers={"Range": "bytes=99999999-"}
    )
    assert answer.status_code == 416
    assert answer.headers["Content-Range"].startswith("bytes */")
    assert answer.json["error"]["message"] == ("The server cannot provide the requested range.")


def test_status_polls_take_the_poll_lane_unless_replaying(tmp_path: Any) -> None:
    from mockserver.http.lane import PollLane

    assert isinstance(create_app(test_config()).wsgi_app.inner, PollLane)  # type: ignore[attr-defined]
    replaying = create_app(test_config(replay_dir=tmp_path))
    assert not isinstance(replaying.wsgi_app.inner, PollLane)  # type: ignore[attr-defined]
    answer = replaying.test_client().get("/gptge/v1/videos/video_none", headers=AUTH)
    assert answer.status_code == 404


def test_the_poll_lane_answers_an_unknown_job_in_the_providers_shape(app: Flask) -> None:
    answer = app.test_client().get("/vtrix/model/v1/generation/task/video_none", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json == {"error": {"code": "404", "error_message": "task 'video_none' not found"}}


def test_a_video_that_cannot_be_rendered_is_a_500_saying_so(app: Flask) -> None:
    from providers import APIS

    from mockserver.media import RenderCrashed
    from mockserver.testing import SoraMock

    mock = SoraMock(app)
    with mock.client("gptge") as client:
        job_id = APIS["gptge-videos"].create(client, AUTH).json()["id"]
    mock.advance(3600)

    def crashed(job: Any, variant: str = "video") -> bytes:
        raise RenderCrashed("killed by signal 9")

    service_of(app).asset = crashed  # type: ignore[method-assign]
    answer = app.test_client().get(f"/__mock/media/{job_id}/video.mp4")
    assert answer.status_code == 500
    assert answer.json == {
        "error": {
            "message": "The video could not be rendered: the render process died rendering it "
            "(killed by signal 9)",
            "type": "500",
        }
    }
    assert service_of(app).error_count == 0  # a crashed render is no bug of the mock


def test_an_unexpected_error_is_logged_with_the_request(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    service_of(app).store.get = broken  # type: ignore[method-assign]
    app.test_client().post("/gptge/v1/videos/video_x/remix", json={"prompt": "p"}, headers=AUTH)
    assert any(
        r.getMessage().startswith(
            "unexpected error in the mock at POST /gptge/v1/videos/video_x/remix"
        )
        for r in caplog.records
    )
    service_of(app).errors.clear()


def test_a_store_that_fails_during_a_poll_is_a_503_in_the_providers_shape(app: Flask) -> None:
    service = service_of(app)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("the sqlite store does not answer (disk I/O error)")

    service.store.get = down  # type: ignore[method-assign]
    answer = app.test_client().get("/vtrix/model/v1/generation/task/video_x", headers=AUTH)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "disk I/O error" in answer.json["error"]["error_message"]


def test_a_path_only_another_provider_has_names_the_method_asked(app: Flask) -> None:
    answer = app.test_client().post("/vtrix/v1/videos", json={}, headers=AUTH)
    assert answer.status_code == 404
    assert answer.json["error"]["error_message"].startswith("Vtrix has no POST /v1/videos:")


@pytest.mark.parametrize("error", ["bug", "store"])
def test_flasks_path_answers_a_bug_and_a_store_outage(
    app: Flask, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    """The content route answers video, so Flask serves it (not the lane): its handlers."""
    service = service_of(app)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug") if error == "bug" else StoreUnavailable("disk full")

    service.store.get = broken  # type: ignore[method-assign]
    path = "/gptge/v1/videos/video_x/content"
    answer = app.test_client().get(path, headers=AUTH)
    service.errors.clear()
    if error == "bug":
        assert answer.status_code == 500
        assert answer.json["error"]["message"] == "An internal server error occurred in the mock"
        assert f"unexpected error in the mock at GET {path}" in caplog.text
    else:
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
        assert "disk full" in answer.json["error"]["message"]
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert 'sora_mock_store_errors_total{where="request"} 1' in text


@pytest.mark.parametrize("raised", ["render", "not found"])
def test_the_lane_answers_a_raised_error_with_the_apps_handlers(app: Flask, raised: str) -> None:
    """A poll the lane serves, and the same poll through Flask: the same answer (a crashed
    render in the provider's shape; a 404 raised with the app's hint)."""
    from werkzeug.exceptions import NotFound
    from werkzeug.test import Client

    from mockserver.media import RenderCrashed

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RenderCrashed("killed by signal 9") if raised == "render" else NotFound()

    service_of(app).store.get = broken  # type: ignore[method-assign]
    lane = app.wsgi_app.inner  # type: ignore[attr-defined]  # (guard.HostCheck's)
    answers = []
    for wsgi in (lane, lane.inner):
        answer = Client(wsgi).get("/gptge/v1/videos/video_x", headers=AUTH)
        answers.append((answer.status_code, answer.json))
    assert answers[0] == answers[1]
    assert answers[0][0] == (500 if raised == "render" else 404)
    assert answers[0][1]["error"]["type"] == (
        "server_error" if raised == "render" else "invalid_request_error"
    )
