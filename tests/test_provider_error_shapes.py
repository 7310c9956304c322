"""The three error bodies the mock answers with (mockserver.providers.errors), one per provider
family: GPTProto's status as the type, OpenAI's types (and the relay's own for its own
errors), Vtrix's task error with the field named in the message."""

from __future__ import annotations

import pytest

from contracts._declaration import declarations
from mockserver.providers.errors import PREFIX_ERRORS, gptproto_error

# Vtrix is declared (contracts/vtrix-generation.yaml): its family is its error template
vtrix_error = PREFIX_ERRORS["vtrix"]
# so is gpt.ge (contracts/gptge-videos.yaml): OpenAI's shape, its types declared by status and
# code (`errors.types`); the relay's own codes are those declared with the relay's type
openai_error = PREFIX_ERRORS["gptge"]
GPTGE = next(d for d in declarations() if d.prefix == "gptge")
RELAY_CODES = {code for code, kind in GPTGE.error_types.items() if kind == "new_api_error"}


def test_gptproto_names_the_status_as_the_type_and_adds_what_it_is_given() -> None:
    assert gptproto_error(400, "bad size") == {"error": {"message": "bad size", "type": "400"}}
    assert gptproto_error(429, "slow", code="rate_limit_exceeded", param="model") == {
        "error": {
            "message": "slow",
            "type": "429",
            "code": "rate_limit_exceeded",
            "param": "model",
        }
    }
    assert gptproto_error(401, "no key", code="invalid_api_key")["error"] == {
        "message": "no key",
        "type": "401",
        "code": "invalid_api_key",
    }
    assert gptproto_error(404, "gone", param="id")["error"] == {
        "message": "gone",
        "type": "404",
        "param": "id",
    }


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (404, "invalid_request_error"),
        (416, "invalid_request_error"),
        (418, "invalid_request_error"),
        (499, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
    ],
)
def test_openai_types_each_status(status: int, kind: str) -> None:
    assert openai_error(status, "m") == {
        "error": {"message": "m", "type": kind, "param": None, "code": None}
    }


def test_the_relays_own_errors_carry_the_relays_type() -> None:
    assert RELAY_CODES == {
        "insufficient_user_quota",
        "pre_consume_token_quota_failed",
        "access_denied",
        "model_not_found",
    }
    for code in sorted(RELAY_CODES):
        error = openai_error(403, "no", code=code, param="model")["error"]
        assert error == {"message": "no", "type": "new_api_error", "param": "model", "code": code}
    passed_on = openai_error(400, "blocked", code="moderation_blocked")["error"]
    assert passed_on["type"] == "invalid_request_error"


def test_vtrix_names_the_field_in_its_message_and_the_status_as_default_code() -> None:
    assert vtrix_error(400, "is required", param="prompt") == {
        "error": {"code": "400", "error_message": "prompt: is required"}
    }
    assert vtrix_error(400, "prompt is required", param="prompt")["error"] == {
        "code": "400",
        "error_message": "prompt is required",
    }
    assert vtrix_error(500, "down", code="003000095")["error"] == {
        "code": "003000095",
        "error_message": "down",
    }
    assert vtrix_error(404, "not found", param="")["error"]["error_message"] == "not found"


def test_each_mock_prefix_has_its_family() -> None:
    # gptproto-v3 is declared, but its prefix's family is the Python dialects' it shares it with
    declared = {d.prefix for d in declarations()} - {"gptproto"}
    assert {p: f for p, f in PREFIX_ERRORS.items() if p not in declared} == {
        "gptproto": gptproto_error,
    }
    # a declared provider's family is its declaration's error template
    assert PREFIX_ERRORS["openrouter"](404, "gone") == {"error": {"code": 404, "message": "gone"}}
