"""contracts.strategies yields only what the contracts allow, checked with the contracts' own
validators (JSON Schema for bodies, openapi-core for whole requests and responses)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import Phase, find, given, settings
from jsonschema import Draft202012Validator

import contracts
from contracts import Contract, strategies

SETTINGS = settings(max_examples=30, deadline=None)
AUTH = {"Authorization": "Bearer k"}
BIG_SIZES = {"1024x1792", "1792x1024"}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _response(contract: Contract, operation_id: str, status: str) -> tuple[str, dict[str, Any]]:
    """(pointer, object) of a documented response, its ``$ref`` followed."""
    op = contract.operation(operation_id)
    pointer = f"#/paths/{_escape(op.path)}/{op.method}/responses/{status}"
    node = contract.resolve(pointer)
    while "$ref" in node:
        pointer = node["$ref"]
        node = contract.resolve(pointer)
    return pointer, node


def _deref(contract: Contract, node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = contract.resolve(node["$ref"])
    return node


def _json_response_cases() -> list[tuple[str, str, str]]:
    cases = []
    for name in sorted(contracts.PROVIDER_CONTRACTS):
        contract = contracts.load(name)
        for operation_id, op in contract.operations.items():
            for status in op.definition.get("responses", {}):
                _, response = _response(contract, operation_id, str(status))
                if "schema" in (response.get("content") or {}).get("application/json", {}):
                    cases.append((name, operation_id, str(status)))
    return cases


JSON_RESPONSES = _json_response_cases()


def _filled(path: str, value: str = "video_1") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def test_every_provider_contract_has_json_response_cases() -> None:
    assert {name for name, _, _ in JSON_RESPONSES} == set(contracts.PROVIDER_CONTRACTS)


@pytest.mark.parametrize(
    ("name", "operation_id", "status"), JSON_RESPONSES, ids=[":".join(c) for c in JSON_RESPONSES]
)
def test_response_bodies_validate_against_the_schema(
    name: str, operation_id: str, status: str
) -> None:
    contract = contracts.load(name)
    pointer, _ = _response(contract, operation_id, status)
    validator = contract.schema_validator(f"{pointer}/content/application~1json/schema")

    @SETTINGS
    @given(strategies.response_bodies(contract, operation_id, status))
    def check(body: Any) -> None:
        json.dumps(body)  # plain JSON values only
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (body, errors)

    check()


@pytest.mark.parametrize(
    ("name", "operation_id", "status"),
    [
        ("gptge-videos", "getVideo", 200),
        ("gptge-videos", "getVideo", 429),
        ("gptproto-v3", "getPredictionResult", 200),
        ("vtrix-generation", "getGenerationTask", 200),
    ],
    ids=lambda v: str(v),
)
def test_responses_pass_openapi_response_validation(
    name: str, operation_id: str, status: int
) -> None:
    contract = contracts.load(name)
    op = contract.operation(operation_id)
    _, declared = _response(contract, operation_id, str(status))
    required = [
        header_name
        for header_name, header in (declared.get("headers") or {}).items()
        if _deref(contract, header).get("required") or header_name.lower() == "x-request-id"
    ]

    @SETTINGS
    @given(strategies.responses(name, operation_id, status))
    def check(response: httpx.Response) -> None:
        assert isinstance(response, httpx.Response)
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/json"
        for header in required:
            assert header in response.headers
        request = contracts.OpenAPIRequest.build(op.method, response.request.url.path, headers=AUTH)
        contract.validate_response(request, contracts.response_from_httpx(response))

    check()


def test_429_responses_carry_a_numeric_retry_after_when_any() -> None:
    # optional since issue 12: no provider document mentions the header
    @SETTINGS
    @given(strategies.responses("gptge-videos", "getVideo", 429))
    def check(response: httpx.Response) -> None:
        value = response.headers.get("Retry-After")
        assert value is None or re.fullmatch(r"[0-9]+", value)
        assert "error" in response.json()

    check()


def _sse_events(text: str) -> list[dict[str, str]]:
    """Parse a text/event-stream body into events (field -> value; data lines joined)."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            event[name] = f"{event[name]}\n{value}" if name in event else value
        events.append(event)
    return events


def test_event_stream_responses_are_events_of_the_media_schema() -> None:
    chat = contracts.load("gptproto-chat")
    pointer, _ = _response(chat, "createChatCompletion", "200")
    event_schema = chat.schema_validator(f"{pointer}/content/text~1event-stream/schema")
    chunk = chat.schema_validator("#/components/schemas/ChatCompletionChunk")

    # Not Contract.validate_response: openapi-core hands a text/event-stream body over as bytes,
    # and the contract's schema describes one event, not the stream
    @SETTINGS
    @given(strategies.responses(chat, "createChatCompletion", 200, "text/event-stream"))
    def check(response: httpx.Response) -> None:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        events = _sse_events(response.text)
        assert events
        for event in events:
            event_schema.validate(event)
            if event["data"] != "[DONE]":
                chunk.validate(json.loads(event["data"]))

    check()


@pytest.mark.parametrize("media_type", ["image/webp", "image/jpeg", "video/mp4"])
def test_binary_responses(media_type: str) -> None:
    gptge = contracts.load("gptge-videos")

    @SETTINGS
    @given(strategies.responses(gptge, "getVideoContent", 200, media_type))
    def check(response: httpx.Response) -> None:
        assert response.headers["Content-Type"] == media_type and response.content
        if media_type == "video/mp4":
            # contracts/_validation.py maps no decoder to video/mp4: openapi-core then rejects
            # any MP4 body as "not of type 'string'"
            return
        request = contracts.OpenAPIRequest.build("get", response.request.url.path, headers=AUTH)
        gptge.validate_response(request, contracts.response_from_httpx(response))

    check()


@pytest.mark.parametrize(
    ("name", "operation_id"),
    [
        ("gptproto-v3", "createSora2ImageToVideo"),
        ("vtrix-generation", "createGeneration"),
        ("gptproto-chat", "createChatCompletion"),
        ("gptproto-videos", "remixVideo"),
        ("gptge-videos", "remixVideo"),
    ],
    ids=lambda v: str(v),
)
def test_json_request_bodies_pass_request_validation(name: str, operation_id: str) -> None:
    contract = contracts.load(name)
    op = contract.operation(operation_id)

    @SETTINGS
    @given(strategies.request_bodies(contract, operation_id))
    def check(body: Any) -> None:
        request = contracts.OpenAPIRequest.build(
            op.method,
            _filled(op.path),
            headers={**AUTH, "Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        )
        contract.validate_request(request)

    check()


def _multipart(url: str, body: dict[str, Any]) -> httpx.Request:
    data = {k: v for k, v in body.items() if not isinstance(v, bytes)}
    files: dict[str, Any] = {
        k: (f"{k}.png", v, "image/png") for k, v in body.items() if isinstance(v, bytes)
    }
    if not files:  # httpx would url-encode a form without files: send the fields as parts
        files, data = {k: (None, v) for k, v in data.items()}, {}
    return httpx.Request("POST", url, data=data, files=files, headers=AUTH)


@pytest.mark.parametrize("name", ["gptge-videos", "gptproto-videos"])
def test_multipart_create_bodies_pass_request_validation(name: str) -> None:
    contract = contracts.load(name)

    @SETTINGS
    @given(strategies.request_bodies(name, "createVideo"))
    def check(body: dict[str, Any]) -> None:
        request = _multipart("http://localhost/v1/videos", body)
        result = contract.validate_request(contracts.request_from_httpx(request))
        for field, value in body.items():  # every field arrives intact
            expected = value.decode("latin-1") if isinstance(value, bytes) else value
            assert result.body[field] == expected

    check()


@pytest.mark.parametrize("name", ["gptproto-videos", "gptge-videos"])
def test_model_dependent_sizes_follow_the_contracts_if_then_else(name: str) -> None:
    bodies = strategies.request_bodies(name, "createVideo")

    @settings(max_examples=100, deadline=None)
    @given(bodies)
    def check(body: dict[str, Any]) -> None:
        if body.get("size") in BIG_SIZES:
            assert body.get("model") == "sora-2-pro"

    check()
    # ... and the `then` branch is generated, not only the `else` one
    found = find(
        bodies,
        lambda b: b.get("size") in BIG_SIZES,
        settings=settings(database=None, phases=[Phase.generate], max_examples=1000),
    )
    assert found["model"] == "sora-2-pro"


def test_contract_names_and_bound_strategies_are_accepted() -> None:
    bound = strategies.strategies_for("vtrix-generation")
    assert bound.contract is contracts.load("vtrix-generation")
    validator = bound.contract.schema_validator("#/components/schemas/Task")

    @SETTINGS
    @given(
        bound.from_schema("#/components/schemas/Task"), bound.response_bodies("getGenerationTask")
    )
    def check(task: Any, body: Any) -> None:
        validator.validate(task)
        validator.validate(body)

    check()


INLINE_IDS = [
    "uniqueItems",
    "exclusive-bounds",
    "not",
    "date-time",
    "long-minLength",
    "prefixItems",
    "anyOf-pattern",
    "additionalProperties-schema",
]
INLINE_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 9},
        "uniqueItems": True,
        "minItems": 2,
        "maxItems": 4,
    },
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": ["string", "integer"], "not": {"type": "string"}},
    {"type": "string", "format": "date-time"},
    {"type": "string", "minLength": 50, "maxLength": 60},
    {"prefixItems": [{"const": "a"}, {"type": "boolean"}], "items": {"type": "null"}},
    {"anyOf": [{"type": "string", "pattern": "^v[0-9]{2}$"}, {"type": "null"}]},
    {"type": "object", "additionalProperties": {"type": "integer"}, "required": ["n"]},
]


@pytest.mark.parametrize("schema", INLINE_SCHEMAS, ids=INLINE_IDS)
def test_inline_schemas(schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema)

    @SETTINGS
    @given(strategies.from_schema("gptge-videos", schema))
    def check(value: Any) -> None:
        validator.validate(value)

    check()


def test_inline_schemas_may_refer_to_the_contract() -> None:
    contract = contracts.load("gptge-videos")
    video = contract.schema_validator("#/components/schemas/Video")
    failed = {
        "allOf": [
            {"$ref": "#/components/schemas/Video"},
            {"properties": {"status": {"const": "failed"}}, "required": ["error"]},
        ]
    }

    @SETTINGS
    @given(strategies.from_schema(contract, failed))
    def check(value: Any) -> None:
        video.validate(value)
        assert value["status"] == "failed" and "error" in value

    check()


def _admin_cases() -> list[tuple[str, str, str]]:
    admin = contracts.load("mock-admin")
    return [
        (operation_id, str(status), media_type)
        for operation_id, op in admin.operations.items()
        for status in op.definition.get("responses", {})
        for media_type in _response(admin, operation_id, str(status))[1].get("content") or {}
    ]


ADMIN_CASES = _admin_cases()


@pytest.mark.parametrize(
    ("operation_id", "status", "media_type"),
    ADMIN_CASES,
    ids=[":".join(("mock-admin", *c)) for c in ADMIN_CASES],
)
def test_admin_contract_bodies(operation_id: str, status: str, media_type: str) -> None:
    """Not a provider contract, but other shapes: free-form maps, raw image and video bodies."""
    admin = contracts.load("mock-admin")
    pointer, _ = _response(admin, operation_id, status)
    validator = admin.schema_validator(f"{pointer}/content/{_escape(media_type)}/schema")

    @settings(max_examples=10, deadline=None)
    @given(strategies.response_bodies(admin, operation_id, status, media_type))
    def check(body: Any) -> None:
        if isinstance(body, bytes):
            assert body and media_type != "application/json"
            body = body.decode("latin-1")
        validator.validate(body)

    check()
