"""How a provider's error answer becomes one typed error (``Adapter.error``, ``unexpected``):
the class each status and provider code maps to (content policy, retired model, balance,
auth, permission, not found, rate limit, other 4xx, 5xx, anything else), the message and code
read from any of the three error-body shapes the providers use, the request id, and the body
kept with the key redacted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sora_client import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    InsufficientBalanceError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from sora_client._providers import adapter_class
from sora_client._providers.base import _message_and_code, request_id

GptgeVideos = adapter_class("gptge")  # driven from its declaration

KEY = "sk-test-ERRORS-93ac1f"


def _error(status: int, body: Any = None, headers: dict[str, str] | None = None) -> APIError:
    content = (
        body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    )
    response = httpx.Response(status, content=content, headers=headers)
    return GptgeVideos(KEY, "http://127.0.0.1:9/gptge").error(response, content)


def _openai(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # content policy: by code whatever the status, by words only on a 400
        (400, _openai("blocked", "moderation_blocked"), ContentPolicyError),
        (403, _openai("blocked", "Content_Filter"), ContentPolicyError),
        (400, _openai("Your request was rejected by the safety system"), ContentPolicyError),
        (422, _openai("the safety system said no"), BadRequestError),
        (401, _openai("content policy of the key"), AuthenticationError),
        # a model not served: by code whatever the status, by words on 404 and 503
        (400, _openai("no such model", "model_not_found"), ModelUnavailableError),
        (500, _openai("x", "MODEL_NOT_AVAILABLE"), ModelUnavailableError),
        (404, {"code": 404, "msg": "The model sora-2 does not exist"}, ModelUnavailableError),
        (503, {"message": "model sora-2 is retired"}, ModelUnavailableError),
        (400, {"message": "model sora-2 is retired"}, BadRequestError),
        (405, {"message": "model sora-2 is retired"}, BadRequestError),
        (504, {"message": "model sora-2 is retired"}, ServerError),
        (404, _openai("no video v1"), NotFoundError),
        (503, _openai("overloaded"), ServerError),
        # the key
        (401, _openai("bad key"), AuthenticationError),
        # no money left: 402; a balance code on 403 or 429; balance words on 403
        (402, _openai("pay"), InsufficientBalanceError),
        (403, _openai("no", "insufficient_user_quota"), InsufficientBalanceError),
        (429, _openai("no", "insufficient_quota"), InsufficientBalanceError),
        (403, _openai("Insufficient balance, please top up"), InsufficientBalanceError),
        (404, _openai("no", "insufficient_quota"), NotFoundError),
        (430, _openai("no", "insufficient_quota"), BadRequestError),
        (404, _openai("your balance: no video v1"), NotFoundError),
        (401, _openai("your quota key"), AuthenticationError),
        (403, _openai("not for this key", "forbidden"), PermissionDeniedError),
        # the rest, by status
        (429, _openai("slow down", "rate_limit_exceeded"), RateLimitError),
        (400, _openai("bad size"), BadRequestError),
        (405, _openai("method"), BadRequestError),
        (499, _openai("closed"), BadRequestError),
        (500, _openai("boom"), ServerError),
        (501, _openai("boom"), ServerError),
        (599, _openai("boom"), ServerError),
        (302, _openai("moved"), UnexpectedResponseError),
        (200, _openai("odd"), UnexpectedResponseError),
    ],
)
def test_each_answer_is_its_own_kind_of_error(status: int, body: Any, kind: type) -> None:
    error = _error(status, body)
    assert type(error) is kind
    assert (error.provider, error.status_code, error.body) == ("gptge", status, body)
    source = body.get("error", body)
    assert error.message == (source.get("message") or source.get("msg"))


def test_an_error_keeps_message_code_request_id_and_body() -> None:
    body = _openai("Your request was rejected", "moderation_blocked")
    error = _error(400, body, {"x-request-id": "req_7"})
    assert error.message == "Your request was rejected"
    assert error.provider_code == "moderation_blocked"
    assert error.request_id == "req_7"
    assert error.body == body
    assert str(error) == (
        "gptge answered 400, moderation_blocked: Your request was rejected (request id req_7)"
    )


def test_a_rate_limit_carries_the_servers_hint() -> None:
    error = _error(429, _openai("slow down"), {"retry-after": "7"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0
    assert error.message == "slow down"
    assert _error(429, _openai("slow down")).retry_after is None  # type: ignore[attr-defined]


def test_an_empty_body_is_named_by_the_status_line() -> None:
    error = _error(404)
    assert (error.message, error.body, error.provider_code) == ("Not Found", None, None)
    unnamed = _error(599)
    assert unnamed.message == "HTTP 599"


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    error = _error(502, b"<html>Bad gateway</html>")
    assert (type(error), error.body, error.message) == (
        ServerError,
        "<html>Bad gateway</html>",
        "<html>Bad gateway</html>",
    )
    broken = _error(500, b"\xff\xfe oops \xff")
    assert broken.body == "\ufffd\ufffd oops \ufffd"


def test_a_long_text_body_is_cut() -> None:
    error = _error(500, b"x" * 3000)
    assert error.body == "x" * 2000
    assert error.message == "x" * 500


def test_the_key_a_server_echoes_is_redacted_from_the_body() -> None:
    body = {"error": {"message": f"bad key Bearer {KEY}", "code": f"k={KEY}"}, KEY: [KEY, 3]}
    error = _error(401, body)
    assert error.body == {
        "error": {"message": "bad key Bearer [redacted]", "code": "k=[redacted]"},
        "[redacted]": ["[redacted]", 3],
    }
    assert error.message == "bad key Bearer [redacted]"
    assert error.provider_code == "k=[redacted]"
    assert KEY not in str(error)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "m", "code": "c"}}, ("m", "c")),
        ({"error": {"error_message": "m2", "code": 95}}, ("m2", "95")),
        ({"msg": "m3", "code": 0}, ("m3", "0")),
        ({"message": "", "error_message": "e", "msg": "m"}, ("e", None)),
        ({"message": "a", "error_message": "b", "msg": "c"}, ("a", None)),
        ({"error_message": "b", "msg": "c"}, ("b", None)),
        ({"error": "a plain text error"}, ("a plain text error", None)),
        ({"message": 5, "error": 3}, ("", None)),
        ({"message": "m", "code": ""}, ("m", None)),
        ({"message": "m", "type": "invalid_request_error"}, ("m", "invalid_request_error")),
        ({"message": "m", "code": None, "type": "server_error"}, ("m", "server_error")),
        ({"message": "m", "type": "400"}, ("m", None)),
        ({"message": "m", "type": 5}, ("m", None)),
        ({"message": "m", "code": "c", "type": "t"}, ("m", "c")),
        ("  some text \n", ("some text", None)),
        ("y" * 600, ("y" * 500, None)),
        (["a", "list"], ("", None)),
        (None, ("", None)),
    ],
)
def test_message_and_code_come_from_any_error_shape(
    body: Any, expected: tuple[str, str | None]
) -> None:
    assert _message_and_code(body) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-id": "a"}, "a"),
        ({"request-id": "b"}, "b"),
        ({"x-request-id": "a", "request-id": "b"}, "a"),
        ({"X-Request-Id": "A"}, "A"),
        ({}, None),
    ],
)
def test_the_request_id_is_read_from_either_header(
    headers: dict[str, str], expected: str | None
) -> None:
    assert request_id(httpx.Response(200, headers=headers)) == expected


def test_an_unreadable_success_is_an_unexpected_response_with_the_redacted_body() -> None:
    adapter = GptgeVideos(KEY, "http://127.0.0.1:9/gptge")
    response = httpx.Response(200, headers={"x-request-id": "req_3"})
    error = adapter.unexpected(response, "no id", {"echo": KEY})
    assert type(error) is UnexpectedResponseError
    assert error.message == "cannot read the answer: no id"
    assert (error.provider, error.status_code, error.request_id) == ("gptge", 200, "req_3")
    assert error.body == {"echo": "[redacted]"}
    assert error.provider_code is None
