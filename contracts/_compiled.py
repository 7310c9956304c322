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
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage, MultiDict

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Registry

    from contracts._loader import Contract

_TEXT_TYPES = ("text/plain",)
_JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class Problem:
    """One reason a message breaks its contract.

    ``kind`` is one of: ``route`` (no such path or method), ``security``, ``media_type``,
    ``body`` (missing or invalid body), ``parameter``, ``response``.
    """

    kind: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ContractViolation(Exception):
    """A request or response the contract does not allow."""

    contract: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.contract}: " + "; ".join(str(p) for p in self.problems)

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


@dataclass
class Parameters:
    """The typed parameters of a request, by location (as openapi-core's ``Parameters``)."""

    query: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    cookie: dict[str, Any] = field(default_factory=dict)
    path: dict[str, Any] = field(default_factory=dict)


@dataclass
class RequestResult:
    """What a valid request carries: its operation, body (defaults filled in) and parameters."""

    operation_id: str
    body: Any = None
    parameters: Parameters = field(default_factory=Parameters)
    security: dict[str, Any] | None = None
    errors: list[Exception] = field(default_factory=list)


@dataclass
class ResponseResult:
    """A valid response: its decoded body and the declared headers it carries."""

    data: Any = None
    headers: dict[str, Any] = field(default_factory=dict)
    errors: list[Exception] = field(default_factory=list)


_REQUIRED = re.compile(r"'([^']+)' is a required property")


def schema_problems(kind: str, errors: Iterable[Any]) -> list[Problem]:
    """JSON Schema errors as problems, each naming the dotted path of the field at fault."""
    problems: list[Problem] = []
    for err in errors:
        path = [str(p) for p in getattr(err, "path", ())]
        message = getattr(err, "message", str(err))
        if getattr(err, "validator", None) == "required":
            missing = _REQUIRED.search(message)
            if missing:
                path.append(missing.group(1))
        if getattr(err, "validator", None) in {"oneOf", "anyOf"} and getattr(err, "context", None):
            problems.extend(schema_problems(kind, err.context[:3]))
            continue
        if len(message) > 300:
            message = message[:300] + "..."
        problems.append(Problem(kind, ".".join(path) or None, message))
    return problems


# ---------------------------------------------------------------------------------- schemas


def _uri(contract: Contract) -> str:
    return f"urn:sora-mock:contract:{contract.name}"


def registry(contract: Contract) -> Registry:
    """The whole contract as one resource, so every ``$ref`` resolves (built once)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    if "registry" not in contract.validators:
        resource: Resource[Any] = Resource.from_contents(
            contract.spec, default_specification=DRAFT202012
        )
        contract.validators["registry"] = Registry().with_resource(_uri(contract), resource)
    found: Registry = contract.validators["registry"]
    return found


def deref(contract: Contract, node: Any) -> Any:
    """Follow a chain of ``$ref`` (an OpenAPI object or a schema that is only a reference)."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 50:
        node = contract.resolve(node["$ref"])
        seen += 1
    return node


class FastValidator:
    """A schema's validator: jsonschema-rs answers "valid" (~1-2 us instead of 0.2-0.5 ms);
    when it does not, Python jsonschema with openapi-core's own dialect (``OAS31Validator``
    and format checker) decides and words the errors. So the messages are openapi-core's, and
    where the engines differ (Rust and Python regular expressions: ``$`` before a final
    newline) Python's answer wins whenever Rust refuses.

    The Python validator is built on first need (openapi-schema-validator takes ~0.5 s to
    import, which a server that only sees valid requests never pays)."""

    __slots__ = ("_contract", "_python", "rust", "schema")

    def __init__(self, contract: Contract, schema: Any, rust: Any) -> None:
        self._contract = contract
        self.schema = schema
        self.rust = rust
        self._python: Validator | None = None

    @property
    def python(self) -> Validator:
        if self._python is None:
            self._python = _python_validator(self._contract, self.schema)
        return self._python

    def _fast_valid(self, value: Any) -> bool:
        if self.rust is None:
            return False
        try:
            return bool(self.rust.is_valid(value))
        except Exception:  # noqa: BLE001 - a value Rust cannot take: Python decides
            return False

    def iter_errors(self, value: Any) -> Iterator[Any]:
        if self._fast_valid(value):
            return iter(())
        return iter(self.python.iter_errors(value))

    def is_valid(self, value: Any) -> bool:
        return self._fast_valid(value) or bool(self.python.is_valid(value))


#: set False to compare against Python jsonschema alone (benchmarks, debugging)
USE_RUST = True


def _python_validator(contract: Contract, schema: Any) -> Validator:
    # openapi-core validates OpenAPI 3.1 schemas with OAS31Validator and the OAS 3.0 format
    # checker (its issue #506): the same here, so both accept, refuse and word alike
    from openapi_schema_validator import OAS30ReadValidator, OAS31Validator

    resolver = registry(contract).resolver(base_uri=_uri(contract))
    validator: Validator = OAS31Validator(
        schema,
        _resolver=resolver,  # jsonschema's private hook, as openapi-core uses it
        format_checker=OAS30ReadValidator.FORMAT_CHECKER,
    )
    return validator


def compile_schema(contract: Contract, schema: Any) -> FastValidator:
    """A validator of the contract's dialect for one schema, its references resolvable."""
    return FastValidator(contract, schema, _rust(contract, schema) if USE_RUST else None)


def _has_ref(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _rust(contract: Contract, schema: Any) -> Any:
    """jsonschema-rs for ``schema``, the contract's components beside it so that every
    ``#/components/...`` reference resolves; None if it cannot take the schema."""
    if not isinstance(schema, Mapping) or "components" in schema:
        return None
    try:
        import jsonschema_rs

        document = dict(schema)
        if _has_ref(schema):
            document["components"] = contract.spec.get("components", {})
        return jsonschema_rs.Draft202012Validator(document)
    except Exception:  # noqa: BLE001 - e.g. a reference outside #/components: Python only
        return None


class _Filler:
    """Fills in schema defaults as openapi-core's unmarshaller does (objects, recursively)."""

    def __init__(self, contract: Contract, schema: Any, seen: dict[int, _Filler]) -> None:
        seen[id(schema)] = self
        schema = deref(contract, schema)
        self.props: list[tuple[str, Any, bool, _Filler | None]] = []
        self.one_of: list[tuple[FastValidator, _Filler]] = []
        self.any_of: list[tuple[FastValidator, _Filler]] = []
        self.all_of: list[_Filler] = []
        self.items: _Filler | None = None
        self.extra: _Filler | None = None
        if not isinstance(schema, Mapping):
            return
        for name, sub in (schema.get("properties") or {}).items():
            resolved = deref(contract, sub)
            has_default = isinstance(resolved, Mapping) and "default" in resolved
            default = resolved.get("default") if has_default else None
            self.props.append((name, default, has_default, _filler(contract, sub, seen)))
        for key, target in (("oneOf", self.one_of), ("anyOf", self.any_of)):
            for sub in schema.get(key) or ():
                child = _filler(contract, sub, seen)
                if child is not None:
                    target.append((compile_schema(contract, deref(contract, sub)), child))
        for sub in schema.get("allOf") or ():
            child = _filler(contract, sub, seen)
            if child is not None:
                self.all_of.append(child)
        if isinstance(schema.get("items"), Mapping):
            self.items = _filler(contract, schema["items"], seen)
        if isinstance(schema.get("additionalProperties"), Mapping):
            self.extra = _filler(contract, schema["additionalProperties"], seen)

    def _object(self, value: dict[str, Any]) -> dict[str, Any]:
        out = dict(value)
        for name, default, has_default, child in self.props:
            if name in value:
                if child is not None:
                    out[name] = child(value[name])
            elif has_default:
                out[name] = default
        if self.extra is not None:
            declared = {p[0] for p in self.props}
            for name, item in value.items():
                if name not in declared:
                    out[name] = self.extra(item)
        for validator, child in self.one_of:
            if validator.is_valid(value):
                out = {**child(value), **out}
                break
        for validator, child in self.any_of:
            if validator.is_valid(value):
                out = {**child(value), **out}
        for child in self.all_of:
            out = {**child(value), **out}
        return out

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._object(value)
        if isinstance(value, list) and self.items is not None:
            return [self.items(v) for v in value]
        return value


def _filler(contract: Contract, schema: Any, seen: dict[int, _Filler]) -> _Filler | None:
    """A default filler for ``schema``, or None when nothing under it has a default."""
    if id(schema) in seen:
        return seen[id(schema)]
    if not _has_default(contract, schema, set()):
        return None
    return _Filler(contract, schema, seen)


def _has_default(contract: Contract, schema: Any, seen: set[int]) -> bool:
    if id(schema) in seen:
        return False
    seen.add(id(schema))
    schema = deref(contract, schema)
    if not isinstance(schema, Mapping):
        return False
    for sub in (schema.get("properties") or {}).values():
        resolved = deref(contract, sub)
        if isinstance(resolved, Mapping) and "default" in resolved:
            return True
        if _has_default(contract, sub, seen):
            return True
    subs = [*schema.get("oneOf", ()), *schema.get("anyOf", ()), *schema.get("allOf", ())]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            subs.append(schema[key])
    return any(_has_default(contract, sub, seen) for sub in subs)


# ------------------------------------------------------------------------------- parameters


def _coerce(value: str, schema: Mapping[str, Any] | bool) -> Any:
    """A query, path or header string as the type its schema names (simple/form style); a
    boolean schema (OpenAPI 3.1 allows ``schema: true``) names none: the text as it is."""
    kinds = schema.get("type", "string") if isinstance(schema, Mapping) else "string"
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    for kind in kinds:
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                return float(value)
            if kind == "boolean" and value in ("true", "false"):
                return value == "true"
        except ValueError:
            continue
    return value


@dataclass(frozen=True)
class CompiledParameter:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    validator: FastValidator
    has_default: bool
    default: Any


def _parameters(contract: Contract, op_path: str, definition: Mapping[str, Any]) -> list[Any]:
    """The operation's parameters, then its path item's, one per (name, in): openapi-core's
    order, an operation's parameter overriding the path item's."""
    path_item = contract.spec["paths"][op_path]
    found: list[CompiledParameter] = []
    seen: set[tuple[str, str]] = set()
    for raw in [*definition.get("parameters", ()), *path_item.get("parameters", ())]:
        param = deref(contract, raw)
        key = (param["name"], param["in"])
        if key in seen:
            continue
        seen.add(key)
        schema = deref(contract, param.get("schema", {}))
        found.append(
            CompiledParameter(
                name=param["name"],
                location=param["in"],
                required=bool(param.get("required")),
                schema=schema,
                validator=compile_schema(contract, schema),
                has_default=isinstance(schema, Mapping) and "default" in schema,
                default=schema.get("default") if isinstance(schema, Mapping) else None,
            )
        )
    return found


# ------------------------------------------------------------------------------ media types


def _split_mimetype(value: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/form-data; boundary=x`` -> (``multipart/form-data``, {boundary: x})."""
    if not value:
        return "", {}
    head, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        if "=" in item:
            name, val = item.split("=", 1)
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            params[name.strip().lower()] = val
    return head.strip().lower(), params


def _find_media(content: Mapping[str, Any], mimetype: str) -> str | None:
    """The declared media type a message's ``Content-Type`` selects (openapi-core's order:
    exact, without parameters, then ranges such as ``image/*``)."""
    if mimetype in content:
        return mimetype
    bare, _ = _split_mimetype(mimetype)
    if bare in content:
        return bare
    if bare:
        for key in content:
            if fnmatch.fnmatch(bare, key):
                return key
    return None


def _part_content_type(schema: Any, encoding: Mapping[str, Any] | None) -> str:
    """openapi-core's content type for a multipart part (``get_content_type``)."""
    if encoding is not None and "contentType" in encoding:
        return str(encoding["contentType"])
    if not isinstance(schema, Mapping):
        return "text/plain"
    kind = schema.get("type")
    if kind is None:
        return "text/plain" if encoding is not None else "application/octet-stream"
    if kind == "string" and schema.get("format") in ("binary", "base64"):
        return "application/octet-stream"
    if kind == "object":
        return "application/json"
    return "text/plain"


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("ascii", errors="surrogateescape")


@dataclass(frozen=True)
class _Part:
    name: str
    kind: str  # "text", "json" or "file" (latin-1 text: every byte one character)
    array: bool
    has_default: bool
    default: Any

    def decode(self, value: str | FileStorage) -> Any:
        if isinstance(value, FileStorage):
            raw = value.stream.read()
            value.stream.seek(0)
            if self.kind == "file":
                return raw.decode("latin-1")
            return json.loads(raw) if self.kind == "json" else _text(raw)
        if self.kind == "file":
            return value.encode("utf-8", errors="surrogateescape").decode("latin-1")
        return json.loads(value) if self.kind == "json" else value


class MalformedBody(Exception):
    """The body cannot be read as its media type."""


@dataclass
class CompiledMedia:
    """One media type of a request or response body."""

    media_type: str
    validator: FastValidator | None
    filler: _Filler | None
    parts: list[_Part] | None  # multipart only
    closed: frozenset[str] | None  # multipart with additionalProperties: false: the names

    @property
    def multipart(self) -> bool:
        return self.parts is not None

    def decode(self, raw: bytes, params: Mapping[str, str]) -> Any:
        """Raw bytes as the value to validate (multipart: the declared parts, as a dict)."""
        mt = self.media_type
        if self.parts is not None:
            form, files = _parse_multipart(raw, params)
            return self.decode_form(form, files)
        if mt in _JSON_TYPES or mt.endswith("+json"):
            return json.loads(raw)
        if mt in _TEXT_TYPES:
            return _text(raw)
        if mt == "application/yaml":
            import yaml

            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:  # unreadable YAML is a body that cannot be read
                raise ValueError(f"not valid YAML: {exc}") from None
        # images, video, octet-stream: latin-1 text, every byte one character
        return raw.decode("latin-1")

    def decode_form(self, form: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> Any:
        assert self.parts is not None
        if self.closed is not None:
            unknown = sorted((set(form) | set(files)) - self.closed)
            if unknown:
                raise _UnknownPart(unknown[0])
        body: dict[str, Any] = {}
        for part in self.parts:
            values: list[str | FileStorage] = [*form.getlist(part.name), *files.getlist(part.name)]
            if not values:
                if part.has_default:
                    body[part.name] = part.default
                continue
            if part.array:
                body[part.name] = [part.decode(v) for v in values]
            else:
                body[part.name] = part.decode(values[0])
        return body


class _UnknownPart(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _parse_multipart(
    raw: bytes, params: Mapping[str, str]
) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
    from werkzeug.formparser import FormDataParser

    boundary = params.get("boundary", "")
    if not boundary or not multipart_complete(raw, boundary):
        raise MalformedBody("the multipart body is truncated or malformed")
    try:
        # in memory: the body is in memory already (no spooled temporary files to close)
        _, form, files = FormDataParser(stream_factory=_memory_stream, silent=False).parse(
            io.BytesIO(raw), "multipart/form-data", len(raw), {"boundary": boundary}
        )
    except ValueError as exc:
        raise MalformedBody("the multipart body is truncated or malformed") from exc
    return form, files


def _memory_stream(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


def multipart_complete(raw: bytes, boundary: str) -> bool:
    """A multipart body must end with its closing delimiter; Werkzeug parses one that does not."""
    return bool(raw) and f"--{boundary}--".encode() in raw[-len(boundary) - 8 :]


def _compile_media(
    contract: Contract, media_type: str, media: Mapping[str, Any], *, request: bool
) -> CompiledMedia:
    raw_schema = media.get("schema")
    schema = deref(contract, raw_schema) if raw_schema is not None else None
    validator = compile_schema(contract, schema) if schema is not None else None
    filler = _filler(contract, raw_schema, {}) if raw_schema is not None and request else None
    parts: list[_Part] | None = None
    closed: frozenset[str] | None = None
    if media_type.startswith("multipart/") and isinstance(schema, Mapping):
        encoding = media.get("encoding") or {}
        parts = []
        for name, sub in (schema.get("properties") or {}).items():
            prop = deref(contract, sub)
            array = isinstance(prop, Mapping) and prop.get("type") == "array"
            item = deref(contract, prop.get("items", {})) if array else prop
            ctype = _part_content_type(item if array else prop, encoding.get(name))
            bare, _ = _split_mimetype(ctype)
            kind = "text" if bare in _TEXT_TYPES else "json" if bare in _JSON_TYPES else "file"
            has_default = isinstance(prop, Mapping) and "default" in prop
            default = prop.get("default") if has_default else None
            parts.append(_Part(name, kind, array, has_default, default))
        if schema.get("additionalProperties", True) is False:
            closed = frozenset(schema.get("properties") or {})
    return CompiledMedia(media_type, validator, filler, parts, closed)


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
