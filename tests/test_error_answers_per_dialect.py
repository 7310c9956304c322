"""Each provider dialect answers an error in its own shape, and the mock's JSON answers carry
what they were given (status, headers, the JSON type), and tell the journal the message."""

from __future__ import annotations

import pytest

from mockserver.dialects import DIALECTS, registered
from mockserver.responses import error_response, json_response

GptgeVideos = registered()["gptge-videos"]  # served from its declaration
GptprotoVideos = registered()["gptproto-videos"]  # served from its declaration


def test_every_provider_dialect_is_registered() -> None:
    found = registered()
    # the Python dialects (registered as their modules are imported), then the declared ones
    assert {name: found[name] for name in DIALECTS} == DIALECTS
    assert set(found) - set(DIALECTS) == {
        "gptge-videos",
        "gptproto-v3",
        "gptproto-videos",
        "openrouter-videos",
        "vtrix-generation",
    }
    assert {
        "gptproto-v3",
        "gptproto-videos",
        "gptproto-chat",
        "gptge-videos",
        "vtrix-generation",
    } <= set(found)


def test_gptge_answers_errors_in_openais_shape() -> None:
    body = GptgeVideos.error_body(GptgeVideos, 400, "bad size", code="invalid_size", param="size")  # type: ignore[arg-type]
    assert body == {
        "error": {
            "message": "bad size",
            "type": "invalid_request_error",
            "param": "size",
            "code": "invalid_size",
        }
    }
    plain = GptgeVideos.error_body(GptgeVideos, 404, "no video")  # type: ignore[arg-type]
    assert plain["error"]["param"] is None and plain["error"]["code"] is None


def test_gptproto_videos_answers_errors_in_gptprotos_shape() -> None:
    body = GptprotoVideos.error_body(
        GptprotoVideos, 400, "bad size", code="invalid_size", param="size"
    )  # type: ignore[arg-type]
    assert body == {
        "error": {"message": "bad size", "type": "400", "code": "invalid_size", "param": "size"}
    }
    plain = GptprotoVideos.error_body(GptprotoVideos, 404, "no video")  # type: ignore[arg-type]
    assert plain == {"error": {"message": "no video", "type": "404"}}


def test_a_json_answer_has_its_status_headers_and_type() -> None:
    answer = json_response({"a": [1, "é"]}, 202, {"Retry-After": "3"})
    assert answer.status_code == 202
    assert answer.mimetype == "application/json"
    assert answer.headers["Retry-After"] == "3"
    assert answer.get_data() == '{"a":[1,"é"]}'.encode()
    assert json_response(None).status_code == 200


@pytest.mark.parametrize("dialect", [GptgeVideos, GptprotoVideos])
def test_an_error_answer_is_the_dialects_body_with_its_status(dialect: type) -> None:
    answer = error_response(
        dialect.__new__(dialect), 429, "slow down", code="rate", param="p", headers={"X-A": "1"}
    )
    assert answer.status_code == 429
    assert answer.headers["X-A"] == "1"
    assert answer.mimetype == "application/json"
    assert answer.json == dialect.error_body(dialect, 429, "slow down", code="rate", param="p")


def test_the_journal_keeps_the_error_message_answered() -> None:
    from mockserver.app import create_app
    from mockserver.testing import test_config

    app = create_app(test_config())
    answer = app.test_client().get(
        "/gptge/v1/videos/video_none", headers={"Authorization": "Bearer sk-x"}
    )
    assert answer.status_code == 404
    (entry,) = app.test_client().get("/__mock/journal").json["data"]
    assert entry["error"] == answer.json["error"]["message"]
