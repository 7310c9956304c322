"""Validate requests and responses against a contract, and any schema of it (JSON Schema
2020-12). Adapters turn httpx and Werkzeug messages into openapi-core's protocol.

``validate_request`` / ``validate_response`` run the validators compiled once per operation
(``contracts._compiled``); ``validate_request_reference`` / ``validate_response_reference`` run
openapi-core, the reference the compiled path is property-tested against. openapi-core is
imported only when the reference is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers, ImmutableMultiDict

from contracts._compiled import compiled
from contracts._results import ContractViolation, Parameters, Problem, RequestResult, ResponseResult
from contracts._schemas import registry

__all__ = [
    "ContractViolation",
    "OpenAPIRequest",
    "OpenAPIResponse",
    "Parameters",
    "Problem",
    "RequestResult",
    "ResponseResult",
    "request_from_httpx",
    "response_from_httpx",
    "schema_validator",
    "validate_parameters",
    "validate_request",
    "validate_request_reference",
    "validate_response",
    "validate_response_reference",
]

if TYPE_CHECKING:
    import httpx
    from jsonschema import Draft202012Validator

    from contracts._document import ContractDocument as Contract

#: Image media types a multipart file part may carry (see the contracts' `encoding`).
FILE_MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "video/mp4",
    "application/octet-stream",
)


def _latin1(value: bytes | str) -> str:
    # Under OpenAPI 3.1 a file part is `type: string, format: binary`; openapi-core hands the
    # raw bytes over, which fail `type: string` unless decoded (toolchain.md). Latin-1 maps
    # every byte to one character, so nothing is lost and the length is the byte count.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _encoding_content_types(spec: Any) -> set[str]:
    """Every ``encoding.<part>.contentType`` string of a contract, verbatim: openapi-core looks
    a part's deserializer up by that exact string (``image/png, image/jpeg``)."""
    found: set[str] = set()
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            if key == "encoding" and isinstance(value, Mapping):
                found.update(
                    str(enc["contentType"])
                    for enc in value.values()
                    if isinstance(enc, Mapping) and "contentType" in enc
                )
            else:
                found |= _encoding_content_types(value)
    elif isinstance(spec, list):
        for item in spec:
            found |= _encoding_content_types(item)
    return found


def _yaml(value: bytes | str) -> Any:
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:  # openapi-core turns a ValueError into "cannot be read"
        raise ValueError(f"not valid YAML: {exc}") from None


def build_openapi(contract: Contract) -> Any:
    """openapi-core's ``OpenAPI`` object for a contract (the reference; ~100 ms to build)."""
    from openapi_core import Config, OpenAPI

    media_types = set(FILE_MEDIA_TYPES) | _encoding_content_types(contract.spec)
    deserializers: dict[str, Any] = dict.fromkeys(media_types, _latin1)
    deserializers["application/yaml"] = _yaml
    config = Config(extra_media_type_deserializers=deserializers)
    return OpenAPI.from_dict(contract.spec, config=config)


@dataclass
class _RequestParameters:
    """openapi-core's ``RequestParameters`` (same fields), without importing openapi-core."""

    query: Any
    header: Any
    cookie: Any
    path: dict[str, Any] | None = None

    def __getitem__(self, location: str) -> Any:
        return getattr(self, location)


@dataclass
class OpenAPIRequest:
    """openapi-core's Request protocol, built from plain values."""

    host_url: str
    path: str
    method: str
    parameters: Any  # openapi_core.datatypes.RequestParameters's fields
    content_type: str
    body: bytes | None

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        host_url: str = "http://localhost/",
    ) -> OpenAPIRequest:
        hdrs = Headers(list(headers.items()) if isinstance(headers, Mapping) else list(headers))
        items = list(query.items()) if isinstance(query, Mapping) else list(query)
        return cls(
            host_url=host_url,
            path=path,
            method=method.lower(),
            parameters=_RequestParameters(
                query=ImmutableMultiDict(items), header=hdrs, cookie=ImmutableMultiDict()
            ),
            content_type=hdrs.get("Content-Type", "application/octet-stream"),
            body=body,
        )


@dataclass
class OpenAPIResponse:
    """openapi-core's Response protocol, built from plain values."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


def request_from_httpx(request: httpx.Request, *, strip_prefix: str = "") -> OpenAPIRequest:
    """Adapt an httpx request; ``strip_prefix`` removes a base path such as ``/gptge``."""
    path = request.url.path
    if strip_prefix and path.startswith(strip_prefix):
        path = path[len(strip_prefix) :] or "/"
    body = request.read()
    return OpenAPIRequest.build(
        request.method,
        path,
        query=list(request.url.params.multi_items()),
        headers=list(request.headers.multi_items()),
        body=body or None,
        host_url=f"{request.url.scheme}://{request.url.netloc.decode()}/",
    )


def response_from_httpx(response: httpx.Response) -> OpenAPIResponse:
    response.read()
    headers = Headers(list(response.headers.multi_items()))
    return OpenAPIResponse(
        status_code=response.status_code,
        content_type=headers.get("Content-Type", "application/octet-stream"),
        headers=headers,
        data=response.content,
    )


_REQUIRED = re.compile(r"'([^']+)' is a required property")


def _schema_problems(kind: str, errors: Iterable[Any]) -> list[Problem]:
    """openapi-core's schema errors as problems (the reference path's own wording, kept apart
    from ``contracts._results.schema_problems`` so that the property test compares two
    independent implementations)."""
    problems: list[Problem] = []
    for err in errors:
        path = [str(p) for p in err.path]
        if err.validator == "required":
            missing = _REQUIRED.search(err.message)
            if missing:
                path.append(missing.group(1))
        if err.validator in {"oneOf", "anyOf"} and err.context:
            problems.extend(_schema_problems(kind, err.context[:3]))
            continue
        message = err.message if len(err.message) <= 300 else err.message[:300] + "..."
        problems.append(Problem(kind, ".".join(path) or None, message))
    return problems


def _describe(exc: BaseException) -> str:
    """``str(exc)``, which openapi-core's own errors can fail at (undecodable bodies)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - any failure to describe is described generically
        mimetype = getattr(exc, "mimetype", None)
        return f"not valid {mimetype}" if mimetype else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _problems(errors: Iterable[Exception]) -> list[Problem]:
    """openapi-core's errors as problems (the reference path only)."""
    from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.validation.request.exceptions import (
        MissingRequestBodyError,
        ParameterValidationError,
        SecurityValidationError,
    )

    problems: list[Problem] = []
    for err in errors:
        cause = err.__cause__
        if isinstance(err, (PathNotFound, OperationNotFound)):
            problems.append(Problem("route", None, str(err)))
        elif isinstance(err, SecurityValidationError):
            problems.append(
                Problem("security", "Authorization", "missing or malformed credentials")
            )
        elif isinstance(err, MediaTypeNotFound) or isinstance(cause, MediaTypeNotFound):
            mt = cause if isinstance(cause, MediaTypeNotFound) else err
            allowed = ", ".join(getattr(mt, "availableMimetypes", []) or [])
            problems.append(
                Problem("media_type", "Content-Type", f"unsupported content type (use {allowed})")
            )
        elif isinstance(err, MissingRequestBodyError):
            problems.append(Problem("body", None, "a request body is required"))
        elif isinstance(err, ParameterValidationError):
            schema_errors = getattr(cause, "schema_errors", None)
            if schema_errors:
                for p in _schema_problems("parameter", schema_errors):
                    problems.append(Problem("parameter", err.name, p.message))
            else:
                problems.append(Problem("parameter", err.name, str(err)))
        elif schema_errors := getattr(cause, "schema_errors", None):
            problems.extend(_schema_problems("body", schema_errors))
        elif cause is not None:
            problems.append(Problem("body", None, f"cannot be read: {_describe(cause)}"))
        else:
            problems.append(Problem("body", None, str(err)))
    return problems


def validate_request(contract: Contract, request: OpenAPIRequest) -> RequestResult:
    """Validate a request with the compiled validators; raise ContractViolation listing every
    problem. Returns the operation, the body (schema defaults filled in) and parameters."""
    compiled_contract = compiled(contract)
    operation, path_params = compiled_contract.match(request.method, request.path)
    params = request.parameters
    result = operation.validate_request(
        path=params.path or path_params,
        query=params.query,
        headers=params.header,
        content_type=request.content_type,
        body=request.body,
    )
    result.parameters.path = result.parameters.path or dict(path_params)
    return result


def validate_request_reference(contract: Contract, request: OpenAPIRequest) -> Any:
    """Validate a request with openapi-core (the reference); raise ContractViolation."""
    try:
        result = contract.openapi.unmarshal_request(request)
    except AssertionError:
        # openapi-core asserts on an empty multipart body (toolchain.md)
        raise ContractViolation(
            contract.name, [Problem("body", None, "empty or malformed body")]
        ) from None
    if result.errors:
        raise ContractViolation(contract.name, _problems(result.errors))
    return result


def validate_response(contract: Contract, request: OpenAPIRequest, response: Any) -> Any:
    """Validate a response to ``request`` with the compiled validators; raise
    ContractViolation on any problem (status not declared, a required header missing or
    malformed, a body its schema refuses).

    An event stream is checked event by event (see ``contracts._sse``), since its media
    type's schema is the schema of one event, not of the whole body.
    """
    if (response.content_type or "").startswith("text/event-stream"):
        return _validate_event_stream(contract, request, response)
    operation, _ = compiled(contract).match(request.method, request.path)
    return operation.validate_response(
        response.status_code, response.content_type, response.headers, response.data
    )


def validate_response_reference(contract: Contract, request: OpenAPIRequest, response: Any) -> Any:
    """Validate a response with openapi-core (the reference); raise ContractViolation."""
    if (response.content_type or "").startswith("text/event-stream"):
        return _validate_event_stream(contract, request, response)
    result = contract.openapi.unmarshal_response(request, response)
    if result.errors:
        problems = [Problem("response", p.field, p.message) for p in _problems(result.errors)] or [
            Problem("response", None, str(e)) for e in result.errors
        ]
        raise ContractViolation(contract.name, problems)
    return result


def _validate_event_stream(contract: Contract, request: OpenAPIRequest, response: Any) -> None:
    from contracts._sse import EventStreamChecker

    op = contract.find_operation(request.method, request.path)
    if op is None:
        raise ContractViolation(contract.name, [Problem("route", None, "no such operation")])
    responses = op.definition.get("responses", {})
    declared = responses.get(str(response.status_code)) or responses.get("default")
    if declared is None:
        raise ContractViolation(
            contract.name,
            [Problem("response", None, f"status {response.status_code} is not declared")],
        )
    if "$ref" in declared:
        declared = contract.resolve(declared["$ref"])
    media = (declared.get("content") or {}).get("text/event-stream")
    if media is None:
        raise ContractViolation(
            contract.name, [Problem("response", "Content-Type", "text/event-stream not declared")]
        )
    text = (response.data or b"").decode("utf-8", errors="replace")
    found = EventStreamChecker(contract, media).check_stream(text)
    if found:
        raise ContractViolation(
            contract.name, [Problem("response", where, message) for where, message in found]
        )


def _uri(contract: Contract) -> str:
    return f"urn:sora-mock:contract:{contract.name}"


def schema_validator(contract: Contract, pointer: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/X`` (or any pointer) with all refs resolvable."""
    from jsonschema import Draft202012Validator

    contract.resolve(pointer)  # fail early, naming the file, on a bad pointer
    return Draft202012Validator({"$ref": f"{_uri(contract)}{pointer}"}, registry=registry(contract))


def validate_parameters(
    contract: Contract, operation_id: str, path: Mapping[str, str], query: Mapping[str, str]
) -> dict[str, Any]:
    """Validate the path and query parameters of a request that has no body.

    Returns the query parameters, typed, with schema defaults applied.
    """
    operation = compiled(contract).operation(operation_id)
    parsed, problems = operation.check_parameters(path, query)
    if problems:
        raise ContractViolation(contract.name, problems)
    return parsed.query
