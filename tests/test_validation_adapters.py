"""The edges of contract validation (contracts._validation) that the compiled-vs-reference
property tests do not reach: turning httpx messages into requests the contracts judge (a base
path stripped, repeated query items and headers kept), the parameters-only check, schema
validators by pointer, event streams judged event by event, and what the openapi-core reference
says about each kind of problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
import yaml
from werkzeug.datastructures import Headers

import contracts
from contracts import ContractError, ContractViolation, OpenAPIRequest, OpenAPIResponse

GPTGE = contracts.load("gptge-videos")
CHAT = contracts.load("gptproto-chat")
AUTH = {"Authorization": "Bearer sk-test"}


# ------------------------------------------------------------------ httpx -> contract


def test_an_httpx_request_under_a_base_path_is_judged_at_the_contracts_path() -> None:
    sent = httpx.Request(
        "GET", "http://127.0.0.1:8080/gptge/v1/videos?limit=2&order=asc&limit=3", headers=AUTH
    )
    request = contracts.request_from_httpx(sent, strip_prefix="/gptge")
    assert (request.method, request.path, request.host_url) == (
        "get",
        "/v1/videos",
        "http://127.0.0.1:8080/",
    )
    assert request.parameters.query.getlist("limit") == ["2", "3"]
    assert request.parameters.header["authorization"] == "Bearer sk-test"
    assert (request.body, request.content_type) == (None, "application/octet-stream")


def test_a_base_path_is_stripped_only_where_it_starts_the_path() -> None:
    def path(url: str, prefix: str) -> str:
        return contracts.request_from_httpx(httpx.Request("GET", url), strip_prefix=prefix).path

    assert path("http://h/gptge", "/gptge") == "/"
    assert path("http://h/other/gptge/v1/videos", "/gptge") == "/other/gptge/v1/videos"
    assert path("http://h/gptge/v1/videos", "") == "/gptge/v1/videos"


def test_an_httpx_create_is_validated_with_its_body_and_content_type() -> None:
    sent = httpx.Request(
        "POST",
        "http://h/gptge/v1/videos/video_1/remix",
        headers=AUTH,
        json={"prompt": "at night"},
    )
    request = contracts.request_from_httpx(sent, strip_prefix="/gptge")
    assert request.content_type == "application/json"
    assert request.body is not None and json.loads(request.body) == {"prompt": "at night"}
    result = GPTGE.validate_request(request)
    assert result.body == {"prompt": "at night"}
    assert result.parameters.path == {"video_id": "video_1"}


def test_a_built_request_takes_its_path_parameters_from_the_route() -> None:
    request = OpenAPIRequest.build("GET", "/v1/videos/video_42", headers=AUTH)
    assert (request.method, request.host_url) == ("get", "http://localhost/")
    assert GPTGE.validate_request(request).parameters.path == {"video_id": "video_42"}


def test_a_built_request_accepts_query_and_headers_as_pairs_or_mappings() -> None:
    as_pairs = OpenAPIRequest.build(
        "GET", "/v1/videos", query=[("limit", "5")], headers=[("Authorization", "Bearer k")]
    )
    as_mapping = OpenAPIRequest.build(
        "GET", "/v1/videos", query={"limit": "5"}, headers={"Authorization": "Bearer k"}
    )
    for request in (as_pairs, as_mapping):
        assert request.parameters.query["limit"] == "5"
        assert request.parameters["header"]["Authorization"] == "Bearer k"
        assert request.parameters.cookie == {}
        assert GPTGE.validate_request(request).parameters.query["limit"] == 5


def test_an_httpx_response_keeps_repeated_headers_and_its_body() -> None:
    answer = httpx.Response(
        200, headers=[("X-Trace", "a"), ("X-Trace", "b")], content=b'{"ok": true}'
    )
    response = contracts.response_from_httpx(answer)
    assert response.status_code == 200
    assert response.headers.getlist("X-Trace") == ["a", "b"]
    assert response.data == b'{"ok": true}'
    assert response.content_type == "application/octet-stream", "no Content-Type was sent"
    typed = contracts.response_from_httpx(httpx.Response(201, json={"a": 1}))
    assert typed.content_type == "application/json"


# ------------------------------------------------------------ parameters and schemas


def test_parameters_alone_are_typed_with_their_defaults_or_refused_by_name() -> None:
    query = GPTGE.validate_parameters("listVideos", {}, {"limit": "7"})
    assert query["limit"] == 7
    with pytest.raises(ContractViolation) as refused:
        GPTGE.validate_parameters("listVideos", {}, {"limit": "many"})
    assert refused.value.contract == "gptge-videos"
    assert [(p.kind, p.field) for p in refused.value.problems] == [("parameter", "limit")]


def test_path_parameters_alone_are_checked_too() -> None:
    vtrix = contracts.load("vtrix-generation")
    assert vtrix.validate_parameters("getGenerationTask", {"task_id": "task_1"}, {}) == {}
    with pytest.raises(ContractViolation) as refused:
        vtrix.validate_parameters("getGenerationTask", {}, {})
    assert [(p.kind, p.field) for p in refused.value.problems] == [("parameter", "task_id")]


def test_a_schema_validator_follows_its_pointer_and_a_bad_pointer_names_the_file() -> None:
    chunk = CHAT.schema_validator("#/components/schemas/ChatCompletionChunk")
    assert chunk.is_valid(_chunk("hello"))
    assert not chunk.is_valid({**_chunk("hello"), "object": "chat.completion"})
    with pytest.raises(ContractError, match="gptproto-chat.yaml"):
        CHAT.schema_validator("#/components/schemas/NoSuchSchema")


# -------------------------------------------------------------------- event streams


def _chunk(content: str, finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


def _stream(*events: object) -> bytes:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return "".join(lines).encode()


CHAT_REQUEST = OpenAPIRequest.build(
    "POST", "/v1/chat/completions", headers={**AUTH, "Content-Type": "application/json"}
)


def _sse(status: int, data: bytes, content_type: str = "text/event-stream") -> OpenAPIResponse:
    return OpenAPIResponse(status, content_type, Headers({"Content-Type": content_type}), data)


@pytest.mark.parametrize("reference", [False, True])
def test_an_event_stream_is_judged_event_by_event(reference: bool) -> None:
    validate = CHAT.validate_response_reference if reference else CHAT.validate_response
    good = _stream(_chunk("queued"), _chunk("done", "stop"), "[DONE]")
    validate(CHAT_REQUEST, _sse(200, good))
    bad = _stream(_chunk("queued"), {**_chunk("x"), "created": -1}, "[DONE]")
    with pytest.raises(ContractViolation) as refused:
        validate(CHAT_REQUEST, _sse(200, bad))
    assert refused.value.contract == "gptproto-chat"
    assert refused.value.kinds == {"response"}
    assert "created" in str(refused.value)


def test_an_event_stream_for_an_undeclared_status_or_route_is_refused() -> None:
    good = _stream(_chunk("queued"), "[DONE]")
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response(CHAT_REQUEST, _sse(418, good))
    assert refused.value.kinds == {"response"}
    assert str(refused.value) == "gptproto-chat: status 418 is not declared"
    # a 400 is declared, but as JSON: a stream there breaks the contract
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response(CHAT_REQUEST, _sse(400, good))
    assert refused.value.kinds == {"response"}
    assert str(refused.value) == "gptproto-chat: Content-Type: text/event-stream not declared"
    elsewhere = OpenAPIRequest.build("POST", "/v1/no/such/path", headers=AUTH)
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response(elsewhere, _sse(200, good))
    assert refused.value.kinds == {"route"}
    assert str(refused.value) == "gptproto-chat: no such operation"


def test_a_json_answer_is_still_judged_by_its_schema() -> None:
    ok = OpenAPIResponse(
        404,
        "application/json",
        Headers({"Content-Type": "application/json"}),
        b'{"error": 1}',
    )
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response(CHAT_REQUEST, ok)
    assert refused.value.kinds == {"response"}


# ------------------------------------------------------------- the reference's words


def _refusal(
    request: OpenAPIRequest, contract: contracts.Contract = GPTGE
) -> list[tuple[str, str | None, str]]:
    with pytest.raises(ContractViolation) as refused:
        contract.validate_request_reference(request)
    assert refused.value.contract == contract.name
    return [(p.kind, p.field, p.message) for p in refused.value.problems]


def _chat_refusal(messages: list[dict[str, object]]) -> list[tuple[str, str | None, str]]:
    """The reference's words for a chat completion with these ``messages``."""
    body = json.dumps({"model": "sora-2", "messages": messages}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    request = OpenAPIRequest.build("POST", "/v1/chat/completions", headers=headers, body=body)
    return _refusal(request, CHAT)


def test_the_reference_names_a_missing_key() -> None:
    assert _refusal(OpenAPIRequest.build("GET", "/v1/videos")) == [
        ("security", "Authorization", "missing or malformed credentials")
    ]


def test_the_reference_names_the_media_types_a_create_takes() -> None:
    request = OpenAPIRequest.build(
        "POST", "/v1/videos", headers={**AUTH, "Content-Type": "text/plain"}, body=b"hello"
    )
    [(kind, field, message)] = _refusal(request)
    assert (kind, field) == ("media_type", "Content-Type")
    assert message == "unsupported content type (use multipart/form-data)"


def test_the_reference_says_a_body_is_required() -> None:
    request = OpenAPIRequest.build("POST", "/v1/videos/video_1/remix", headers=AUTH)
    assert ("body", None, "a request body is required") in _refusal(request)


def test_the_reference_names_a_bad_parameter_and_a_missing_property() -> None:
    [(kind, field, message)] = _refusal(
        OpenAPIRequest.build("GET", "/v1/videos", query={"limit": "many"}, headers=AUTH)
    )
    # a value that cannot even be cast to the parameter's type: openapi-core's own words
    assert (kind, field, message) == ("parameter", "limit", "Query parameter error: limit")
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=b"{}",
    )
    [(kind, field, message)] = _refusal(remix)
    assert (kind, field) == ("body", "prompt")
    assert message == "'prompt' is a required property"


@pytest.mark.parametrize("body", [b"--x\r\n\r\n--x--\r\n", b"garbage"])
def test_the_reference_says_a_malformed_multipart_body_is_malformed(body: bytes) -> None:
    # openapi-core asserts on these (toolchain.md): a refusal, not an AssertionError
    request = OpenAPIRequest.build(
        "POST",
        "/v1/videos",
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=x"},
        body=body,
    )
    assert _refusal(request) == [("body", None, "empty or malformed body")]


def test_the_reference_names_every_missing_part_of_a_multipart_create() -> None:
    request = OpenAPIRequest.build(
        "POST",
        "/v1/videos",
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=x"},
        body=b"--x--\r\n",
    )
    assert [(k, f) for k, f, _ in _refusal(request)] == [
        ("body", "prompt"),
        ("body", "input_reference"),
    ]


def test_the_reference_shortens_a_long_schema_message() -> None:
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=json.dumps({"prompt": ["x" * 50] * 20}).encode(),
    )
    [(kind, field, message)] = _refusal(remix)
    assert (kind, field) == ("body", "prompt")
    assert len(message) == 303 and message.endswith("...")


def test_a_freshly_loaded_contract_reads_an_image_part_byte_for_byte() -> None:
    """The reference's deserializers are built with the contract's openapi-core object: a
    fresh one (not the process-wide cached contract) must read each file part as latin-1
    text, one character per byte, whatever ``encoding.contentType`` the contract lists."""
    fresh = contracts.load_path(contracts.CONTRACTS_DIR / "gptge-videos.yaml")
    image = bytes(range(256)) * 3
    sent = httpx.Request(
        "POST",
        "http://h/v1/videos",
        headers=AUTH,
        data={"prompt": "a cat", "size": "720x1280"},
        files={"input_reference": ("cat.png", image, "image/png")},
    )
    result = fresh.validate_request_reference(contracts.request_from_httpx(sent))
    assert result.body["input_reference"] == image.decode("latin-1")
    assert len(result.body["input_reference"]) == len(image)
    assert result.body["prompt"] == "a cat"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "cannot be read: Failed to deserialize value with application/json"),
        (b"\xff\xfe{", "cannot be read: not valid application/json"),
    ],
)
def test_the_reference_says_a_body_cannot_be_read(body: bytes, message: str) -> None:
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=body,
    )
    [(kind, field, said)] = _refusal(remix)
    assert (kind, field) == ("body", None)
    assert said.startswith(message), said


def test_the_reference_shortens_what_it_could_not_read() -> None:
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=b"{" + b"x" * 400,
    )
    [(_, _, said)] = _refusal(remix)
    assert said.startswith("cannot be read: ") and said.endswith("...")
    assert len(said) == len("cannot be read: ") + 203


def test_the_reference_names_each_problem_of_a_response() -> None:
    request = OpenAPIRequest.build("GET", "/v1/videos/video_1", headers=AUTH)

    def refusal(status: int, body: bytes) -> list[tuple[str, str | None, str]]:
        response = OpenAPIResponse(
            status, "application/json", Headers({"Content-Type": "application/json"}), body
        )
        with pytest.raises(ContractViolation) as refused:
            GPTGE.validate_response_reference(request, response)
        assert refused.value.contract == "gptge-videos"
        return [(p.kind, p.field, p.message) for p in refused.value.problems]

    problems = refusal(200, b'{"id": "video_1"}')
    assert ("response", "status", "'status' is a required property") in problems
    assert {kind for kind, _, _ in problems} == {"response"}
    assert refusal(418, b"{}") == [("response", None, "Unknown response http status: 418")]


def test_the_reference_names_what_each_alternative_of_a_one_of_wanted() -> None:
    def refusal(content: object) -> list[tuple[str, str | None, str]]:
        return _chat_refusal([{"role": "user", "content": content}])

    # a message's content is a string or a list of parts: a number is neither
    assert refusal(5) == [
        ("body", None, "5 is not of type 'string'"),
        ("body", None, "5 is not of type 'array'"),
    ]
    # and inside the list, each part is a text part or an image part (the nested oneOf)
    assert [m for _, _, m in refusal([7])] == [
        "[7] is not of type 'string'",
        "7 is not of type 'object'",
        "7 is not of type 'object'",
    ]


@pytest.mark.parametrize(("length", "shortened"), [(272, False), (273, True)])
def test_the_reference_shortens_a_schema_message_past_300_characters(
    length: int, shortened: bool
) -> None:
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=json.dumps({"prompt": ["x" * length]}).encode(),
    )
    [(_, _, message)] = _refusal(remix)
    full = f"{['x' * length]!r} is not of type 'string'"
    assert message == (full[:300] + "..." if shortened else full)


def test_the_reference_names_an_unknown_path_or_method_and_a_bad_enum_value() -> None:
    def refusal(method: str, path: str, **query: str) -> list[tuple[str, str | None, str]]:
        return _refusal(OpenAPIRequest.build(method, path, query=query, headers=AUTH))

    assert refusal("GET", "/v1/nothing") == [
        ("route", None, "Path not found for http://localhost/v1/nothing")
    ]
    assert refusal("PUT", "/v1/videos") == [
        ("route", None, "Operation put not found for http://localhost/v1/videos")
    ]
    assert refusal("GET", "/v1/videos/video_1/content", variant="nope") == [
        ("parameter", "variant", "'nope' is not one of ['video', 'thumbnail', 'spritesheet']")
    ]


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        (b"", [("/", "the stream does not end with '[DONE]'")]),
        # bytes that are not UTF-8 are named, not raised
        (
            b"data: \xff\xfe\n\n",
            [
                ("/0/data", "not JSON: '\ufffd\ufffd'"),
                ("/", "the stream does not end with '[DONE]'"),
            ],
        ),
        (
            _stream({**_chunk("x"), "created": -1}, "[DONE]"),
            [("/0/data/created", "-1 is less than the minimum of 0")],
        ),
    ],
)
def test_each_problem_of_a_stream_is_named_where_it_is(
    data: bytes, problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response(CHAT_REQUEST, _sse(200, data))
    assert [(p.kind, p.field, p.message) for p in refused.value.problems] == [
        ("response", where, message) for where, message in problems
    ]


@pytest.mark.parametrize(("length", "shortened"), [(200, False), (201, True)])
def test_the_reference_shortens_an_unreadable_body_past_200_characters(
    length: int, shortened: bool
) -> None:
    said = "Failed to deserialize value with application/json mimetype: {"
    body = b"{" + b"x" * (length - len(said))
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=body,
    )
    [(_, _, message)] = _refusal(remix)
    text = said[:-1] + body.decode()
    assert len(text) == length
    assert message == "cannot be read: " + (text[:200] + "..." if shortened else text)


def _contract_file(tmp_path: Path, name: str, change: object) -> contracts.Contract:
    spec = copy.deepcopy(contracts.load(name).spec)
    change(spec)  # type: ignore[operator]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return contracts.load_path(path)


def test_a_stream_declared_as_a_default_response_by_reference_is_judged(tmp_path: Path) -> None:
    def move(spec: dict) -> None:  # type: ignore[type-arg]
        responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
        spec["components"].setdefault("responses", {})["Stream"] = responses.pop("200")
        responses["default"] = {"$ref": "#/components/responses/Stream"}

    chat = _contract_file(tmp_path, "gptproto-chat", move)
    chat.validate_response(CHAT_REQUEST, _sse(200, _stream(_chunk("x"), "[DONE]")))
    with pytest.raises(ContractViolation) as refused:
        chat.validate_response(CHAT_REQUEST, _sse(202, _stream({**_chunk("x"), "created": -1})))
    assert ("/0/data/created", "-1 is less than the minimum of 0") in [
        (p.field, p.message) for p in refused.value.problems
    ]


def test_a_contract_whose_encoding_omits_the_content_type_still_serves_as_reference(
    tmp_path: Path,
) -> None:
    def add_encoding(spec: dict) -> None:  # type: ignore[type-arg]
        media = spec["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
        media["multipart/form-data"]["encoding"]["prompt"] = {"explode": False}

    gptge = _contract_file(tmp_path, "gptge-videos", add_encoding)
    listed = OpenAPIRequest.build("GET", "/v1/videos", query={"limit": "3"}, headers=AUTH)
    assert gptge.validate_request_reference(listed).parameters.query["limit"] == 3


def test_the_reference_reads_a_yaml_answer() -> None:
    admin = contracts.load_path(contracts.CONTRACTS_DIR / "mock-admin.yaml")  # a fresh reference
    request = OpenAPIRequest.build("GET", "/__mock/contracts/gptge.yaml")

    def answer(text: str) -> OpenAPIResponse:
        headers = Headers({"Content-Type": "application/yaml"})
        return OpenAPIResponse(200, "application/yaml", headers, text.encode())

    admin.validate_response_reference(request, answer("openapi: 3.1.0\ninfo: {title: x}\n"))
    with pytest.raises(ContractViolation):
        admin.validate_response_reference(request, answer("- a list\n- not an object\n"))
    # a body YAML cannot read (a control character) is refused, not raised as a YAML error
    with pytest.raises(ContractViolation) as refused:
        admin.validate_response_reference(request, answer("a: b\x7f\n"))
    assert refused.value.kinds == {"response"}


def test_the_reference_joins_the_path_of_a_nested_problem_with_dots() -> None:
    problems = _chat_refusal([{"role": "robot", "content": "hi"}])
    assert [(field, message) for _, field, message in problems] == [
        ("messages.0.role", "'robot' is not one of ['system', 'user', 'assistant']")
    ]


def test_the_reference_names_three_alternatives_of_an_any_of_then_goes_on(
    tmp_path: Path,
) -> None:
    def any_of(spec: dict) -> None:  # type: ignore[type-arg]
        body = spec["paths"]["/v1/videos/{video_id}/remix"]["post"]["requestBody"]
        alternatives = [{"type": t} for t in ("string", "integer", "boolean", "object")]
        body["content"]["application/json"]["schema"] = {
            "type": "object",
            "properties": {"prompt": {"anyOf": alternatives}},
            "additionalProperties": False,
            "required": ["prompt"],
        }

    gptge = _contract_file(tmp_path, "gptge-videos", any_of)
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=json.dumps({"prompt": [1], "extra": 1}).encode(),
    )
    with pytest.raises(ContractViolation) as refused:
        gptge.validate_request_reference(remix)
    assert [p.message for p in refused.value.problems] == [
        "[1] is not of type 'string'",
        "[1] is not of type 'integer'",
        "[1] is not of type 'boolean'",
        "Additional properties are not allowed ('extra' was unexpected)",
    ]


def test_the_reference_says_when_a_value_fits_more_than_one_alternative(tmp_path: Path) -> None:
    def overlapping(spec: dict) -> None:  # type: ignore[type-arg]
        body = spec["paths"]["/v1/videos/{video_id}/remix"]["post"]["requestBody"]
        body["content"]["application/json"]["schema"] = {
            "type": "object",
            "properties": {"prompt": {"oneOf": [{"type": "string"}, {"minLength": 1}]}},
        }

    gptge = _contract_file(tmp_path, "gptge-videos", overlapping)
    remix = OpenAPIRequest.build(
        "POST",
        "/v1/videos/video_1/remix",
        headers={**AUTH, "Content-Type": "application/json"},
        body=b'{"prompt": "fits both"}',
    )
    with pytest.raises(ContractViolation) as refused:
        gptge.validate_request_reference(remix)
    [problem] = refused.value.problems
    assert (problem.kind, problem.field) == ("body", "prompt")
    assert "is valid under each of" in problem.message


def test_the_reference_names_the_media_types_an_answer_may_have() -> None:
    html = OpenAPIResponse(200, "text/html", Headers({"Content-Type": "text/html"}), b"<p>")
    with pytest.raises(ContractViolation) as refused:
        CHAT.validate_response_reference(CHAT_REQUEST, html)
    assert [(p.kind, p.field, p.message) for p in refused.value.problems] == [
        (
            "response",
            "Content-Type",
            "unsupported content type (use text/event-stream, application/json)",
        )
    ]
