"""Each step of the request pipeline (mockserver/http/binding.py) on its own, in an app or a
:class:`~mockserver.http.binding.Pipeline` the test builds itself.

Pipelines are made when an app is built, and the session's app is built before any test runs:
these tests build their own (an app costs about 40 ms), so a bug in building one shows here.
Where a step's result is only seen by a handler (its :class:`~mockserver.providers.base.Context`)
or by the request's :class:`~mockserver.http.exchange.Exchange`, the test hands the pipeline a
handler of its own and reads what it was given.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, Request, Response, request
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import EnvironBuilder, encode_multipart

import contracts
from contracts import ContractViolation
from mockserver.http import exchange
from mockserver.http.app import create_app, registered, service_of
from mockserver.http.binding import (
    Pipeline,
    bind,
    check_response,
    openapi_request,
    validate_request,
)
from mockserver.providers.base import Context, Dialect
from mockserver.state.lifecycle import key_fingerprint
from mockserver.state.service import MockService
from mockserver.testing import SoraMock, test_config

KEY = "sk-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


def png(width: int = 720, height: int = 1280) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def client_of(app: Flask) -> FlaskClient:
    return app.test_client()


def error_of(response: Any) -> dict[str, Any]:
    """The OpenAI-shaped error object of a gptge answer."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def app() -> Flask:
    return create_app(test_config())


@pytest.fixture
def notes() -> Iterator[exchange.Exchange]:
    """An exchange of the test's own, as a request's would be (ended afterwards)."""
    yield exchange.begin()
    exchange.end()


@contextmanager
def noted(provider: str) -> Iterator[exchange.Exchange]:
    """The current exchange of a request the pipeline bound to ``provider``."""
    notes = exchange.begin()
    notes.provider = provider
    try:
        yield notes
    finally:
        exchange.end()


# ---------------------------------------------------------------------- credentials


def test_a_request_without_a_key_is_401_in_the_providers_words(app: Flask) -> None:
    response = client_of(app).get("/gptge/v1/videos")
    assert response.status_code == 401
    error = error_of(response)
    assert error["message"] == "Invalid signature: API key is missing or malformed"
    assert error["code"] == "invalid_api_key"


def test_a_key_outside_the_allowed_ones_is_401_in_the_providers_words() -> None:
    app = create_app(test_config(api_keys=("sk-allowed",)))
    refused = client_of(app).get("/gptge/v1/videos", headers=AUTH)
    allowed = client_of(app).get("/gptge/v1/videos", headers={"Authorization": "Bearer sk-allowed"})
    assert (refused.status_code, allowed.status_code) == (401, 200)
    error = error_of(refused)
    assert error["message"] == "Invalid signature: API key is not valid"
    assert error["code"] == "invalid_api_key"


# ---------------------------------------------------------------------- scenarios and limits


def test_an_unknown_scenario_is_a_400_naming_the_header(app: Flask) -> None:
    response = client_of(app).get(
        "/gptge/v1/videos", headers={**AUTH, "X-Mock-Scenario": "meteor_strike"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "X-Mock-Scenario"
    assert error["message"].startswith("unknown scenario 'meteor_strike'; known: ")


@pytest.mark.parametrize("scenario", ["server_error", "forbidden", "insufficient_balance"])
def test_only_the_rate_limited_scenario_says_when_to_retry(app: Flask, scenario: str) -> None:
    client = client_of(app)
    other = client.get("/gptge/v1/videos", headers={**AUTH, "X-Mock-Scenario": scenario})
    limited = client.get("/gptge/v1/videos", headers={**AUTH, "X-Mock-Scenario": "rate_limited"})
    assert other.status_code >= 400 and "Retry-After" not in other.headers
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("provider", "path", "code"),
    [
        ("gptge", "/gptge/v1/videos", "rate_limit_exceeded"),
        ("vtrix", "/vtrix/model/v1/generation/task/task_nope", "429"),
    ],
)
def test_the_rate_limit_answers_429_in_the_providers_words(
    provider: str, path: str, code: str
) -> None:
    app = create_app(test_config(rate_limit_rpm=1))
    client = client_of(app)
    first = client.get(path, headers=AUTH)
    second = client.get(path, headers=AUTH)
    assert first.status_code != 429 and second.status_code == 429
    assert second.headers["Retry-After"] == "60"  # one request a minute: the next in 60 s
    body = second.get_json()["error"]
    message = body["message"] if provider == "gptge" else body["error_message"]
    assert message == "Rate limit reached for requests per minute"
    assert body["code"] == code


def test_a_create_time_scenario_applies_to_a_create(app: Flask) -> None:
    # the pipeline knows a create from a read when it is built: an app of the test's own
    response = client_of(app).post(
        "/gptge/v1/videos",
        headers={**AUTH, "X-Mock-Scenario": "content_policy"},
        data={
            "prompt": "a cat",
            "size": "720x1280",
            "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
        },
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "moderation_blocked"
    assert SoraMock(app).jobs() == [], "a refused create stores no job"


# ---------------------------------------------------------------------- request validation


def test_a_path_parameter_its_contract_refuses_is_a_400(app: Flask) -> None:
    # the task id's pattern starts with a letter or digit: "-x" is refused by the contract
    # (not merely not found)
    response = client_of(app).get("/vtrix/model/v1/generation/task/-x", headers=AUTH)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "task_id" in response.get_json()["error"]["error_message"]


def test_a_refusal_is_its_contracts_first_three_problems_joined(
    app: Flask,
) -> None:
    body = {"model": 7, "params": {"prompt": 1, "seconds": "x", "size": 2, "extra": 3}}
    operation = contracts.load("vtrix-generation").compiled.operation("createGeneration")
    with pytest.raises(ContractViolation) as found:  # what the contract finds, in its order
        operation.validate_request(
            path={},
            query={},
            headers={},
            content_type="application/json",
            body=json.dumps(body).encode(),
            check_security=False,
        )
    problems = found.value.problems
    assert len(problems) > 3
    response = client_of(app).post("/vtrix/model/v1/generation", json=body, headers=AUTH)
    assert response.status_code == 400
    message = response.get_json()["error"]["error_message"]
    assert message == "; ".join(str(p) for p in problems[:3])


def test_a_multipart_text_field_past_the_form_memory_limit_is_413(app: Flask) -> None:
    # the body is read by Flask's form parser, so MAX_FORM_MEMORY_SIZE (1 MiB) applies
    boundary, body = encode_multipart(  # in memory (the test client would spool it to disk)
        {
            "prompt": "x" * (1024 * 1024 + 1),
            "size": "720x1280",
            "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
        }
    )
    response = client_of(app).post(
        "/gptge/v1/videos",
        headers=AUTH,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413, response.get_data(as_text=True)[:200]


def test_validate_request_leaves_a_multipart_body_readable(app: Flask) -> None:
    # called on a request nothing has read yet (no edge guard caching the body first)
    operation = contracts.load("gptge-videos").compiled.operation("createVideo")
    data = {
        "prompt": "a cat",
        "size": "720x1280",
        "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
    }
    with app.test_request_context("/gptge/v1/videos", method="POST", data=data, headers=AUTH):
        result = validate_request(operation, request, {})
        assert result.body["prompt"] == "a cat"
        assert result.body["size"] == "720x1280"
        assert request.files["input_reference"].filename == "cat.png"


def test_validate_request_leaves_a_json_body_readable(app: Flask) -> None:
    operation = contracts.load("vtrix-generation").compiled.operation("createGeneration")
    with app.test_request_context(
        "/vtrix/model/v1/generation", method="POST", json={"model": 7}, headers=AUTH
    ):
        with pytest.raises(ContractViolation):
            validate_request(operation, request, {})
        assert request.get_json() == {"model": 7}


# ---------------------------------------------------------------------- what a handler is given


def pipeline_of(app: Flask, endpoint: str, handler: Any) -> Pipeline:
    """A pipeline of the app's dialect and operation, with a handler of the test's own."""
    made: Pipeline = getattr(app.view_functions[endpoint], "pipeline")  # noqa: B009
    return Pipeline(made.dialect, made.op, handler)


def run(pipeline: Pipeline, path: str, path_params: dict[str, Any], **kwargs: Any) -> Response:
    """The pipeline's answer to a request built from ``kwargs`` (EnvironBuilder's)."""
    builder = EnvironBuilder(path=path, **kwargs)
    req = Request(builder.get_environ())
    try:
        return pipeline(req, path_params)
    finally:
        req.close()
        builder.close()


def test_a_handler_is_given_the_validated_request(app: Flask, notes: exchange.Exchange) -> None:
    seen: list[Context] = []

    def handler(dialect: Dialect, ctx: Context) -> Response:
        seen.append(ctx)
        return Response("{}", status=418, mimetype="application/json")

    pipeline = pipeline_of(app, "gptge-videos:getVideo", handler)
    response = run(
        pipeline,
        "/gptge/v1/videos/video_1",
        {"video_id": "video_1"},
        headers={**AUTH, "X-Mock-Scenario": "content_policy"},
    )
    assert response.status_code == 418
    (ctx,) = seen
    assert ctx.operation is pipeline.op and ctx.operation.operation_id == "getVideo"
    assert ctx.prefix == "gptge" and ctx.base_url == "http://localhost/gptge"
    assert ctx.path == {"video_id": "video_1"}
    assert ctx.api_key == KEY and ctx.body is None
    assert ctx.scenario is None, "a create-time scenario means nothing to a read"
    # and what the pipeline noted in the request's exchange (the journal's source)
    assert (notes.provider, notes.operation) == ("gptge", "getVideo")
    assert (notes.key, notes.scenario) == (key_fingerprint(KEY), "content_policy")


def test_a_create_handler_is_told_its_scenario_and_where_it_came_from(app: Flask) -> None:
    seen: list[Context] = []

    def handler(dialect: Dialect, ctx: Context) -> Response:
        seen.append(ctx)
        return Response("{}", status=418, mimetype="application/json")

    pipeline = pipeline_of(app, "gptge-videos:createVideo", handler)
    SoraMock(app).set_scenario("generation_failed", api_key=KEY, times=1)

    def create(**headers: str) -> Response:
        data = {
            "prompt": "a cat",
            "size": "720x1280",
            "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
        }
        with noted("gptge"):
            return run(
                pipeline, "/gptge/v1/videos", {}, method="POST", data=data, headers=AUTH | headers
            )

    statuses = [
        create(**{"X-Mock-Scenario": "generation_failed:boom"}).status_code,  # before the rule
        create().status_code,  # the rule, used up
        create().status_code,  # none left
    ]
    assert statuses == [418, 418, 418]
    given = [
        (c.scenario.scenario.value, c.scenario.argument, c.scenario.source)
        for c in seen[:2]
        if c.scenario is not None
    ]
    assert given == [("generation_failed", "boom", "header"), ("generation_failed", None, "rule")]
    assert seen[2].scenario is None


def test_strict_mode_records_a_handlers_broken_answer_and_still_sends_it(app: Flask) -> None:
    service = service_of(app)
    assert service.config.strict

    def handler(dialect: Dialect, ctx: Context) -> Response:
        return Response('{"id": 5}', status=200, mimetype="application/json")

    pipeline = pipeline_of(app, "gptge-videos:getVideo", handler)
    with app.test_request_context():
        response = run(pipeline, "/gptge/v1/videos/video_1", {"video_id": "video_1"}, headers=AUTH)
    assert (response.status_code, response.get_data()) == (200, b'{"id": 5}')
    (violation,) = service.violations
    assert violation.startswith("GET /gptge/v1/videos/video_1 -> 200: gptge-videos")


# ---------------------------------------------------------------------- bind


def test_bound_routes_refuse_options_even_in_an_app_that_answers_it_elsewhere() -> None:
    # a plain Flask app answers OPTIONS for every route unless told otherwise; bind says so
    service = MockService.from_config(test_config())
    app = Flask("plain")
    bind(app, registered()["gptge-videos"](service))
    response = app.test_client().options("/gptge/v1/videos")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "POST"}


# ---------------------------------------------------------------------- check_response


def listed(app: Flask) -> Response:
    """A real, valid answer of gptge's listVideos, as a fresh Response."""
    answer = client_of(app).get("/gptge/v1/videos", headers=AUTH)
    assert answer.status_code == 200
    return Response(answer.get_data(), status=200, headers=list(answer.headers.items()))


def test_without_an_operation_the_request_is_found_under_the_exchanges_provider(
    app: Flask,
) -> None:
    service = service_of(app)
    valid = listed(app)
    contract = contracts.load("gptge-videos")
    with app.test_request_context("/gptge/v1/videos", headers=AUTH), noted("gptge"):
        check_response(contract, service, None, valid)
    assert list(service.violations) == []


def test_without_an_operation_response_headers_are_checked_too(app: Flask) -> None:
    service = service_of(app)
    client = client_of(app)
    created = client.post(
        "/gptge/v1/videos",
        headers=AUTH,
        data={
            "prompt": "a cat",
            "size": "720x1280",
            "input_reference": (io.BytesIO(png()), "cat.png", "image/png"),
        },
    )
    assert created.status_code == 200, created.get_data(as_text=True)
    path = f"/gptge/v1/videos/{created.get_json()['id']}"
    read = client.get(path, headers=AUTH)
    assert read.status_code == 200 and "openai-poll-after-ms" in read.headers
    answer = Response(read.get_data(), status=200, headers=list(read.headers.items()))
    answer.headers["openai-poll-after-ms"] = "soon"  # the contract says digits
    contract = contracts.load("gptge-videos")
    with app.test_request_context(path, headers=AUTH), noted("gptge"):
        check_response(contract, service, None, answer)
    (violation,) = service.violations
    assert "openai-poll-after-ms" in violation, violation


def test_an_event_stream_is_checked_event_by_event(app: Flask) -> None:
    service = service_of(app)
    contract = contracts.load("gptproto-chat")
    operation = contract.compiled.operation("createChatCompletion")
    with (
        app.test_request_context("/gptproto/v1/chat/completions", method="POST"),
        noted("gptproto"),
    ):
        done = Response(b"data: [DONE]\n\n", mimetype="text/event-stream")
        check_response(contract, service, None, done, operation)
        assert list(service.violations) == []
        cut = Response(b"", mimetype="text/event-stream")
        check_response(contract, service, None, cut, operation)
    (violation,) = service.violations
    assert "does not end with '[DONE]'" in violation


def test_a_response_without_a_content_type_is_a_violation_not_a_crash(app: Flask) -> None:
    service = service_of(app)
    contract = contracts.load("gptge-videos")
    operation = contract.compiled.operation("listVideos")
    answer = listed(app)
    del answer.headers["Content-Type"]
    with app.test_request_context("/gptge/v1/videos"):
        check_response(contract, service, None, answer, operation)
    (violation,) = service.violations
    assert "unsupported content type" in violation


def test_a_violation_is_logged_as_it_is_recorded(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    service = service_of(app)
    contract = contracts.load("gptge-videos")
    operation = contract.compiled.operation("getVideo")
    with app.test_request_context("/gptge/v1/videos/video_1"):
        broken = Response('{"id": 5}', status=200, mimetype="application/json")
        with caplog.at_level(logging.ERROR, logger="mockserver"):
            check_response(contract, service, None, broken, operation)
    (violation,) = service.violations
    messages = [r.getMessage() for r in caplog.records if r.name == "mockserver"]
    assert messages == [f"response breaks its contract: {violation}"]


# ---------------------------------------------------------------------- openapi_request


def test_the_request_a_contract_judges_keeps_every_query_value_and_the_host(app: Flask) -> None:
    with app.test_request_context(
        "/gptge/v1/videos?order=asc&order=desc", base_url="http://mock.example:9000"
    ):
        judged = openapi_request("gptge")
    assert judged.parameters.query.getlist("order") == ["asc", "desc"]
    assert judged.host_url == "http://mock.example:9000/"


def test_the_request_a_contract_judges_leaves_the_body_readable(app: Flask) -> None:
    with app.test_request_context("/__mock/rules", method="POST", data=b'{"a": 1}'):
        first = openapi_request("")
        assert request.get_data() == b'{"a": 1}'
        assert openapi_request("").body == first.body == b'{"a": 1}'


def test_an_operation_the_contract_lets_anyone_call_needs_no_key_but_refuses_a_bad_one() -> None:
    """OpenRouter's model list (``security: [{}]`` among its alternatives): no
    ``Authorization`` at all is everyone's key, ""; one in a form the contract does not take
    is still a 401."""
    app = create_app(test_config())
    client = app.test_client()
    path = "/openrouter/api/v1/videos/models"
    assert client.get(path).status_code == 200
    (entry,) = service_of(app).journal()
    assert entry["key"] == key_fingerprint("")
    assert client.get(path, headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer sk-or"}).status_code == 200


@pytest.mark.parametrize(
    ("scenario", "path", "counted"),
    [
        ("rate_limited", "/gptge/v1/videos/video_x", [("rate_limited", "header")]),  # a read
        ("content_policy", "/gptge/v1/videos/video_x", []),  # create-only: nothing at a read
    ],
)
def test_a_scenario_is_counted_once_when_it_shapes_the_answer(
    monkeypatch: pytest.MonkeyPatch, scenario: str, path: str, counted: list[Any]
) -> None:
    app = create_app(test_config())
    metrics = service_of(app).metrics
    assert metrics is not None
    seen: list[Any] = []
    monkeypatch.setattr(metrics, "fault_injected", lambda *args: seen.append(args))
    headers = {"Authorization": "Bearer k", "X-Mock-Scenario": scenario}
    app.test_client().get(path, headers=headers)
    assert seen == counted
