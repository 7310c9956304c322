"""What the client reads: any answer a provider's contract allows becomes a Job or a typed
error (never an unexpected exception), generated from the contracts by
``contracts.strategies``; and each provider's way of saying "no" maps onto one error tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_helpers import (
    CDN,
    RESPX_BASE,
    ContractRouter,
    Flavor,
    chat_chunk,
    flavor_fixture,  # noqa: F401  (fixtures)
    image,
    job_body,
    route,
    sse,
)
from hypothesis import HealthCheck, given, settings

import contracts
from contracts import strategies
from sora_client import (
    STATUSES,
    AmbiguousCreateError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContentTypeError,
    GenerationFailedError,
    InsufficientBalanceError,
    Job,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SoraError,
    UnexpectedResponseError,
)
from sora_client._providers import PROVIDERS

#: the provider codes that decide an error's kind whatever its status
#: (tests/test_provider_error_kinds.py pins the rule; these are the codes the client documents)
POLICY_CODES = {
    "content_policy_violation",
    "moderation_blocked",
    "content_filter",
    "content_policy",
}
MODEL_CODES = {"model_not_found", "model_not_available"}

#: (provider, operation, how the client reaches it)
OPERATIONS = [
    ("gptproto-v3", "createSora2ImageToVideo", "create"),
    ("gptproto-v3", "getPredictionResult", "get"),
    ("gptproto-videos", "createVideo", "create"),
    ("gptproto-videos", "getVideo", "get"),
    ("gptproto-videos", "getVideoContent", "content"),
    ("gptproto-chat", "createChatCompletion", "create"),
    ("gptge", "createVideo", "create"),
    ("gptge", "getVideo", "get"),
    ("gptge", "getVideoContent", "content"),
    ("vtrix", "createGeneration", "create"),
    ("vtrix", "getGenerationTask", "get"),
]


def _cases() -> list[Any]:
    cases = []
    for provider, operation_id, how in OPERATIONS:
        contract = contracts.load(PROVIDERS[provider].contract_name)
        op = contract.operation(operation_id)
        for status, response in op.definition["responses"].items():
            while "$ref" in response:
                response = contract.resolve(response["$ref"])
            media_types = list(response.get("content") or {}) or [None]
            for media_type in media_types:
                case_id = f"{provider}-{how}-{status}" + (
                    f"-{media_type.split('/')[-1]}" if len(media_types) > 1 else ""
                )
                cases.append(
                    pytest.param(provider, operation_id, how, int(status), media_type, id=case_id)
                )
    return cases


def _call(c: Any, provider: str, how: str, tmp: Path) -> Any:
    if how.startswith("create"):
        kwargs: dict[str, Any] = {"image": image(720, 1280)}
        if provider != "gptproto-chat":
            kwargs["size"] = "720x1280"
        if how == "create-pro":
            kwargs["model"] = "sora-2-pro"
        job = c.create("A cat in a hat", **kwargs)
        if provider == "gptproto-chat":
            job = c.wait(job, raise_on_failure=False)
        return job
    if how == "get":
        return c.get("video_1")
    return c.download("video_1", tmp / "out.mp4")


@pytest.mark.parametrize(("provider", "operation_id", "how", "status", "media_type"), _cases())
def test_any_answer_the_contract_allows_is_a_job_or_a_typed_error(
    flavor: Flavor,
    tmp_path_factory: pytest.TempPathFactory,
    provider: str,
    operation_id: str,
    how: str,
    status: int,
    media_type: str | None,
) -> None:
    contract_name = PROVIDERS[provider].contract_name
    answers = strategies.responses(contract_name, operation_id, status, media_type)
    # success bodies vary the most, error bodies only in their words; a share of the
    # profile's budget (dev: 5 and 2 examples, ci: 10 and 4) keeps 260 cases quick
    budget = settings.default.max_examples
    if 200 <= status < 300:
        examples = max(2, min(budget // 5, 10))
    else:
        examples = max(2, min(budget // 12, 4))

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(answer=answers)
    def check(answer: httpx.Response) -> None:
        _check_answer(flavor, tmp_path_factory, provider, how, status, answer)

    check()


def _chunk_ids(stream: bytes) -> list[str | None]:
    """The id of each chunk a chat stream carries before its `[DONE]` (None: no id)."""
    ids = []
    for line in stream.decode("utf-8", "replace").splitlines():
        if line.startswith("data:"):
            if line[5:].strip() == "[DONE]":
                break  # the stream's end: nothing after it is read
            try:
                chunk = json.loads(line[5:])
            except ValueError:
                continue
            if isinstance(chunk, dict):
                ids.append(chunk.get("id") or None)
    return ids


def _check_answer(
    flavor: Flavor,
    tmp_path_factory: pytest.TempPathFactory,
    provider: str,
    how: str,
    status: int,
    answer: httpx.Response,
) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    cr = ContractRouter(provider, validate=False)  # requests: test_client_requests.py
    cr.router.route().mock(side_effect=respond)
    tmp = tmp_path_factory.mktemp("answers")
    with flavor.client(provider, transport=cr.transport(), base_url=RESPX_BASE) as c:
        try:
            result = _call(c, provider, how, tmp)
        except SoraError as exc:
            result = exc

    media_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if 200 <= status < 300 and how != "content":
        # a reply the contract allows is a reply the client reads: never "unexpected"; the one
        # exception is a chat stream that names no job (no chunk with an id: an empty stream,
        # `id: ""`) or ends without reporting the video (its link is free text): the chat
        # contract allows both, and the client says so (test_chat_progress_and_link...)
        # (a create whose first chunk names no job may have made one: ambiguous, not retried)
        if provider == "gptproto-chat" and isinstance(
            result, (UnexpectedResponseError, AmbiguousCreateError)
        ):
            ids = _chunk_ids(answer.content)
            no_job = not ids or ids[0] is None  # the first chunk names the job, or none does
            assert no_job or "stream ended before the video" in str(result), repr(result)
            return
        assert isinstance(result, Job), repr(result)
    if isinstance(result, Job):
        assert 200 <= status < 300
        assert result.status in STATUSES and 0.0 <= result.progress <= 1.0
        assert result.provider == provider
        return
    if isinstance(result, Path):
        assert status in (200, 206) and media_type.startswith("video/")
        assert result.read_bytes() == answer.content
        return
    assert isinstance(result, SoraError), result
    assert not list(tmp.iterdir()), "a failed download left a file"
    if 200 <= status < 300:
        # GPTProto's /content answers the JSON job until the video exists (or forever, failed);
        # a still (another variant) is not the video either
        assert not media_type.startswith("video/"), (media_type, result)
        assert isinstance(result, (ContentTypeError, GenerationFailedError)), repr(result)
        body = answer.json() if media_type == "application/json" else None
        failed = isinstance(body, dict) and body.get("status") == "failed"
        assert isinstance(result, GenerationFailedError) == failed, repr(result)
    elif status >= 500 and how.startswith("create"):
        assert isinstance(result, AmbiguousCreateError)
        assert cr.posts() == 1, "a create was sent twice"
    else:
        assert isinstance(result, APIError) and result.status_code == status
        expected = {401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError}
        expected |= {429: RateLimitError, 500: ServerError}
        code = (result.provider_code or "").lower()
        if code in POLICY_CODES:  # a provider's code says what it is, whatever the status
            assert isinstance(result, ContentPolicyError), repr(result)
        elif code in MODEL_CODES:
            assert isinstance(result, ModelUnavailableError), repr(result)
        elif status in expected:
            assert isinstance(result, expected[status])
        elif status < 500:
            assert isinstance(result, (BadRequestError, ContentPolicyError))


def test_the_status_words_are_exactly_the_contracts() -> None:
    enums = {
        "gptproto-v3": "#/components/schemas/PredictionStatus",
        "gptproto-videos": "#/components/schemas/VideoStatus",
        "gptge": "#/components/schemas/VideoStatus",
        "vtrix": "#/components/schemas/TaskStatus",
    }
    for provider, pointer in enums.items():
        words = PROVIDERS[provider].status_words
        assert sorted(words) == sorted(
            contracts.load(PROVIDERS[provider].contract_name).resolve(pointer)["enum"]
        )
        assert set(words.values()) == set(STATUSES)


# ---------------------------------------------------------------------- one error tree

ERROR_BODIES = {
    # (provider, status, body) -> the typed error
    "gptproto content policy": (
        "gptproto-videos",
        400,
        {
            "error": {
                "message": "Content blocked",
                "type": "400",
                "code": "content_policy_violation",
            }
        },
        ContentPolicyError,
    ),
    "gpt.ge moderation": (
        "gptge",
        400,
        {
            "error": {
                "message": "Your request was blocked by our moderation system.",
                "type": "invalid_request_error",
                "param": None,
                "code": "moderation_blocked",
            }
        },
        ContentPolicyError,
    ),
    "vtrix content policy": (
        "vtrix",
        400,
        {"error": {"code": "content_policy_violation", "error_message": "Content blocked"}},
        ContentPolicyError,
    ),
    "gptproto balance": (
        "gptproto-v3",
        403,
        {
            "error": {
                "message": "Insufficient balance",
                "type": "403",
                "code": "insufficient_balance",
            }
        },
        InsufficientBalanceError,
    ),
    "gpt.ge quota": (
        "gptge",
        403,
        {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
        InsufficientBalanceError,
    ),
    "vtrix balance (only the words say so)": (
        "vtrix",
        403,
        {"error": {"code": "403", "error_message": "Insufficient balance for the operation"}},
        InsufficientBalanceError,
    ),
    "vtrix permission": (
        "vtrix",
        403,
        {"error": {"code": "403", "error_message": "No permission to access this resource"}},
        PermissionDeniedError,
    ),
    "gptproto unauthorized": (
        "gptproto-chat",
        401,
        {"error": {"message": "Invalid signature", "type": "401"}},
        AuthenticationError,
    ),
}


@pytest.mark.parametrize(
    ("provider", "status", "body", "error_type"),
    list(ERROR_BODIES.values()),
    ids=list(ERROR_BODIES),
)
def test_each_providers_error_body_maps_onto_one_tree(
    flavor: Flavor,
    provider: str,
    status: int,
    body: dict[str, Any],
    error_type: type[APIError],
) -> None:
    cr = ContractRouter(provider)
    route(cr, "POST", "create").respond(status, json=body, headers={"x-request-id": "req_42"})
    kwargs = {} if provider == "gptproto-chat" else {"size": "720x1280"}
    with flavor.client(provider, transport=cr.transport(), base_url=RESPX_BASE) as c:
        with pytest.raises(error_type) as info:
            c.create("p", image=image(720, 1280), **kwargs)
    error = info.value
    assert type(error) is error_type
    assert error.status_code == status
    assert error.request_id == "req_42"
    assert error.body == body
    # the provider's own words, whichever field its error shape keeps them in
    words = body["error"].get("message") or body["error"]["error_message"]
    assert error.message == words
    assert words in str(error)
    assert cr.posts() == 1


def test_rate_limit_error_carries_retry_after(flavor: Flavor) -> None:
    cr = ContractRouter("gptge")
    route(cr, "GET", "get").respond(
        429,
        json={
            "error": {
                "message": "slow down",
                "type": "rate_limit_error",
                "param": None,
                "code": None,
            }
        },
        headers={"Retry-After": "7"},
    )
    slept: list[float] = []
    with flavor.client(
        "gptge", transport=cr.transport(), base_url=RESPX_BASE, sleep=slept.append
    ) as c:
        with pytest.raises(RateLimitError) as info:
            c.get("video_1")
    assert info.value.retry_after == 7.0
    assert slept == [7.0, 7.0, 7.0]


def test_timestamps_may_be_strings_or_integers() -> None:
    from datetime import UTC, datetime

    from sora_client._models import parse_timestamp

    expected = datetime(2025, 12, 24, 6, 7, 21, tzinfo=UTC)
    assert parse_timestamp("1766556441") == expected
    assert parse_timestamp(1766556441) == expected
    assert parse_timestamp("2025-12-24 06:07:21") == expected
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None


@pytest.mark.parametrize("provider", ["gptproto-v3", "gptproto-videos", "gptge", "vtrix"])
@pytest.mark.parametrize("status", STATUSES)
def test_each_providers_status_words_read_as_neutral_statuses(
    flavor: Flavor,
    provider: str,
    status: str,
) -> None:
    cr = ContractRouter(provider)
    route(cr, "GET", "get").respond(200, json=job_body(provider, status, "job_7", 0.25))
    with flavor.client(provider, transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.get("job_7")
    assert (job.id, job.status) == ("job_7", status)
    if status == "completed":
        assert job.progress == 1.0
        if provider in ("gptproto-v3", "vtrix"):
            assert job.video_url == f"{CDN}/files/job_7.mp4"
    if status == "failed":
        assert job.error_message
    if provider == "vtrix" and status == "failed":
        assert job.error_code == "003000095"


def test_chat_progress_and_link_come_from_the_stream(flavor: Flavor) -> None:
    from client_helpers import chat_stream

    cr = ContractRouter("gptproto-chat")
    route(cr, "POST", "create").respond(
        200, content=chat_stream(), headers={"content-type": "text/event-stream"}
    )
    seen: list[tuple[str, float]] = []
    with flavor.client("gptproto-chat", transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.create("p", image=image(720, 1280), seconds=5)
        job = c.wait(job, on_progress=lambda j: seen.append((j.status, j.progress)))
    assert seen == [("queued", 0.0), ("in_progress", 0.4), ("completed", 1.0)]
    assert job.video_url == f"{CDN}/files/v.mp4"


def test_a_chat_failure_line_fails_the_job(flavor: Flavor) -> None:
    from client_helpers import chat_stream

    from sora_client import GenerationFailedError

    cr = ContractRouter("gptproto-chat")
    route(cr, "POST", "create").respond(
        200, content=chat_stream(fail=True), headers={"content-type": "text/event-stream"}
    )
    with flavor.client("gptproto-chat", transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.create("p", image=image(720, 1280))
        with pytest.raises(GenerationFailedError, match="out of GPUs"):
            c.wait(job)


def test_a_chat_stream_that_ends_without_a_link_is_an_unexpected_response(
    flavor: Flavor,
) -> None:
    cr = ContractRouter("gptproto-chat")
    stream = sse(chat_chunk("> ⌛ queued\n\n"), chat_chunk("> 🏃 Generating... 10%\n\n"))
    route(cr, "POST", "create").respond(
        200, content=stream, headers={"content-type": "text/event-stream"}
    )
    with flavor.client("gptproto-chat", transport=cr.transport(), base_url=RESPX_BASE) as c:
        job = c.create("p", image=image(720, 1280))
        with pytest.raises(UnexpectedResponseError, match="ended before"):
            c.wait(job)


def test_chat_has_no_status_endpoint(flavor: Flavor) -> None:
    from sora_client import UnsupportedOperation

    with flavor.client(
        "gptproto-chat",
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
        base_url=RESPX_BASE,
    ) as c:
        with pytest.raises(UnsupportedOperation, match="no status endpoint"):
            c.get("chatcmpl-1")
