"""The poll lane (mockserver.http.lane) answers exactly as Flask's path would, and does take polls.

The lane is the outermost WSGI layer of the app; ``lane.inner`` is the app behind it (the
edge and Flask). Each example sends one request through both and compares everything a client
or a user sees: status, headers but the request id, body bytes, the journal entry and the
console line. Reads change nothing a second read would see (scenario rules are given two uses,
one for each path), so the two answers must be equal.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from providers import APIS
from werkzeug.test import Client

from mockserver.http.app import create_app, service_of
from mockserver.http.console import RequestLog
from mockserver.http.lane import PollLane
from mockserver.testing import SoraMock, test_config

#: the contract operations the lane must take: every status poll and job list
LANE_OPERATIONS = {
    ("gptproto", "getPredictionResult"),
    ("gptproto", "getVideo"),
    ("gptproto", "listVideos"),
    ("gptge", "getVideo"),
    ("gptge", "listVideos"),
    ("vtrix", "getGenerationTask"),
}
READS = {
    "gptproto-v3": lambda i: f"/gptproto/api/v3/predictions/{i}/result",
    "gptproto-videos": lambda i: f"/gptproto/v1/videos/{i}",
    "gptge-videos": lambda i: f"/gptge/v1/videos/{i}",
    "vtrix-generation": lambda i: f"/vtrix/model/v1/generation/task/{i}",
    "gptge-list": lambda i: "/gptge/v1/videos",
    "gptproto-list": lambda i: "/gptproto/v1/videos",
}


class Both:
    """One app, reached through the lane and around it."""

    def __init__(self, **config: Any) -> None:
        self.app = create_app(test_config(log_format="json", **config))
        self.console = io.StringIO()
        self.app.extensions["sora_mock_console"] = RequestLog("json", self.console)
        self.mock = SoraMock(self.app)
        edge = self.app.wsgi_app  # the Host check, outermost (guard.HostCheck)
        lane = getattr(edge, "inner", None)
        assert isinstance(lane, PollLane)
        self.lane = lane
        self.via_lane = Client(lane)
        self.via_flask = Client(lane.inner)
        self.jobs: dict[str, str] = {}
        for name in ("gptproto-v3", "gptproto-videos", "gptge-videos", "vtrix-generation"):
            api = APIS[name]
            with self.mock.client(api.provider) as client:
                created = api.create(client, {"Authorization": "Bearer sk-test"})
            assert created.status_code == 200, created.text
            self.jobs[name] = api.job_id(created.json())

    def last(self) -> tuple[dict[str, Any], dict[str, Any]]:
        journal = service_of(self.app).journal(1)[-1]
        assert self.app.extensions["sora_mock_console"].flush()
        line = json.loads(self.console.getvalue().splitlines()[-1])
        for volatile in ("request_id", "latency_ms"):
            journal.pop(volatile)
            line.pop(volatile, None)
        line.pop("time")
        return journal, line


@pytest.fixture(scope="module")
def shared() -> Both:
    return Both()


@pytest.fixture
def both(shared: Both) -> Both:
    service_of(shared.app).store.clear_rules()
    return shared


def test_the_lane_takes_every_status_poll_and_job_list_and_nothing_else(both: Both) -> None:
    taken = {
        (pipeline.dialect.prefix, pipeline.op.operation_id)
        for routes in both.lane.routes.values()
        for _, pipeline in routes
    }
    assert taken == LANE_OPERATIONS


def test_a_poll_taken_by_the_lane_never_reaches_flask(both: Both) -> None:
    reached: list[str] = []
    inner = both.lane.inner

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        reached.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    both.lane.inner = spy
    try:
        headers = {"Authorization": "Bearer sk-test"}
        path = READS["gptge-videos"](both.jobs["gptge-videos"])
        assert Client(both.lane).get(path, headers=headers).status_code == 200
        assert reached == []
        # a body, a trailing slash or another method: Flask's
        Client(both.lane).get(path, headers=headers, data=b"x")
        Client(both.lane).get(path + "/", headers=headers)
        Client(both.lane).head(path, headers=headers)
        assert reached == [path, path + "/", path]
    finally:
        both.lane.inner = inner


KEYS = st.sampled_from(
    [
        {"Authorization": "Bearer sk-test"},
        {"Authorization": "Bearer sk-other"},
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "sk-raw-key"},
    ]
)
SCENARIO = st.sampled_from(
    [None, "server_error", "rate_limited", "content_policy", "nonsense", "unauthorized"]
)
RULE = st.sampled_from([None, "insufficient_balance", "forbidden", "generation_failed"])
QUERY = st.sampled_from(
    [{}, {"foo": "1"}, {"limit": "2"}, {"limit": "x"}, {"order": "asc"}, {"after": "nope"}]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    read=st.sampled_from(sorted(READS)),
    which=st.sampled_from(["own", "other", "unknown"]),
    headers=KEYS,
    scenario=SCENARIO,
    rule=RULE,
    query=QUERY,
    advance=st.sampled_from([0, 7, 45, 400, 100_000]),
)
def test_the_lane_answers_exactly_as_flask_would(
    both: Both,
    read: str,
    which: str,
    headers: dict[str, str],
    scenario: str | None,
    rule: str | None,
    query: dict[str, str],
    advance: int,
) -> None:
    both.mock.advance(advance)
    owners = sorted(both.jobs)
    job = {
        "own": both.jobs.get(read, both.jobs["gptge-videos"]),
        "other": both.jobs[owners[(owners.index(read) + 1) % len(owners)]]
        if read in both.jobs
        else both.jobs["vtrix-generation"],
        "unknown": "video_0123456789abcdef",
    }[which]
    path = READS[read](job)
    if scenario is not None:
        headers = headers | {"X-Mock-Scenario": scenario}
    service = service_of(both.app)
    service.store.clear_rules()
    if rule is not None:  # one use for each path
        service.store.add_rule(rule, None, None, 2)

    answers, records = [], []
    for client in (both.via_flask, both.via_lane):
        response = client.get(path, headers=headers, query_string=query)
        assert response.headers["x-request-id"].startswith("req_")
        answers.append(
            (
                response.status_code,
                sorted((k, v) for k, v in response.headers.items() if k != "x-request-id"),
                response.get_data(),
            )
        )
        records.append(both.last())
    assert answers[0] == answers[1]
    assert records[0] == records[1]
    assert records[0][0]["path"] == path


def test_an_unexpected_error_is_the_same_500_and_is_counted(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.providers import registered

    GptgeVideos = registered()["gptge-videos"]  # served from its declaration

    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("a bug in a dialect")

    headers = {"Authorization": "Bearer sk-test"}
    api = APIS["gptge-videos"]
    with both.mock.client(api.provider) as client:  # a job the clock has not expired
        path = READS["gptge-videos"](api.job_id(api.create(client, headers).json()))
    monkeypatch.setattr(GptgeVideos, "render", broken)
    service = service_of(both.app)
    before = service.error_count
    answers = []
    for client in (both.via_flask, both.via_lane):
        response = client.get(path, headers=headers)
        answers.append((response.status_code, response.get_json(), both.last()))
    service.errors.clear()
    assert service.error_count == before + 2
    assert answers[0] == answers[1]
    assert answers[1][0] == 500
    assert answers[1][1]["error"]["message"] == "An internal server error occurred in the mock"


def test_a_poll_reads_the_shared_clock_once(both: Both, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store read per clock read: a poll is answered at one instant, read once (its
    expiry check, its state and its journal time agree)."""
    service = service_of(both.app)
    reads: list[float] = []
    clock_now = service.clock.now

    def counted() -> float:
        reads.append(clock_now())
        return reads[-1]

    monkeypatch.setattr(service.clock, "now", counted)
    headers = {"Authorization": "Bearer sk-test"}
    api = APIS["gptge-videos"]
    with both.mock.client(api.provider) as client:
        path = READS["gptge-videos"](api.job_id(api.create(client, headers).json()))
    reads.clear()
    assert both.via_lane.get(path, headers=headers).status_code == 200
    assert len(reads) == 1
    assert both.last()[0]["time"] == reads[0]
    reads.clear()
    assert both.via_lane.get("/gptge/v1/videos", headers=headers).status_code == 200
    assert len(reads) == 1  # a page of jobs, each with its state: one read


def test_a_store_outage_is_the_same_503_with_retry_after_and_is_counted(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.state.store_guard import StoreUnavailable

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("disk full")

    service = service_of(both.app)
    path = READS["gptge-videos"](both.jobs["gptge-videos"])
    headers = {"Authorization": "Bearer sk-test"}
    counted: list[str] = []
    assert service.metrics is not None
    monkeypatch.setattr(service.metrics, "store_error", counted.append)
    monkeypatch.setattr(service.store, "read_instant", down)
    monkeypatch.setattr(service.store, "get", down)
    answers = []
    for client in (both.via_flask, both.via_lane):
        response = client.get(path, headers=headers)
        seen = [(k, v) for k, v in response.headers.items() if k != "x-request-id"]
        answers.append((response.status_code, seen, response.get_json()))
    assert answers[0] == answers[1]
    status, seen, body = answers[1]
    assert status == 503 and ("Retry-After", "1") in seen
    assert "disk full" in body["error"]["message"]
    assert counted == ["request", "request"]


def test_a_lane_request_without_a_query_has_werkzeugs_empty_args(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    from werkzeug.datastructures import ImmutableMultiDict

    from mockserver.http import binding

    seen: list[Any] = []
    validate = binding.validate_request

    def spied(operation: Any, req: Any, path_params: Any) -> Any:
        seen.append(req.args)
        return validate(operation, req, path_params)

    monkeypatch.setattr(binding, "validate_request", spied)
    path = READS["gptge-videos"](both.jobs["gptge-videos"])
    headers = {"Authorization": "Bearer sk-test"}
    for asked in (path, path + "?", "/gptge/v1/videos?limit=2"):  # (answered 200 or 404)
        assert both.via_lane.get(asked, headers=headers).status_code in (200, 404)
    assert [type(args) for args in seen] == [ImmutableMultiDict] * 3
    assert [dict(args) for args in seen] == [{}, {}, {"limit": "2"}]


@pytest.mark.parametrize(
    "body", [[b'{"a":', b"1}"], (b'{"a":1}',), [b""], ['{"a":1}'], iter([b'{"a":1}'])]
)
def test_an_answer_not_in_one_piece_of_bytes_is_joined_as_werkzeug_joins_it(
    both: Both, monkeypatch: pytest.MonkeyPatch, body: Any
) -> None:
    from flask import Response

    from mockserver.http import lane

    expected = b"".join(x.encode() if isinstance(x, str) else x for x in list(body))
    if isinstance(body, type(iter([]))):
        body = iter([expected])

    def pieces(*args: Any, **kwargs: Any) -> Response:
        response = Response(status=200, content_type="application/json")
        response.response = body
        return response

    monkeypatch.setattr(lane.exchange, "finish", pieces)
    path = READS["gptge-videos"](both.jobs["gptge-videos"])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_AUTHORIZATION": "Bearer k"}
    out = both.lane(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda s, h, e=None: None)
    assert type(out) is list and b"".join(out) == expected
    assert len(out) == 1


def test_an_answer_in_one_piece_of_bytes_is_handed_over_as_it_is(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask import Response

    from mockserver.http import lane

    body = [b'{"a":1}']

    def one_piece(*args: Any, **kwargs: Any) -> Response:
        response = Response(status=200, content_type="application/json")
        response.response = body
        return response

    monkeypatch.setattr(lane.exchange, "finish", one_piece)
    path = READS["gptge-videos"](both.jobs["gptge-videos"])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_AUTHORIZATION": "Bearer k"}
    out = both.lane(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda s, h, e=None: None)
    assert out is body
