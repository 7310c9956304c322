"""Request and response validators compiled once per operation from the contract.

openapi-core re-walks the spec on every message (path lookup, ``$ref`` resolution through
``jsonschema-path``, a fresh JSON Schema validator per schema): 2-15 ms a request. Here every
operation is compiled once (lazily on its first message, or all at once with
:meth:`CompiledContract.build_all`) into plain Python objects: the route regex, the security
alternatives, each parameter with its JSON Schema validator, each request media type with its
body validator and default filler, each response with its header and body validators. On the
request path nothing reads the spec again.

The semantics are openapi-core 0.23's, which stays the reference (``Contract.openapi`` and
``contracts._validation.validate_request_reference``): the same JSON Schema dialect and format
checker (``OAS31Validator``), the same order of checks (route, security, parameters, body), the
same multipart decoding (declared parts only, each by its ``encoding`` content type, defaults
filled in), the same defaults in the unmarshalled body. ``tests/test_compiled_validation.py``
draws requests for every operation of every contract and checks that both accept and reject
the same ones, naming the same field.

Two things are checked here that openapi-core does not: a multipart body must be complete
(its closing delimiter present) and must not carry parts the schema does not declare when it
says ``additionalProperties: false``.

The parts, one module each: ``_results`` (problems and results), ``_schemas`` (schemas to
validators, default fillers), ``_parameters``, ``_bodies`` (media types, multipart); here the
responses, the operations and the contract that routes a request to its operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage, MultiDict

from contracts._bodies import (
    CompiledMedia,
    MalformedBody,
    _compile_media,
    _find_media,
    _split_mimetype,
    _UnknownPart,
    multipart_complete,
)
from contracts._parameters import _coerce, _parameters
from contracts._results import (
    ContractViolation,
    Parameters,
    Problem,
    RequestResult,
    ResponseResult,
    schema_problems,
)
from contracts._schemas import FastValidator, compile_schema, deref

if TYPE_CHECKING:
    from contracts._document import ContractDocument as Contract


# ------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class CompiledHeader:
    name: str
    required: bool
    schema: Mapping[str, Any] | None
    validator: FastValidator | None


@dataclass
class CompiledResponse:
    headers: list[CompiledHeader]
    content: dict[str, CompiledMedia]


def _compile_response(contract: Contract, raw: Any) -> CompiledResponse:
    response = deref(contract, raw)
    headers = []
    for name, header in (response.get("headers") or {}).items():
        if name.lower() == "content-type":
            continue  # OpenAPI: ignored
        header = deref(contract, header)
        schema = deref(contract, header["schema"]) if "schema" in header else None
        validator = compile_schema(contract, schema) if schema is not None else None
        headers.append(CompiledHeader(name, bool(header.get("required")), schema, validator))
    content = {
        mt: _compile_media(contract, mt, media, request=False)
        for mt, media in (response.get("content") or {}).items()
    }
    return CompiledResponse(headers, content)


# ------------------------------------------------------------------------------- operations


class CompiledOperation:
    """Everything needed to validate one operation's requests and responses, compiled."""

    def __init__(self, contract: Contract, operation_id: str) -> None:
        op = contract.operation(operation_id)
        self.contract_name = contract.name
        self.operation_id = operation_id
        self.parameters = _parameters(contract, op.path, op.definition)
        self.query_names = frozenset(p.name for p in self.parameters if p.location == "query")
        security = op.definition.get("security", contract.spec.get("security"))
        schemes = contract.security_schemes
        self.security: list[list[tuple[str, Mapping[str, Any]]]] = [
            [(name, deref(contract, schemes.get(name, {}))) for name in requirement]
            for requirement in (security or [])
        ]
        body = op.definition.get("requestBody")
        self.has_body = body is not None
        body = deref(contract, body) if body is not None else {}
        self.body_required = bool(body.get("required"))
        self.content = {
            mt: _compile_media(contract, mt, media, request=True)
            for mt, media in (body.get("content") or {}).items()
        }
        self._responses_raw = dict(op.definition.get("responses") or {})
        self._responses: dict[str, CompiledResponse] = {}
        self._contract = contract

    # -- requests

    def check_security(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Any:
        """openapi-core's security check: the first requirement whose schemes are all there."""
        if not self.security:
            return {}
        for requirement in self.security:
            found: dict[str, Any] = {}
            for name, scheme in requirement:
                value = _credential(scheme, headers, query)
                if value is None:
                    break
                found[name] = value
            else:
                return found
        raise ContractViolation(
            self.contract_name,
            [Problem("security", "Authorization", "missing or malformed credentials")],
        )

    def check_parameters(
        self,
        path: Mapping[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Parameters, list[Problem]]:
        parsed = Parameters()
        problems: list[Problem] = []
        for param in self.parameters:
            location = param.location
            if location == "path":
                source: Mapping[str, str] | None = path
            elif location == "query":
                source = query
            elif location == "header":
                source = headers
            else:
                source = None  # cookies: none in these contracts
            if source is None:
                continue
            if param.name not in source:
                if param.has_default:
                    getattr(parsed, location)[param.name] = param.default
                elif param.required:
                    problems.append(
                        Problem("parameter", param.name, f"missing required {location} parameter")
                    )
                continue
            raw = source[param.name]
            if raw == "" and location == "query":
                problems.append(Problem("parameter", param.name, "should be non-empty"))
                continue
            value = _coerce(raw, param.schema)
            error = next(iter(param.validator.iter_errors(value)), None)
            if error is not None:
                problems.append(Problem("parameter", param.name, error.message))
            else:
                getattr(parsed, location)[param.name] = value
        return parsed, problems

    def select_media(self, content_type: str | None) -> CompiledMedia:
        key = _find_media(self.content, content_type or "")
        if key is None:
            allowed = ", ".join(self.content)
            raise ContractViolation(
                self.contract_name,
                [
                    Problem(
                        "media_type", "Content-Type", f"unsupported content type (use {allowed})"
                    )
                ],
            )
        return self.content[key]

    def check_body(self, media: CompiledMedia, value: Any) -> Any:
        """Validate a decoded body; return it with its schema defaults filled in."""
        if media.validator is not None:
            errors = list(media.validator.iter_errors(value))
            if errors:
                raise ContractViolation(self.contract_name, schema_problems("body", errors))
        return media.filler(value) if media.filler is not None else value

    def validate_request(
        self,
        *,
        path: Mapping[str, str],
        query: Mapping[str, str],
        headers: Any,  # a case-insensitive mapping (Werkzeug's Headers)
        content_type: str | None = None,
        body: bytes | None = None,
        form: Callable[[], tuple[MultiDict[str, str], MultiDict[str, FileStorage]]] | None = None,
        check_security: bool = True,
    ) -> RequestResult:
        """Validate one request; raise ContractViolation listing its problems.

        ``body`` is the raw body; for a multipart body a caller that has parsed it already
        (Flask) passes ``form``, a function returning its (form, files).
        """
        security = self.check_security(headers, query) if check_security else None
        parameters, problems = self.check_parameters(path, query, headers)
        value = None
        if self.has_body:
            try:
                value = self._body(content_type, body, form)
            except ContractViolation as exc:
                problems.extend(exc.problems)
        if problems:
            raise ContractViolation(self.contract_name, problems)
        return RequestResult(self.operation_id, value, parameters, security)

    def _body(
        self,
        content_type: str | None,
        body: bytes | None,
        form: Callable[[], tuple[MultiDict[str, str], MultiDict[str, FileStorage]]] | None,
    ) -> Any:
        name = self.contract_name
        if not body:
            if self.body_required:
                raise ContractViolation(name, [Problem("body", None, "a request body is required")])
            return None
        media = self.select_media(content_type)
        try:
            if media.multipart and form is not None:
                _, params = _split_mimetype(content_type)
                if not multipart_complete(body, params.get("boundary", "")):
                    raise MalformedBody("the multipart body is truncated or malformed")
                value = media.decode_form(*form())
            else:
                value = media.decode(body, _split_mimetype(content_type)[1])
        except _UnknownPart as exc:
            raise ContractViolation(
                name, [Problem("body", exc.name, f"unknown field {exc.name!r}")]
            ) from None
        except MalformedBody as exc:
            raise ContractViolation(name, [Problem("body", None, str(exc))]) from None
        except (ValueError, TypeError, UnicodeDecodeError):
            message = f"cannot be read: not valid {media.media_type}"
            raise ContractViolation(name, [Problem("body", None, message)]) from None
        return self.check_body(media, value)

    # -- responses

    def response(self, status: int) -> CompiledResponse | None:
        """The declared response for a status: exact, then ``2XX``, then ``default``."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self._responses:
                return self._responses[key]
            if key in self._responses_raw:
                compiled = _compile_response(self._contract, self._responses_raw[key])
                self._responses[key] = compiled
                return compiled
        return None

    def compile_responses(self) -> None:
        for key, raw in self._responses_raw.items():
            if key not in self._responses:
                self._responses[key] = _compile_response(self._contract, raw)

    def validate_response(
        self, status: int, content_type: str | None, headers: Any, data: bytes | None
    ) -> ResponseResult:
        """Validate a response (``headers``: a case-insensitive mapping, e.g. Werkzeug's)."""
        name = self.contract_name
        declared = self.response(status)
        if declared is None:
            raise ContractViolation(
                name, [Problem("response", None, f"status {status} is not declared")]
            )
        problems: list[Problem] = []
        found: dict[str, Any] = {}
        for header in declared.headers:
            raw = headers.get(header.name)
            if raw is None:
                if header.required:
                    problems.append(Problem("response", header.name, "missing required header"))
                continue
            value = _coerce(raw, header.schema or {})
            if header.validator is not None:
                error = next(iter(header.validator.iter_errors(value)), None)
                if error is not None:
                    problems.append(Problem("response", header.name, error.message))
                    continue
            found[header.name] = value
        value = None
        if declared.content:
            key = _find_media(declared.content, content_type or "")
            if key is None:
                allowed = ", ".join(declared.content)
                problems.append(
                    Problem("response", "Content-Type", f"unsupported content type (use {allowed})")
                )
            else:
                media = declared.content[key]
                try:
                    value = media.decode(data or b"", _split_mimetype(content_type)[1])
                except (ValueError, TypeError, MalformedBody):
                    problems.append(
                        Problem("response", None, f"cannot be read: not valid {media.media_type}")
                    )
                else:
                    if media.validator is not None:
                        problems.extend(
                            Problem("response", p.field, p.message)
                            for p in schema_problems("body", media.validator.iter_errors(value))
                        )
        if problems:
            raise ContractViolation(name, problems)
        return ResponseResult(value, found)


def _credential(
    scheme: Mapping[str, Any], headers: Mapping[str, str], query: Mapping[str, str]
) -> Any:
    kind = scheme.get("type")
    if kind == "http":
        value = headers.get("Authorization")
        if value is None or " " not in value:
            return None
        auth_type, credentials = value.split(" ", 1)
        return credentials if auth_type.lower() == scheme.get("scheme") else None
    if kind == "apiKey":
        source = headers if scheme.get("in") == "header" else query
        return source.get(scheme.get("name", ""))
    return {}  # other schemes: not checked (as openapi-core)


# -------------------------------------------------------------------------------- contracts


@dataclass(frozen=True)
class _Route:
    method: str
    regex: re.Pattern[str]
    operation_id: str
    names: tuple[str, ...]


class CompiledContract:
    """Every operation of a contract, compiled on first use, and a route table."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.name = contract.name
        self._operations: dict[str, CompiledOperation] = {}
        routes = []
        for op in contract.operations.values():
            names = tuple(re.findall(r"\{([^}]+)\}", op.path))
            pattern = "".join(
                f"(?P<p{i}>[^/]+)" if part.startswith("{") else re.escape(part)
                for i, part in enumerate(re.split(r"(\{[^}]+\})", op.path))
            )
            # name groups by position (a parameter name need not be a valid group name)
            regex = re.compile(pattern)
            routes.append((len(names), _Route(op.method, regex, op.operation_id, names)))
        # concrete paths before templated ones, as openapi-core's path finder
        self.routes = [r for _, r in sorted(routes, key=lambda x: x[0])]

    def operation(self, operation_id: str) -> CompiledOperation:
        compiled = self._operations.get(operation_id)
        if compiled is None:
            compiled = CompiledOperation(self.contract, operation_id)
            self._operations[operation_id] = compiled
        return compiled

    def build_all(self) -> None:
        """Compile every operation and response now (start-up) instead of on first use."""
        for operation_id in self.contract.operations:
            self.operation(operation_id).compile_responses()

    def match(self, method: str, path: str) -> tuple[CompiledOperation, dict[str, str]]:
        """The operation and path parameters of a concrete request path."""
        method = method.lower()
        path_found = False
        for route in self.routes:
            m = route.regex.fullmatch(path)
            if m is None:
                continue
            path_found = True
            if route.method == method:
                values = [
                    v for k, v in sorted(m.groupdict().items(), key=lambda kv: int(kv[0][1:]))
                ]
                return self.operation(route.operation_id), dict(
                    zip(route.names, values, strict=True)
                )
        message = (
            f"Operation {method} not found for {path}"
            if path_found
            else f"Path not found for {path}"
        )
        raise ContractViolation(self.name, [Problem("route", None, message)])


def compiled(contract: Contract) -> CompiledContract:
    """The contract's compiled validators (built once per contract object)."""
    found = contract.validators.get("compiled")
    if found is None:
        found = CompiledContract(contract)
        contract.validators["compiled"] = found
    result: CompiledContract = found
    return result
