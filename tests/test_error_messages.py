"""What each of the client's errors says and carries (``sora_client._exceptions``): the message
a user reads, the attributes a program reads, and the one translation of httpx's errors into
the package's own (each kind of failure to its class, with the provider named)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sora_client import (
    AmbiguousCreateError,
    APIError,
    ConnectError,
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    InvalidRequestError,
    Job,
    NetworkError,
    PollTimeoutError,
    ProtocolError,
    RateLimitError,
    ReadTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from sora_client._exceptions import BodyTooLarge, translate_transport_error


def test_an_invalid_request_names_every_problem_once() -> None:
    problems = [
        ("size", "must be 720x1280"),
        (None, "too many images"),
        ("size", "must be 720x1280"),
    ]
    error = InvalidRequestError("gptge", "size", "must be 720x1280", problems)
    assert (error.provider, error.field, error.rule) == ("gptge", "size", "must be 720x1280")
    assert error.problems == [("size", "must be 720x1280"), (None, "too many images")]
    assert str(error) == "invalid request for gptge: size: must be 720x1280; too many images"


def test_an_invalid_request_without_a_list_is_its_one_problem() -> None:
    error = InvalidRequestError("vtrix", "seconds", "must be one of 4, 8, 12")
    assert error.problems == [("seconds", "must be one of 4, 8, 12")]
    assert str(error) == "invalid request for vtrix: seconds: must be one of 4, 8, 12"
    bare = InvalidRequestError("vtrix", None, "the prompt is empty")
    assert str(bare) == "invalid request for vtrix: the prompt is empty"


def test_an_api_error_says_who_answered_what_and_keeps_every_detail() -> None:
    body = {"error": {"code": "moderation_blocked"}}
    error = APIError(
        "blocked",
        provider="gptge",
        status_code=400,
        provider_code="moderation_blocked",
        request_id="req_1",
        body=body,
    )
    assert str(error) == "gptge answered 400, moderation_blocked: blocked (request id req_1)"
    assert (error.message, error.provider, error.status_code) == ("blocked", "gptge", 400)
    assert (error.provider_code, error.request_id, error.body) == (
        "moderation_blocked",
        "req_1",
        body,
    )
    plain = APIError("boom", provider="vtrix", status_code=500)
    assert str(plain) == "vtrix answered 500: boom"
    assert (plain.provider_code, plain.request_id, plain.body) == (None, None, None)


def test_a_rate_limit_keeps_its_hint_and_the_api_error_details() -> None:
    error = RateLimitError("slow down", retry_after=2.5, provider="gptge", status_code=429)
    assert error.retry_after == 2.5
    assert (error.message, error.status_code) == ("slow down", 429)
    assert str(error) == "gptge answered 429: slow down"
    assert RateLimitError("again", provider="gptge", status_code=429).retry_after is None


def _job(**fields: object) -> Job:
    return Job(**{"id": "job_1", "provider": "vtrix", "status": "failed", **fields})  # type: ignore[arg-type]


def test_a_failed_generation_gives_the_providers_code_and_reason() -> None:
    job = _job(error_code="003000095", error_message="image rejected")
    error = GenerationFailedError(job)
    assert (error.job, error.code) == (job, "003000095")
    assert str(error) == "vtrix job job_1 failed (003000095): image rejected"


def test_a_failed_generation_without_code_or_reason_says_so() -> None:
    error = GenerationFailedError(_job())
    assert error.code is None
    assert str(error) == "vtrix job job_1 failed: no reason given"


def test_a_poll_timeout_gives_the_last_state_seen() -> None:
    job = _job(status="in_progress", progress=0.42)
    error = PollTimeoutError(job, 90.0)
    assert (error.job, error.timeout) == (job, 90.0)
    assert str(error) == "vtrix job job_1 still in_progress (42%) after 90 s; wait again later"


def test_a_content_type_error_keeps_what_came_instead_of_video() -> None:
    error = ContentTypeError("not a video", content_type="application/json", body={"id": "v"})
    assert (error.content_type, error.body, str(error)) == (
        "application/json",
        {"id": "v"},
        "not a video",
    )


def test_an_ambiguous_create_says_when_it_was_sent_and_not_to_create_twice() -> None:
    sent = datetime(2026, 12, 7, 3, 4, 5, 678000, tzinfo=UTC)
    error = AmbiguousCreateError(
        provider="gptge", sent_at=sent, request_id="req_9", status_code=502, reason="502 answer"
    )
    assert (error.provider, error.sent_at, error.request_id) == ("gptge", sent, "req_9")
    assert (error.status_code, error.reason) == (502, "502 answer")
    assert str(error) == (
        "the create request to gptge sent at 2026-12-07T03:04:05+00:00 may or may not have made "
        "a job (502 answer, request id req_9); it was not retried so that you are not charged "
        "twice: look the job up before creating it again"
    )
    lost = AmbiguousCreateError(provider="gptge", sent_at=sent, reason="read timeout")
    assert "(read timeout);" in str(lost)
    assert (lost.request_id, lost.status_code) == (None, None)


def test_size_and_length_errors_carry_their_numbers() -> None:
    big = ResponseTooLargeError("too big", limit=1024)
    assert (str(big), big.limit) == ("too big", 1024)
    short = IncompleteDownloadError("short", received=10, expected=20)
    assert (str(short), short.received, short.expected) == ("short", 10, 20)
    unknown = IncompleteDownloadError("short")
    assert (unknown.received, unknown.expected) == (0, None)


def test_the_drivers_too_large_signal_is_an_httpx_error_with_its_request() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/v")
    signal = BodyTooLarge("answer over 1024 bytes", limit=1024, request=request)
    assert isinstance(signal, httpx.HTTPError)
    assert (str(signal), signal.limit, signal.request) == ("answer over 1024 bytes", 1024, request)


REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/videos")


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        (httpx.ConnectError("refused"), ConnectError, "could not reach gptge: refused"),
        (httpx.ConnectTimeout("slow"), ConnectError, "could not reach gptge: slow"),
        (httpx.PoolTimeout(""), ConnectError, "could not reach gptge: PoolTimeout"),
        (httpx.UnsupportedProtocol("ftp"), ConnectError, "could not reach gptge: ftp"),
        (
            httpx.ReadTimeout("timed out"),
            ReadTimeoutError,
            "gptge did not answer in time (ReadTimeout): timed out",
        ),
        (
            httpx.RemoteProtocolError("bad line"),
            ProtocolError,
            "malformed answer from gptge (RemoteProtocolError): bad line",
        ),
        (
            httpx.DecodingError("bad gzip"),
            ProtocolError,
            "malformed answer from gptge (DecodingError): bad gzip",
        ),
        (
            httpx.TooManyRedirects("loop"),
            ProtocolError,
            "gptge redirected too many times: loop",
        ),
        (
            httpx.ReadError("reset"),
            NetworkError,
            "connection to gptge failed (ReadError): reset",
        ),
        (httpx.WriteError(""), NetworkError, "connection to gptge failed (WriteError): WriteError"),
    ],
)
def test_each_httpx_failure_becomes_its_own_transport_error(
    exc: httpx.HTTPError, kind: type[TransportError], message: str
) -> None:
    error = translate_transport_error(exc, "gptge")
    assert type(error) is kind
    assert str(error) == message


def test_an_answer_over_the_limit_becomes_response_too_large_with_the_limit() -> None:
    error = translate_transport_error(BodyTooLarge("answer over 64 bytes", limit=64), "vtrix")
    assert type(error) is ResponseTooLargeError
    assert (str(error), error.limit) == ("vtrix answer over 64 bytes", 64)
