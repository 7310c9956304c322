"""The request pipeline every provider route goes through (mockserver/http/binding.py), step by
step: what each step records in the journal, which scenarios a read ignores, how a refusal names its
problems, and what strict mode does with a response that breaks its contract."""

from __future__ import annotations

import io
import logging

import pytest
from flask import Response
from PIL import Image

import contracts
from mockserver.http import exchange
from mockserver.http.app import create_app, service_of
from mockserver.http.binding import check_response, openapi_request
from mockserver.state.lifecycle import key_fingerprint
from mockserver.testing import SoraMock, test_config

KEY = "sk-test"
HEADERS = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def sora_mock() -> SoraMock:
    """An app of its own per test (not the session's): the pipeline's views are made when an
    app is built, so a bug in making them shows only in an app built by the test."""
    return SoraMock(create_app(test_config()))


def png(width: int = 720, height: int = 1280) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def test_the_journal_names_the_operation_the_key_the_scenario_and_the_job(
    sora_mock: SoraMock,
) -> None:
    with sora_mock.client("gptge") as client:
        response = client.get("/v1/videos/video_nope", headers={"X-Mock-Scenario": "server_error"})
    assert response.status_code == 500
    entry = sora_mock.journal[-1]
    assert (entry["provider"], entry["operation"], entry["status"]) == ("gptge", "getVideo", 500)
    assert entry["key"] == key_fingerprint(KEY) and KEY not in str(entry)
    assert (entry["scenario"], entry["job_id"]) == ("server_error", "video_nope")


def test_a_request_without_a_scenario_journals_none(sora_mock: SoraMock) -> None:
    with sora_mock.client("vtrix") as client:
        response = client.get("/model/v1/generation/task/task_nope")
    assert response.status_code == 404
    entry = sora_mock.journal[-1]
    assert (entry["operation"], entry["scenario"]) == ("getGenerationTask", None)


@pytest.mark.parametrize("scenario", ["content_policy", "generation_failed"])
def test_a_create_time_scenario_means_nothing_to_a_read(sora_mock: SoraMock, scenario: str) -> None:
    with sora_mock.client("gptge") as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "a cat", "size": "720x1280"},
            files={"input_reference": ("cat.png", png(), "image/png")},
        )
        assert created.status_code == 200, created.text
        job_id = created.json()["id"]
        read = client.get(f"/v1/videos/{job_id}", headers={"X-Mock-Scenario": scenario})
    assert read.status_code == 200, read.text
    assert read.json()["id"] == job_id and read.json()["status"] != "failed"


def test_a_scenario_header_is_read_before_any_rule(sora_mock: SoraMock) -> None:
    sora_mock.set_scenario("forbidden", api_key=KEY, times=1)
    with sora_mock.client("gptge") as client:
        first = client.get("/v1/videos", headers={"X-Mock-Scenario": "rate_limited"})
        second = client.get("/v1/videos")
        third = client.get("/v1/videos")
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert second.status_code == 403, "the header did not use up the rule"
    assert third.status_code == 200


def test_an_unknown_query_parameter_is_refused_by_name(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        response = client.get("/v1/videos", params={"limit": "2", "colour": "red", "zz": "1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "colour"
    assert error["message"] == "Unrecognized query parameter 'colour'"


def test_a_refusal_names_only_its_first_three_problems(
    sora_mock: SoraMock,
) -> None:
    with sora_mock.client("vtrix") as client:
        response = client.post(
            "/model/v1/generation",
            json={"model": 7, "params": {"prompt": 1, "seconds": "x", "size": 2, "extra": 3}},
        )
    assert response.status_code == 400
    message = response.json()["error"]["error_message"]
    # four problems (an unexpected `params`, no prompt, model twice): the first three, in order
    assert message.count("; ") == 2, message
    assert message.startswith("Additional properties are not allowed"), message
    assert "prompt" in message.split("; ")[1]


def test_a_body_of_the_wrong_media_type_is_415_and_a_bad_body_400(sora_mock: SoraMock) -> None:
    with sora_mock.client("vtrix") as client:
        wrong_type = client.post(
            "/model/v1/generation", content=b"x", headers={"Content-Type": "text/plain"}
        )
        bad = client.post("/model/v1/generation", json={"model": 7})
    assert (wrong_type.status_code, bad.status_code) == (415, 400)


def test_options_is_not_answered_for_a_provider_route(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        response = client.options("/v1/videos")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}


# ------------------------------------------------------------------ strict mode


@pytest.mark.parametrize("compiled", [True, False])
def test_strict_mode_records_and_logs_a_response_that_breaks_its_contract(
    compiled: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(test_config())
    service = service_of(app)
    contract = contracts.load("gptge-videos")
    operation = contract.compiled.operation("getVideo") if compiled else None
    notes = exchange.begin()
    notes.provider = "gptge"  # what the pipeline notes before the handler runs
    with app.test_request_context("/gptge/v1/videos/video_1"):
        broken = Response('{"id": 5}', status=200, mimetype="application/json")
        with caplog.at_level(logging.ERROR, logger="mockserver"):
            check_response(contract, service, None, broken, operation)
        undeclared = Response('{"id": 5}', status=418, mimetype="application/json")
        check_response(contract, service, None, undeclared, operation)
    exchange.end()
    assert len(service.violations) == 2
    # the operation found under the noted provider: the body's faults, not "path not found"
    assert service.violations[0].startswith("GET /gptge/v1/videos/video_1 -> 200: gptge-videos")
    assert "id: 5 is not of type 'string'" in service.violations[0]
    assert service.violations[1] == (
        "GET /gptge/v1/videos/video_1 -> 418: gptge-videos: status 418 is not declared"
    )
    assert any("response breaks its contract" in r.getMessage() for r in caplog.records)


def test_a_file_response_is_checked_and_still_sent_whole(sora_mock: SoraMock) -> None:
    with sora_mock.client("gptge") as client:
        created = client.post(
            "/v1/videos",
            data={"prompt": "a cat", "size": "720x1280"},
            files={"input_reference": ("cat.png", png(), "image/png")},
        ).json()
        sora_mock.advance(600)
        content = client.get(f"/v1/videos/{created['id']}/content")
    assert content.status_code == 200
    assert content.content[4:8] == b"ftyp"
    assert int(content.headers["content-length"]) == len(content.content)
    sora_mock.check()


def test_the_request_a_contract_judges_is_the_path_under_the_provider_prefix() -> None:
    app = create_app(test_config())
    with app.test_request_context("/gptge/v1/videos?limit=2", headers=HEADERS):
        request = openapi_request("gptge")
        assert (request.method, request.path) == ("get", "/v1/videos")
        assert request.parameters.query["limit"] == "2"
        assert request.body is None
    with app.test_request_context("/gptge"):
        assert openapi_request("gptge").path == "/gptge"
    with app.test_request_context("/gptgeX/v1/videos"):
        assert openapi_request("gptge").path == "/gptgeX/v1/videos"
    with app.test_request_context("/__mock/rules", method="POST", data=b'{"a": 1}'):
        request = openapi_request("")
        assert (request.path, request.body) == ("/__mock/rules", b'{"a": 1}')
