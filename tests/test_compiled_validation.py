"""The compiled validators (contracts._compiled) decide as openapi-core does.

openapi-core stays the reference: for every operation of every contract, hypothesis draws
requests from the contract (``contracts.strategies``), valid ones and ones broken on purpose
(a field dropped or replaced by any value, an unknown field, a bad path or query parameter,
missing credentials, a wrong or missing body), and both validators must accept and reject the
same ones, naming the same field first; an accepted request must unmarshal to the same body
(defaults filled in) and query. Responses (``--strict``) likewise, drawn with
``strategies.responses``. The one intended difference is checked too: the compiled path
refuses undeclared multipart parts, which openapi-core ignores.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contracts
from contracts import Contract, ContractViolation, strategies

NAMES = sorted(p.stem for p in contracts.CONTRACTS_DIR.glob("*.yaml"))
OPERATIONS = [(name, op_id) for name in NAMES for op_id in sorted(contracts.load(name).operations)]
BODY_OPERATIONS = [
    (name, op_id)
    for name, op_id in OPERATIONS
    if "requestBody" in contracts.load(name).operation(op_id).definition
]
# sized for CI's `ci` profile: ~35 operations, requests and responses, about 20 s in all
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: any JSON value, as a broken field may carry
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
#: form-field text (no control characters or surrogates, as a browser sends)
FORM_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30)
BAD_PARAMS = st.sampled_from(["", "-x", "a" * 201, "nope.txt", "0", "-1", "100000", "abc", "x y"])


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _parameters(contract: Contract, op_id: str) -> list[tuple[str, str, str, bool]]:
    """(name, in, schema pointer, required) of an operation's parameters."""
    op = contract.operation(op_id)
    found: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    item = f"#/paths/{_escape(op.path)}"
    for owner in (item, f"{item}/{op.method}"):
        for index, param in enumerate(contract.resolve(owner).get("parameters") or []):
            pointer = f"{owner}/parameters/{index}"
            while "$ref" in param:
                pointer = param["$ref"]
                param = contract.resolve(pointer)
            key = (param["name"], param["in"])
            found[key] = (
                param["name"],
                param["in"],
                f"{pointer}/schema",
                bool(param.get("required")),
            )
    return list(found.values())


def _near_misses(schema: dict[str, Any]) -> list[str]:
    """Values just outside a parameter schema's bounds (and just inside, to be fair)."""
    found = ["", "-x"]
    for key, step in (("minimum", -1), ("maximum", 1), ("exclusiveMinimum", 0)):
        if key in schema:
            found += [str(schema[key] + step), str(schema[key] - step)]
    for key, step in (("minLength", -1), ("maxLength", 1)):
        if key in schema:
            found += ["a" * max(0, schema[key] + step), "a" * max(0, schema[key] - step)]
    if "enum" in schema:
        found += [f"{schema['enum'][0]}x", str(schema["enum"][-1]).upper()]
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _secured(contract: Contract, op_id: str) -> bool:
    op = contract.operation(op_id)
    return bool(op.definition.get("security", contract.spec.get("security")))


@st.composite
def requests(draw: st.DrawFn, name: str, op_id: str) -> tuple[httpx.Request, str]:
    """A request to one operation, and what was broken in it (``""``: nothing)."""
    contract = contracts.load(name)
    op = contract.operation(op_id)
    broken: list[str] = []
    path = op.path
    query: list[tuple[str, str]] = []
    for name, where, pointer, required in _parameters(contract, op_id):
        bad = draw(st.integers(0, 3)) == 0
        if bad:
            value = draw(st.sampled_from(_near_misses(contract.resolve(pointer))) | BAD_PARAMS)
            broken.append(f"{where} {name}={value!r}")
        else:
            value = _text(draw(strategies.from_schema(contract, pointer, encoding="path")))
        if where == "path":
            path = path.replace("{" + name + "}", value or "x")
        elif where == "query" and (required or bad or draw(st.booleans())):
            query.append((name, value))
    headers: dict[str, str] = {}
    if _secured(contract, op_id):
        auth = draw(st.sampled_from(["Bearer k"] * 8 + ["", "Basic k"]))
        if auth:
            headers["Authorization"] = auth
        if auth != "Bearer k":
            broken.append(f"auth {auth!r}")
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    if "requestBody" in op.definition:
        media = draw(st.sampled_from(sorted(_content(contract, op_id))))
        body = draw(strategies.request_bodies(contract, op_id, media_type=media))
        how = draw(st.sampled_from(["none"] * 4 + ["drop", "replace", "add", "type", "empty"]))
        multipart = media.startswith("multipart/")
        if how in ("drop", "replace") and isinstance(body, dict) and body:
            key = draw(st.sampled_from(sorted(body)))
            if how == "drop":
                del body[key]
            else:
                body[key] = draw(FORM_TEXT if multipart else JSON_VALUES)
            broken.append(f"body {how} {key}")
        elif how == "add" and isinstance(body, dict) and not multipart:
            body[draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
            broken.append("body add")
        elif how == "type":
            media = draw(st.sampled_from(["text/plain", "application/xml", "application/json"]))
            broken.append(f"content type {media}")
        if isinstance(body, bytes) and how == "type":
            body = body.decode("latin-1")
        if how == "empty":
            content, broken = b"", [*broken, "empty body"]
            headers["Content-Type"] = media
        elif how == "type":
            if isinstance(body, dict):
                body = {
                    k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in body.items()
                }
            content = json.dumps(body).encode()
            headers["Content-Type"] = media
        elif multipart and media == "multipart/form-data":
            data = {k: v for k, v in body.items() if not isinstance(v, bytes)}
            files = {
                k: (f"{k}.png", v, "image/png") for k, v in body.items() if isinstance(v, bytes)
            }
            if not files:  # httpx url-encodes a form without files: send the fields as parts
                files, data = {k: (None, v) for k, v in data.items()}, {}
        elif isinstance(body, bytes):
            content, headers["Content-Type"] = body, media
        elif isinstance(body, str) and not media.endswith("json"):
            content, headers["Content-Type"] = body.encode(), media
        else:
            content = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = media
    request = httpx.Request(
        op.method.upper(),
        "http://localhost" + path,
        params=query,
        headers=headers,
        content=content,
        data=data,
        files=files,
    )
    return request, "; ".join(broken)


def _content(contract: Contract, op_id: str) -> dict[str, Any]:
    body = contract.operation(op_id).definition["requestBody"]
    while "$ref" in body:
        body = contract.resolve(body["$ref"])
    return dict(body.get("content") or {})


def _outcome(validate: Any, request: contracts.OpenAPIRequest) -> tuple[Any, ...]:
    try:
        result = validate(request)
    except ContractViolation as exc:
        first = exc.problems[0]
        return ("refused", first.kind, first.field)
    query = dict(result.parameters.query or {})
    return ("accepted", result.body, query)


@pytest.mark.parametrize(("name", "op_id"), OPERATIONS, ids=[f"{n}:{o}" for n, o in OPERATIONS])
def test_compiled_and_openapi_core_decide_requests_alike(name: str, op_id: str) -> None:
    contract = contracts.load(name)

    @SETTINGS
    @given(requests(name, op_id))
    def check(drawn: tuple[httpx.Request, str]) -> None:
        request, broken = drawn
        compiled = _outcome(contract.validate_request, contracts.request_from_httpx(request))
        reference = _outcome(
            contract.validate_request_reference, contracts.request_from_httpx(request)
        )
        assert compiled == reference, f"broken: {broken or 'nothing'}"

    check()


def _multipart_operations() -> list[tuple[str, str]]:
    return [
        (name, op_id)
        for name, op_id in BODY_OPERATIONS
        if any(m.startswith("multipart/") for m in _content(contracts.load(name), op_id))
    ]


@pytest.mark.parametrize(("name", "op_id"), _multipart_operations())
def test_only_the_compiled_path_refuses_undeclared_multipart_parts(name: str, op_id: str) -> None:
    contract = contracts.load(name)
    op = contract.operation(op_id)

    @settings(SETTINGS, max_examples=10)
    @given(strategies.request_bodies(contract, op_id), st.sampled_from(["colour", "extra_1"]))
    def check(body: dict[str, Any], extra: str) -> None:
        files = {k: (f"{k}.png", v, "image/png") for k, v in body.items() if isinstance(v, bytes)}
        data = {**{k: v for k, v in body.items() if not isinstance(v, bytes)}, extra: "red"}
        request = httpx.Request(
            "POST",
            "http://localhost" + op.path,
            headers={"Authorization": "Bearer k"},
            data=data,
            files=files or {"_": (None, "")},
        )
        with pytest.raises(ContractViolation) as refused:
            contract.validate_request(contracts.request_from_httpx(request))
        assert refused.value.problems[0].field in {extra, "_"}
        contract.validate_request_reference(contracts.request_from_httpx(request))  # ignores it

    check()


def _json_responses(contract: Contract, op_id: str) -> list[str]:
    statuses = []
    for status, response in contract.operation(op_id).definition.get("responses", {}).items():
        while "$ref" in response:
            response = contract.resolve(response["$ref"])
        media = set(response.get("content") or {})
        if not any(m.startswith("text/event-stream") for m in media):
            statuses.append(str(status))
    return statuses


RESPONSE_CASES = [
    (name, op_id, status)
    for name, op_id in OPERATIONS
    for status in _json_responses(contracts.load(name), op_id)
]


@st.composite
def responses(draw: st.DrawFn, name: str, op_id: str) -> tuple[httpx.Response, str]:
    contract = contracts.load(name)
    statuses = _json_responses(contract, op_id)
    status = draw(st.sampled_from(statuses))
    response = draw(strategies.responses(contract, op_id, int(status)))
    how = draw(st.sampled_from(["none"] * 3 + ["header", "drop", "replace", "type"]))
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
    content = response.content
    broken = ""
    if how == "header" and len(headers) > 1:
        dropped = draw(st.sampled_from([k for k, _ in headers if k.lower() != "content-type"]))
        headers = [(k, v) for k, v in headers if k != dropped]
        broken = f"header {dropped} dropped"
    elif how in ("drop", "replace") and response.headers.get("content-type") == "application/json":
        body = response.json()
        if isinstance(body, dict) and body:
            key = draw(st.sampled_from(sorted(body)))
            if how == "drop":
                del body[key]
            else:
                body[key] = draw(JSON_VALUES)
            content, broken = json.dumps(body).encode(), f"body {how} {key}"
    elif how == "type" and content:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers.append(("Content-Type", "text/html"))
        broken = "content type text/html"
    return httpx.Response(response.status_code, headers=headers, content=content), broken


@pytest.mark.parametrize(
    ("name", "op_id"),
    sorted({(n, o) for n, o, _ in RESPONSE_CASES}),
    ids=[f"{n}:{o}" for n, o in sorted({(n, o) for n, o, _ in RESPONSE_CASES})],
)
def test_compiled_and_openapi_core_decide_responses_alike(name: str, op_id: str) -> None:
    contract = contracts.load(name)
    op = contract.operation(op_id)
    path = re.sub(r"\{[^}]+\}", "x", op.path)
    request = contracts.OpenAPIRequest.build(op.method, path, headers={"Authorization": "Bearer k"})

    @settings(SETTINGS, max_examples=8)
    @given(responses(name, op_id))
    def check(drawn: tuple[httpx.Response, str]) -> None:
        response, broken = drawn
        outcomes = []
        for validate in (contract.validate_response, contract.validate_response_reference):
            try:
                validate(request, contracts.response_from_httpx(response))
                outcomes.append("accepted")
            except ContractViolation:
                outcomes.append("refused")
        assert outcomes[0] == outcomes[1], f"broken: {broken or 'nothing'}"

    check()


# ------------------------------------------------------------------ cheap contract loading


@pytest.mark.parametrize("name", NAMES)
def test_every_bundled_contract_passes_the_full_check(name: str) -> None:
    # start-up trusts a contract whose exact bytes passed before (contracts._loader): here
    # every bundled file gets the full check, openapi-spec-validator included, uncached
    path = contracts.CONTRACTS_DIR / f"{name}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    operations = contracts.check_contract(spec, path)
    assert operations.keys() == contracts.load_path(path, cache=False).operations.keys()


def test_a_contract_is_checked_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openapi_spec_validator

    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gptge.yaml"
    text = (contracts.CONTRACTS_DIR / "gptge-videos.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = contracts.load_path(path)  # checked in full, then remembered

    def refuse(spec: Any) -> None:
        raise AssertionError("a contract that passed was checked again")

    monkeypatch.setattr(openapi_spec_validator, "validate", refuse)
    again = contracts.load_path(path)
    assert again.spec == first.spec
    assert again.operations.keys() == first.operations.keys()
    monkeypatch.undo()

    # the same file, broken: another hash, so checked again, naming file and JSON pointer
    monkeypatch.setenv("SORA_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    path.write_text(text.replace("scheme: bearer", "scheme: bearer\n      in: nowhere"))
    with pytest.raises(contracts.ContractError) as broken:
        contracts.load_path(path)
    assert "gptge.yaml" in str(broken.value)
    assert "/components/securitySchemes/BearerAuth" in str(broken.value)
