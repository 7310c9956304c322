"""Hypothesis strategies taken from the contracts: bodies, headers and whole responses a
provider may send, and request bodies it must accept.

Nothing is restated in Python: every value is generated from the contract's own JSON Schemas
(``$ref``, ``type``, ``enum``, ``const``, ``properties``, ``oneOf``, ``if``/``then``/``else``, ...)
and checked against the contract's validator before it is handed out, so a strategy never
yields a value the contract forbids. Every function takes a :class:`~contracts.Contract` or a
contract name.

Property-test your own parser against anything gpt.ge may answer to a status poll::

    from hypothesis import given

    from contracts import strategies
    from my_app import RateLimited, parse_video_job

    @given(strategies.responses("gptge-videos", "getVideo", 200))
    def test_parser_accepts_every_allowed_answer(response):  # an httpx.Response
        job = parse_video_job(response)  # must not raise on any answer the contract allows
        assert job.status in {"queued", "in_progress", "completed", "failed"}

    @given(strategies.responses("gptge-videos", "getVideo", 429))
    def test_parser_honours_retry_after(response):
        with pytest.raises(RateLimited) as caught:
            parse_video_job(response)
        assert caught.value.retry_after == int(response.headers["Retry-After"])

    @given(strategies.response_bodies("vtrix-generation", "getGenerationTask"))
    def test_task_model_loads_every_allowed_task(body):  # the decoded JSON
        Task.model_validate(body)

Schema keywords generated for: local ``$ref`` (recursion included), ``type`` (one or a list,
``null`` too), ``enum``, ``const``, ``properties``/``required``/``additionalProperties``,
``items``/``prefixItems``/``minItems``/``maxItems``/``uniqueItems``, ``minLength``/``maxLength``,
``pattern``, ``format`` (``binary``, ``date-time``, ``date``, ``uuid``, ``uri``, ``email``),
``contentMediaType``/``contentSchema`` (JSON in a string), ``minimum``/``maximum``/
``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf``, ``oneOf``/``anyOf`` (a branch, then
oneOf exclusivity checked), ``allOf`` (merged), ``not``, ``if``/``then``/``else`` (the outcome is
chosen first) and ``default``/``examples`` (offered when valid). Anything else is left to the
final check. Strings stay short (40 characters unless ``minLength`` wants more).

Other entry points: :func:`response_bodies` (decoded bodies), :func:`request_bodies` (for a
multipart operation a dict of form fields with ``format: binary`` parts as ``bytes``),
:func:`from_schema` (any schema of a contract, by JSON pointer) and :func:`strategies_for`
(all of them bound to one contract).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from contracts._loader import Contract, load
from contracts._schema_strategies import (
    _ALPHABETS,
    MAX_TEXT,
    Encoding,
    _as_json,
    _Builder,
    _escape,
)

# the generator's limits, documented here before it had a module of its own
from contracts._schema_strategies import MAX_EXTRA_ITEMS as MAX_EXTRA_ITEMS
from contracts._schema_strategies import MAX_SAFE_INT as MAX_SAFE_INT
from contracts._strategy_state import _canonical, _is_json, _state, _validator_for

__all__ = [
    "ContractStrategies",
    "Encoding",
    "from_schema",
    "request_bodies",
    "response_bodies",
    "responses",
    "strategies_for",
]


ContractLike = Contract | str


def _contract(contract: ContractLike) -> Contract:
    return load(contract) if isinstance(contract, str) else contract


# -- validators ------------------------------------------------------------------------------


# -- the generator ---------------------------------------------------------------------------


# -- public API ------------------------------------------------------------------------------


def from_schema(
    contract: ContractLike,
    pointer_or_schema: str | Mapping[str, Any] | bool,
    *,
    encoding: Encoding = "json",
    extra_properties: bool = True,
) -> SearchStrategy[Any]:
    """Values valid against one schema of ``contract``.

    ``pointer_or_schema`` is a local JSON pointer (``"#/components/schemas/Video"``) or a
    schema (whose ``$ref``s point into the contract). ``extra_properties`` adds undeclared
    members where an object schema allows them (a provider may add fields). Every value is
    checked with the contract's validator before it is yielded.
    """
    c = _contract(contract)
    state = _state(c)
    key = (
        pointer_or_schema if isinstance(pointer_or_schema, str) else _canonical(pointer_or_schema),
        encoding,
        extra_properties,
    )
    cached = state.strategies.get(key)
    if cached is not None:
        return cached
    builder = _Builder(c, encoding, extra_properties)
    if isinstance(pointer_or_schema, str):
        strategy = builder.ref(pointer_or_schema)
    else:
        strategy = builder.build(pointer_or_schema)
    validator = _validator_for(c, pointer_or_schema)
    guarded = strategy.filter(lambda v: bool(validator.is_valid(_as_json(v))))
    state.strategies[key] = guarded
    return guarded


def _operation_pointer(contract: Contract, operation_id: str) -> str:
    op = contract.operation(operation_id)
    return f"#/paths/{_escape(op.path)}/{op.method}"


def _follow(contract: Contract, pointer: str) -> tuple[str, Mapping[str, Any]]:
    """Follow ``$ref``s from ``pointer`` (responses, request bodies, headers, parameters)."""
    node = contract.resolve(pointer)
    for _ in range(32):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
            return pointer, node
        pointer = node["$ref"]
        node = contract.resolve(pointer)
    raise ValueError(f"{contract.name}: $ref chain too deep at {pointer}")


def _response_pointer(
    contract: Contract, operation_id: str, status: int | str
) -> tuple[str, Mapping[str, Any]]:
    base = f"{_operation_pointer(contract, operation_id)}/responses"
    declared = {str(k): k for k in contract.resolve(base)}
    text = str(status)
    candidates = [text, f"{text[:1]}XX", "default"] if text.isdigit() else [text]
    for candidate in candidates:
        if candidate in declared:
            return _follow(contract, f"{base}/{_escape(candidate)}")
    raise KeyError(
        f"{contract.name}: {operation_id} documents no response {status!r} "
        f"(has {', '.join(declared)})"
    )


def _media(content: Mapping[str, Any], media_type: str | None) -> str:
    if not content:
        raise KeyError("no content is declared")
    if media_type is None:
        return "application/json" if "application/json" in content else next(iter(content))
    if media_type in content:
        return media_type
    base = media_type.split(";")[0].strip().lower()
    for declared in content:
        if declared.split(";")[0].strip().lower() == base:
            return str(declared)
    raise KeyError(f"{media_type!r} is not declared (has {', '.join(content)})")


def _body_strategy(
    contract: Contract, pointer: str, media_type: str, media: Mapping[str, Any], extra: bool
) -> SearchStrategy[Any]:
    schema_ptr = f"{pointer}/content/{_escape(media_type)}/schema"
    base = media_type.split(";")[0].strip().lower()
    if "x-sse-data-schema" in media:
        return _sse_stream(contract, f"{pointer}/content/{_escape(media_type)}", media)
    if base == "text/event-stream" and "schema" in media:
        event = _Builder(contract, "multipart", False).resolved(media["schema"])
        if isinstance(event, Mapping) and (event.get("type") == "object" or "properties" in event):
            return _event_stream(contract, schema_ptr)
    if "schema" not in media:
        return st.binary(max_size=256) if not _is_json(media_type) else from_schema(contract, True)
    if _is_json(media_type):
        return from_schema(contract, schema_ptr, extra_properties=extra)
    if base in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return from_schema(contract, schema_ptr, encoding="multipart", extra_properties=False)
    schema = _Builder(contract, "json", False).resolved(media["schema"])
    if not (isinstance(schema, Mapping) and schema.get("type") == "string"):
        # a structured body in another format (application/yaml): decoded values, which
        # `responses` serializes as JSON (valid YAML too)
        return from_schema(contract, schema_ptr, extra_properties=extra)
    # a raw body (video/mp4, image/png): `format: binary` as bytes, and never empty (an empty
    # body is no body: openapi-core reports it as missing)
    return from_schema(
        contract,
        {"allOf": [{"$ref": schema_ptr}, {"minLength": 1}]},
        encoding="multipart",
        extra_properties=False,
    )


def _sse_stream(
    contract: Contract, media_ptr: str, media: Mapping[str, Any]
) -> SearchStrategy[str]:
    """A ``text/event-stream`` body: ``data:`` lines of the contract's ``x-sse-data-schema``,
    then its ``x-sse-terminator`` (if any)."""
    events = st.lists(
        from_schema(contract, f"{media_ptr}/x-sse-data-schema"), min_size=1, max_size=4
    )
    terminator = media.get("x-sse-terminator")

    def render(chunks: list[Any]) -> str:
        lines = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
        if terminator is not None:
            lines.append(f"data: {terminator}\n\n")
        return "".join(lines)

    return events.map(render)


def _event_stream(contract: Contract, event_ptr: str) -> SearchStrategy[str]:
    """A ``text/event-stream`` body whose media ``schema`` describes one event (the OpenAPI 3.1
    reading of a sequential media type): 1-4 events, each a block of ``field: value`` lines."""
    events = st.lists(
        from_schema(contract, event_ptr, encoding="multipart"), min_size=1, max_size=4
    )

    def block(event: Mapping[str, Any]) -> str:
        lines: list[str] = []
        for name in sorted(event, key=lambda n: n == "data"):
            value = event[name]
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.extend(f"{name}: {part}" for part in text.split("\n"))
        return "\n".join(lines) + "\n\n"

    return events.map(lambda evs: "".join(block(e) for e in evs))


def response_bodies(
    contract: ContractLike,
    operation_id: str,
    status: int | str = 200,
    media_type: str = "application/json",
    *,
    extra_properties: bool = True,
) -> SearchStrategy[Any]:
    """Bodies the contract allows for one response: decoded values for a JSON media type (or
    a structured schema under another one, such as YAML), ``bytes`` for ``format: binary``
    media, and for ``text/event-stream`` the text of a whole
    stream (events from the media ``schema`` when it describes one event, or ``data:`` lines
    from an ``x-sse-data-schema``)."""
    c = _contract(contract)
    pointer, response = _response_pointer(c, operation_id, status)
    content = response.get("content") or {}
    mt = _media(content, media_type)
    return _body_strategy(c, pointer, mt, content[mt], extra_properties)


def request_bodies(
    contract: ContractLike,
    operation_id: str,
    media_type: str | None = None,
    *,
    extra_properties: bool = False,
) -> SearchStrategy[Any]:
    """Request bodies the contract accepts: a JSON value, or for ``multipart/form-data`` a
    dict of form fields whose ``format: binary`` parts are ``bytes``. By default objects carry
    only declared members (``extra_properties=True`` adds undeclared ones where allowed)."""
    c = _contract(contract)
    op_ptr = _operation_pointer(c, operation_id)
    if "requestBody" not in c.resolve(op_ptr):
        raise KeyError(f"{c.name}: {operation_id} takes no request body")
    pointer, body = _follow(c, f"{op_ptr}/requestBody")
    content = body.get("content") or {}
    mt = _media(content, media_type)
    return _body_strategy(c, pointer, mt, content[mt], extra_properties)


def _parameters(contract: Contract, operation_id: str, where: str) -> list[tuple[str, str, bool]]:
    """(name, schema pointer, required) of the operation's parameters ``in: where``."""
    op = contract.operation(operation_id)
    item_ptr = f"#/paths/{_escape(op.path)}"
    found: dict[str, tuple[str, str, bool]] = {}
    for owner in (item_ptr, f"{item_ptr}/{op.method}"):
        listed = contract.resolve(owner).get("parameters") or []
        for index in range(len(listed)):
            ptr, param = _follow(contract, f"{owner}/parameters/{index}")
            if param.get("in") == where:
                found[param["name"]] = (param["name"], f"{ptr}/schema", bool(param.get("required")))
    return list(found.values())


def _requests(
    contract: Contract, operation_id: str, base_url: str
) -> SearchStrategy[httpx.Request]:
    op = contract.operation(operation_id)
    params = {
        name: from_schema(contract, ptr, encoding="path")
        for name, ptr, _ in _parameters(contract, operation_id, "path")
    }

    def make(values: dict[str, Any]) -> httpx.Request:
        path = op.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", str(value))
        return httpx.Request(op.method.upper(), base_url.rstrip("/") + path)

    return st.fixed_dictionaries(params).map(make)


def responses(
    contract: ContractLike,
    operation_id: str,
    status: int = 200,
    media_type: str | None = None,
    *,
    request: httpx.Request | None = None,
    base_url: str = "http://localhost",
    extra_properties: bool = True,
) -> SearchStrategy[httpx.Response]:
    """Whole ``httpx.Response``s the contract allows: the status, ``Content-Type`` (JSON when
    declared, else the first media type, or ``media_type``), the serialized body, every
    required header and ``x-request-id`` when declared (other declared headers at random),
    each generated from its schema. The response carries ``request`` (by default a request
    to the operation with its path parameters generated from their schemas)."""
    c = _contract(contract)
    pointer, response = _response_pointer(c, operation_id, status)
    code = int(status)
    content = response.get("content") or {}
    mt = _media(content, media_type) if content else None
    body: SearchStrategy[Any] = (
        _body_strategy(c, pointer, mt, content[mt], extra_properties) if mt else st.just(None)
    )

    always: dict[str, SearchStrategy[Any]] = {}
    maybe: dict[str, SearchStrategy[Any]] = {}
    for name in response.get("headers") or {}:
        if name.lower() == "content-type":
            continue  # OpenAPI: ignored; it comes from the media type
        hptr, header = _follow(c, f"{pointer}/headers/{_escape(name)}")
        if "schema" in header:
            value = from_schema(c, f"{hptr}/schema", encoding="header")
        else:
            value = st.text(_ALPHABETS["header"], max_size=MAX_TEXT)
        target = always if header.get("required") or name.lower() == "x-request-id" else maybe
        target[name] = value
    headers = st.fixed_dictionaries(always, optional=maybe)
    requests = st.just(request) if request is not None else _requests(c, operation_id, base_url)

    def make(parts: tuple[Any, dict[str, Any], httpx.Request]) -> httpx.Response:
        payload, extra_headers, req = parts
        items = [(k, _header_text(v)) for k, v in extra_headers.items()]
        if mt is None:
            return httpx.Response(code, headers=items, request=req)
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str) and not _is_json(mt):
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return httpx.Response(
            code, headers=[("Content-Type", mt), *items], content=data, request=req
        )

    return st.tuples(body, headers, requests).map(make)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class ContractStrategies:
    """All strategies bound to one contract: ``strategies_for("gptge-videos").responses(...)``."""

    contract: Contract

    def from_schema(
        self, pointer_or_schema: str | Mapping[str, Any] | bool, **kwargs: Any
    ) -> SearchStrategy[Any]:
        return from_schema(self.contract, pointer_or_schema, **kwargs)

    def response_bodies(
        self, operation_id: str, status: int | str = 200, **kwargs: Any
    ) -> SearchStrategy[Any]:
        return response_bodies(self.contract, operation_id, status, **kwargs)

    def request_bodies(self, operation_id: str, **kwargs: Any) -> SearchStrategy[Any]:
        return request_bodies(self.contract, operation_id, **kwargs)

    def responses(
        self, operation_id: str, status: int = 200, **kwargs: Any
    ) -> SearchStrategy[httpx.Response]:
        return responses(self.contract, operation_id, status, **kwargs)


def strategies_for(contract: ContractLike) -> ContractStrategies:
    """The strategies of one contract, by name or :class:`Contract`."""
    return ContractStrategies(_contract(contract))
