"""Which requests the poll lane (mockserver.http.lane) takes from Flask, decided when an app is
built: a GET without a body, on a route no other GET route could share, whose every documented
answer is JSON; and what a lane built afresh answers, journals and logs. Each app here is
built in its test (the lane's routes are made when the app is)."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from providers import APIS
from werkzeug.exceptions import Conflict, HTTPException
from werkzeug.test import Client, EnvironBuilder

from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.http.lane import PollLane, _json_only, _overlap, _segments
from mockserver.testing import SoraMock, test_config

AUTH = {"Authorization": "Bearer sk-test"}

# ----------------------------------------------------------------- rules, paths, overlaps


def test_a_rule_is_split_into_segments_with_parameters_left_open() -> None:
    assert _segments("/v1/videos/<video_id>") == ["v1", "videos", None]
    assert _segments("/v1/videos/<string:video_id>/content/") == ["v1", "videos", None, "content"]
    assert _segments("/a/<int:n>x") == ["a", "<int:n>x"], "a parameter must be a whole segment"
    assert _segments("v1") == ["v1"]


def test_two_rules_overlap_when_every_segment_could_be_the_same() -> None:
    assert _overlap(["v1", None], ["v1", "videos"])
    assert _overlap(["v1", "videos"], ["v1", None])
    assert _overlap([None, None], [None, None])
    assert _overlap(["v1", "videos"], ["v1", "videos"])
    assert not _overlap(["v1", "videos"], ["v1", "tasks"])
    assert not _overlap(["v1", None], ["v2", None])
    assert not _overlap(["v1", None], ["v1", None, "content"]), "another length never overlaps"
    assert not _overlap(["v1", None, "content"], ["v1", None])


def _pipeline(responses: Any, components: Any = None) -> Any:
    spec = {"components": {"responses": components or {}}}
    definition = {} if responses is None else {"responses": responses}
    return SimpleNamespace(
        dialect=SimpleNamespace(contract=SimpleNamespace(spec=spec)),
        op=SimpleNamespace(definition=definition),
    )


def test_an_operation_is_json_only_when_every_documented_answer_is() -> None:
    json_body = {"content": {"application/json": {}}}
    stream = {"content": {"text/event-stream": {}, "application/json": {}}}
    assert _json_only(_pipeline({"200": json_body, "204": {"description": "none"}}))
    assert _json_only(_pipeline(None)), "no answer documented: nothing but JSON"
    assert not _json_only(_pipeline({"200": stream}))
    assert not _json_only(_pipeline({"200": {"content": {"video/mp4": {}}}}))
    # answers behind references (and references to references) are followed
    refs = {
        "Stream": stream,
        "Json": json_body,
        "Again": {"$ref": "#/components/responses/Stream"},
    }
    assert _json_only(_pipeline({"200": {"$ref": "#/components/responses/Json"}}, refs))
    assert not _json_only(_pipeline({"200": {"$ref": "#/components/responses/Stream"}}, refs))
    assert not _json_only(_pipeline({"404": {"$ref": "#/components/responses/Again"}}, refs))


def test_a_rule_becomes_a_pattern_of_its_literal_text_and_named_values() -> None:
    pattern = PollLane._pattern("/x/v1/videos/<video_id>/parts/<string:part>.mp4")
    match = pattern.fullmatch("/x/v1/videos/video_1/parts/a-b~c.mp4")
    assert match is not None
    assert match.groupdict() == {"video_id": "video_1", "part": "a-b~c"}
    assert pattern.fullmatch("/x/v1/videos/video_1/parts/a-bXmp4") is None, "the dot is literal"
    assert pattern.fullmatch("/x/v1/videos/a/b/parts/c.mp4") is None, "one segment per value"
    assert pattern.fullmatch("/x/v1/videos//parts/c.mp4") is None
    assert PollLane._pattern("/gptge/v1/videos").fullmatch("/gptge/v1/videos")


def _rule(rule: str, endpoint: str, methods: Any = ("GET", "HEAD")) -> Any:
    return SimpleNamespace(rule=rule, endpoint=endpoint, methods=methods)


def test_a_route_is_the_lanes_only_when_no_other_get_route_could_share_its_paths() -> None:
    mine = "/p/v1/videos/<video_id>"
    others = [_rule(mine, "get")]
    assert PollLane._alone(mine, "get", others)
    # another GET route that a path of this one could reach: Flask decides
    assert not PollLane._alone(mine, "get", [*others, _rule("/p/v1/<kind>/<id>", "x")])
    assert not PollLane._alone(mine, "get", [*others, _rule("/p/v1/videos/latest", "x")])
    # other methods, or rules no path shares, are no rival
    assert PollLane._alone(mine, "get", [*others, _rule("/p/v1/videos/<id>", "x", ("POST",))])
    assert PollLane._alone(mine, "get", [*others, _rule("/p/v1/videos/<id>", "x", None)])
    assert PollLane._alone(mine, "get", [*others, _rule("/p/v1/videos/<id>/content", "x")])
    # only plain string parameters: a converter of another kind is Flask's to apply
    assert PollLane._alone("/p/<string:id>", "get", [])
    assert not PollLane._alone("/p/<int:id>", "get", [])
    assert not PollLane._alone("/p/<path:rest>", "get", [])


# --------------------------------------------------------------------- a lane built afresh


class Fresh:
    """An app built in the test, with its console; who answered each request is recorded."""

    def __init__(self) -> None:
        self.app = create_app(test_config(log_format="json"))
        self.console = io.StringIO()
        self.app.extensions["sora_mock_console"] = RequestLog("json", self.console)
        edge = self.app.wsgi_app  # the Host check, outermost (guard.HostCheck)
        lane = getattr(edge, "inner", None)
        assert isinstance(lane, PollLane)
        self.lane = lane
        self.flask_saw: list[str] = []
        inner = lane.inner

        def recording(environ: dict[str, Any], start_response: Any) -> Any:
            self.flask_saw.append(environ.get("PATH_INFO", "<none>"))
            return inner(environ, start_response)

        lane.inner = recording
        self.client = Client(lane)
        api = APIS["gptge-videos"]
        with SoraMock(self.app).client(api.provider) as client:
            self.job = api.job_id(api.create(client, AUTH).json())
        self.flask_saw.clear()

    def call(self, **builder: Any) -> tuple[str, list[bytes]]:
        environ = EnvironBuilder(**builder).get_environ()
        return self.raw(environ)

    def raw(self, environ: dict[str, Any]) -> tuple[str, list[bytes]]:
        status: list[str] = []
        body = self.lane(environ, lambda s, h, *_: status.append(s))
        return (status[0] if status else "", list(body))


@pytest.fixture
def fresh() -> Fresh:
    return Fresh()


def test_the_lane_keys_its_routes_by_the_mocks_first_path_segment(fresh: Fresh) -> None:
    assert set(fresh.lane.routes) == {"gptproto", "gptge", "vtrix"}
    paths = {
        "gptge": [f"/gptge/v1/videos/{fresh.job}", "/gptge/v1/videos"],
        "vtrix": ["/vtrix/model/v1/generation/task/t1"],
        "gptproto": ["/gptproto/v1/videos/v1", "/gptproto/api/v3/predictions/p1/result"],
    }
    for prefix, examples in paths.items():
        for path in examples:
            assert any(p.fullmatch(path) for p, _ in fresh.lane.routes[prefix]), path


def test_a_status_poll_is_answered_journalled_and_logged_by_the_lane(fresh: Fresh) -> None:
    path = f"/gptge/v1/videos/{fresh.job}"
    response = fresh.client.get(path, headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["id"] == fresh.job
    assert fresh.flask_saw == [], "Flask never saw it"
    entry = service_of(fresh.app).journal(1)[-1]
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", path, 200)
    assert fresh.app.extensions["sora_mock_console"].flush()
    line = json.loads(fresh.console.getvalue().splitlines()[-1])
    assert (line["method"], line["path"], line["status"]) == ("GET", path, 200)


def test_the_lane_passes_the_named_job_to_the_stores_read(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service_of(fresh.app).store
    hints: list[str | None] = []
    read_instant = store.read_instant

    def recorded(job_hint: str | None = None) -> Any:
        hints.append(job_hint)
        return read_instant(job_hint)

    monkeypatch.setattr(store, "read_instant", recorded)
    assert fresh.client.get(f"/gptge/v1/videos/{fresh.job}", headers=AUTH).status_code == 200
    assert fresh.client.get("/gptge/v1/videos", headers=AUTH).status_code == 200
    assert hints == [fresh.job, None]


@pytest.mark.parametrize(
    ("change", "lane_takes_it"),
    [
        ({}, True),
        ({"CONTENT_LENGTH": ""}, True),
        ({"CONTENT_LENGTH": "0"}, True),
        ({"CONTENT_LENGTH": "2"}, False),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, False),
        ({"REQUEST_METHOD": "DELETE"}, False),
        ({"PATH_INFO": "/gptge/v1/videos/a/b"}, False),
        ({"PATH_INFO": "/elsewhere/v1/videos"}, False),
        ({"PATH_INFO": "/"}, False),
    ],
)
def test_only_a_get_without_a_body_on_a_lane_route_takes_the_lane(
    fresh: Fresh, change: dict[str, str], lane_takes_it: bool
) -> None:
    environ = EnvironBuilder(path="/gptge/v1/videos", headers=AUTH).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update(change)
    status, _ = fresh.raw(environ)
    assert status
    assert fresh.flask_saw == ([] if lane_takes_it else [environ["PATH_INFO"]])


def test_a_request_without_a_path_goes_to_flask(fresh: Fresh) -> None:
    environ = EnvironBuilder(path="/", headers=AUTH).get_environ()
    del environ["PATH_INFO"]
    status, _ = fresh.raw(environ)
    assert status
    assert fresh.flask_saw == ["<none>"]


def test_an_http_error_raised_on_the_lane_is_answered_as_flask_answers_it(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.providers import registered

    GptgeVideos = registered()["gptge-videos"]  # served from its declaration

    def busy(*args: Any) -> Any:
        raise Conflict("the job is busy")

    monkeypatch.setattr(GptgeVideos, "render", busy)
    path = f"/gptge/v1/videos/{fresh.job}"
    via_lane = fresh.client.get(path, headers=AUTH)
    assert fresh.flask_saw == []
    via_flask = Client(fresh.lane.inner).get(path, headers=AUTH)
    assert via_lane.status_code == via_flask.status_code == 409
    assert via_lane.get_json() == via_flask.get_json()
    assert "the job is busy" in json.dumps(via_lane.get_json())
    assert service_of(fresh.app).journal(1)[-1]["status"] == 409


def test_an_http_error_without_code_or_text_is_a_500_named_by_its_kind(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.providers import registered

    GptgeVideos = registered()["gptge-videos"]  # served from its declaration

    def bare(*args: Any) -> Any:
        raise HTTPException()

    monkeypatch.setattr(GptgeVideos, "render", bare)
    response = fresh.client.get(f"/gptge/v1/videos/{fresh.job}", headers=AUTH)
    assert response.status_code == 500
    assert "Unknown Error" in json.dumps(response.get_json())


def test_an_unexpected_error_on_the_lane_is_logged_with_the_request(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mockserver.providers import registered

    GptgeVideos = registered()["gptge-videos"]  # served from its declaration

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in a dialect")

    monkeypatch.setattr(GptgeVideos, "render", broken)
    path = f"/gptge/v1/videos/{fresh.job}"
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        response = fresh.client.get(path, headers=AUTH)
    service_of(fresh.app).errors.clear()
    assert response.status_code == 500
    assert f"unexpected error in the mock at GET {path}" in caplog.text


# ------------------------------------------------------------------------------ creates


def test_the_lane_keys_its_creates_by_the_mocks_first_path_segment(fresh: Fresh) -> None:
    assert set(fresh.lane.creates) == {"gptproto", "gptge", "vtrix", "openrouter"}
    paths = {
        "gptge": ["/gptge/v1/videos", f"/gptge/v1/videos/{fresh.job}/remix"],
        "vtrix": ["/vtrix/model/v1/generation"],
        "gptproto": [
            "/gptproto/v1/videos",
            "/gptproto/api/v3/openai/reverse/sora-2/image-to-video",
        ],
        "openrouter": ["/openrouter/api/v1/videos"],
    }
    for prefix, examples in paths.items():
        for path in examples:
            assert any(p.fullmatch(path) for p, _ in fresh.lane.creates[prefix]), path


@pytest.mark.parametrize(
    ("change", "lane_takes_it"),
    [
        ({}, True),
        ({"CONTENT_LENGTH": "0"}, True),
        ({"CONTENT_LENGTH": ""}, False),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, False),
        ({"REQUEST_METHOD": "PUT"}, False),
        ({"PATH_INFO": "/gptge/v1/videos/a"}, False),
        ({"PATH_INFO": "/__mock/reset"}, False),
        ({"PATH_INFO": "/"}, False),
    ],
)
def test_only_a_post_of_known_length_on_a_create_route_takes_the_lane(
    fresh: Fresh, change: dict[str, str], lane_takes_it: bool
) -> None:
    body = json.dumps({"model": "sora_2_pro_i2v", "prompt": "stairs"}).encode()
    environ = EnvironBuilder(
        path="/vtrix/model/v1/generation",
        method="POST",
        data=body,
        headers={**AUTH, "Content-Type": "application/json", "X-Mock-Client": "tests"},
    ).get_environ()
    environ.update(change)
    status, _ = fresh.raw(environ)
    assert status
    assert fresh.flask_saw == ([] if lane_takes_it else [environ["PATH_INFO"]])


def test_a_post_without_a_path_goes_to_flask(fresh: Fresh) -> None:
    environ = EnvironBuilder(path="/", method="POST", data=b"{}", headers=AUTH).get_environ()
    del environ["PATH_INFO"]
    status, _ = fresh.raw(environ)
    assert status
    assert fresh.flask_saw == ["<none>"]


def _view(is_create: bool) -> Any:
    def view() -> None:
        return None

    pipeline = _pipeline({"200": {"content": {"application/json": {}}}})
    view.pipeline = SimpleNamespace(is_create=is_create, **vars(pipeline))  # type: ignore[attr-defined]
    return view


def _lane_over(rules: list[Any], creates: set[str]) -> PollLane:
    """A lane over these rules alone (endpoint -> a pipeline that creates when named)."""
    app = SimpleNamespace(
        extensions={"sora_mock": None, "sora_mock_edge": None},
        config={},
        url_map=SimpleNamespace(iter_rules=lambda: rules),
        view_functions={r.endpoint: _view(r.endpoint in creates) for r in rules},
    )
    return PollLane(app, None, None, None, None)  # type: ignore[arg-type]


def test_a_post_route_is_the_lanes_when_it_creates_and_no_other_post_route_shares_it() -> None:
    rules = [
        _rule("/p/v1/things/<id>", "delete", ("DELETE",)),  # neither: passed over
        _rule("/p/v1/videos", "create", ("POST",)),
        _rule("/p/v1/notes", "note", ("POST",)),  # a POST that creates nothing: Flask's
        _rule("/p/v1/tasks/<id>", "task", ("POST",)),
        _rule("/p/v1/tasks/latest", "latest", ("POST",)),  # shares the one above: Flask's
        _rule("/p/v1/videos/<id>", "read"),
    ]
    lane = _lane_over(rules, {"create", "task", "latest", "delete"})
    taken = {p.pattern for routes in lane.creates.values() for p, _ in routes}
    assert taken == {"/p/v1/videos"}
    assert {p.pattern for routes in lane.routes.values() for p, _ in routes} == {
        "/p/v1/videos/(?P<id>[A-Za-z0-9_.~-]+)"
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_405_raised_on_the_lane_names_the_method_as_flasks_does(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    from werkzeug.exceptions import MethodNotAllowed

    from mockserver.providers import registered

    def refused(*args: Any) -> Any:
        raise MethodNotAllowed(["PUT"])

    if method == "GET":  # (a handler's method is read once; these are called through self)
        monkeypatch.setattr(registered()["gptge-videos"], "render", refused)
        builder: dict[str, Any] = {"path": f"/gptge/v1/videos/{fresh.job}", "headers": AUTH}
    else:
        monkeypatch.setattr(registered()["vtrix-generation"], "refuse_model", refused)
        builder = {"path": "/vtrix/model/v1/generation", "headers": AUTH, "method": "POST"}
        builder["json"] = {"model": "sora_2_pro_i2v", "prompt": "x", "size": "1280x720"}
    answers = []
    for client in (fresh.client, Client(fresh.lane.inner)):
        response = client.open(**builder)
        answers.append((response.status_code, response.headers.get("Allow"), response.get_json()))
    assert fresh.flask_saw == [builder["path"]], "the lane answered first, then Flask"
    assert answers[0] == answers[1]
    assert answers[0][:2] == (405, "PUT")
    assert f"Method {method} is not allowed" in json.dumps(answers[0][2])


def test_an_unexpected_error_in_a_create_is_logged_with_the_request(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mockserver.providers import registered

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in a dialect")

    monkeypatch.setattr(registered()["vtrix-generation"], "refuse_model", broken)
    path = "/vtrix/model/v1/generation"
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        body = {"model": "sora_2_pro_i2v", "prompt": "x", "size": "1280x720"}
        response = fresh.client.post(path, json=body, headers=AUTH)
    service_of(fresh.app).errors.clear()
    assert response.status_code == 500
    assert fresh.flask_saw == []
    assert f"unexpected error in the mock at POST {path}" in caplog.text


def test_a_create_the_edge_refuses_is_answered_by_the_lane_in_the_providers_shape(
    fresh: Fresh,
) -> None:
    path = "/vtrix/model/v1/generation"
    headers = {**AUTH, "Content-Type": "application/json"}
    via_lane = fresh.client.post(path, data=b'{"model": NaN}', headers=headers)
    assert fresh.flask_saw == []
    via_flask = Client(fresh.lane.inner).post(path, data=b'{"model": NaN}', headers=headers)
    assert via_lane.status_code == via_flask.status_code == 400
    assert via_lane.get_json() == via_flask.get_json()
    assert "NaN is not a JSON number" in json.dumps(via_lane.get_json())
