"""What the compiled request validators (contracts._compiled) accept, refuse and hand on, rule
by rule, on one small contract written here: routes, credentials, parameters, media types,
bodies (JSON, text, YAML, raw, multipart) and the defaults filled into an accepted body.

Each test compiles a fresh copy of the contract, so the compiling code runs inside the test
(``tests/test_compiled_validation.py`` checks the same rules against openapi-core on the real
contracts; this file pins them exactly, fast)."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage, Headers, MultiDict

from contracts import Contract, ContractViolation
from contracts import _bodies as compiled_bodies
from contracts import _compiled as comp
from contracts import _parameters as compiled_parameters
from contracts import _schemas as compiled_schemas
from contracts._loader import index_operations

NAME_PARAM = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tiny", "version": "1"},
    "security": [{"bearer": []}],
    "paths": {
        "/v1/items": {
            "get": {
                "operationId": "listItems",
                "security": [],
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                    {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
                    {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
                    {
                        "name": "after",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "sess",
                        "in": "cookie",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "integer"}},
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "operationId": "createItem",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "size": {"type": "string", "default": "small"},
                                    "meta": {"type": "object"},
                                    "file": {"type": "string", "format": "binary"},
                                    "tags": {"type": "array", "items": {"type": "string"}},
                                    "blobs": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "binary"},
                                    },
                                    "note": {"$ref": "#/components/schemas/Note"},
                                    "raw": {},
                                    "bag": {"type": "array"},
                                    "notes": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Note"},
                                    },
                                },
                            },
                            "encoding": {
                                "note": {"contentType": "application/json"},
                                "raw": {"contentType": "text/plain"},
                            },
                        },
                    },
                },
                "responses": {"201": {"description": "made"}},
            },
        },
        "/v1/items/{item_id}": {
            "parameters": [{"name": "v", "in": "query", "schema": {"type": "string"}}, NAME_PARAM],
            "get": {
                "operationId": "getItem",
                "security": [{"apiKey": []}, {"query": [], "bearer": []}],
                "parameters": [
                    {"$ref": "#/components/parameters/Version"},
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "put": {
                "operationId": "putItem",
                "security": [{"oauth": []}],
                "requestBody": {
                    "content": {
                        "text/plain": {"schema": {"type": "string", "maxLength": 5}},
                        "application/yaml": {"schema": {"type": "object"}},
                        "image/*": {"schema": {"type": "string"}},
                        "application/vnd.x+json": {"schema": {"type": "array"}},
                        "application/octet-stream": {},
                    }
                },
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/v1/items/special": {
            "get": {"operationId": "special", "security": [], "responses": {}},
        },
        "/v1/{a}/{b}/{c}": {
            "delete": {
                "operationId": "three",
                "security": [],
                "parameters": [
                    {"name": "a", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "b", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "c", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "query": {"type": "apiKey", "in": "query", "name": "key"},
            "oauth": {"type": "oauth2", "flows": {}},
        },
        "parameters": {
            "Version": {"name": "v", "in": "query", "schema": {"$ref": "#/components/schemas/V"}}
        },
        "schemas": {
            "Note": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "V": {"type": "integer", "default": 2},
            "NewItem": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 8},
                    "size": {"$ref": "#/components/schemas/Size"},
                    "extra": {"type": "object", "properties": {"deep": {"default": 1}}},
                },
            },
            "Size": {"type": "string", "enum": ["small", "large"], "default": "small"},
        },
    },
}
AUTH = Headers({"Authorization": "Bearer k"})


def _contract(spec: dict[str, Any] | None = None) -> Contract:
    spec = copy.deepcopy(SPEC if spec is None else spec)
    return Contract("tiny", Path("tiny.yaml"), spec, index_operations(spec, "tiny.yaml"))


def _op(operation_id: str, spec: dict[str, Any] | None = None) -> comp.CompiledOperation:
    return comp.CompiledOperation(_contract(spec), operation_id)


def _problems(exc: pytest.ExceptionInfo[ContractViolation]) -> list[tuple[str, Any, str]]:
    return [(p.kind, p.field, p.message) for p in exc.value.problems]


# ---------------------------------------------------------------------------------- routing


def test_a_concrete_path_is_matched_before_a_templated_one() -> None:
    contract = comp.CompiledContract(_contract())
    op, params = contract.match("GET", "/v1/items/special")
    assert (op.operation_id, params) == ("special", {})
    op, params = contract.match("get", "/v1/items/it_1")
    assert (op.operation_id, params) == ("getItem", {"item_id": "it_1"})
    assert [r.operation_id for r in contract.routes[:3]] == ["listItems", "createItem", "special"]


def test_path_parameters_are_read_by_their_position() -> None:
    op, params = comp.CompiledContract(_contract()).match("DELETE", "/v1/x/7/z")
    assert op.operation_id == "three"
    assert params == {"a": "x", "b": "7", "c": "z"}
    assert list(params) == ["a", "b", "c"]


def test_eleven_path_parameters_keep_their_order() -> None:
    spec = copy.deepcopy(SPEC)
    names = [f"n{i}" for i in range(11)]
    spec["paths"]["/many/" + "/".join(f"{{{n}}}" for n in names)] = {
        "get": {"operationId": "many", "security": [], "responses": {}}
    }
    _, params = comp.CompiledContract(_contract(spec)).match("GET", "/many/" + "/".join(names))
    assert params == {n: n for n in names}


def test_a_route_matches_the_whole_path_only() -> None:
    contract = comp.CompiledContract(_contract())
    for path in ("/v1/items/", "/v1/items/a/b/c/d", "/x/v1/items", "/v1/itemsX"):
        with pytest.raises(ContractViolation) as caught:
            contract.match("get", path)
        assert _problems(caught) == [("route", None, f"Path not found for {path}")]


def test_a_known_path_with_another_method_names_the_method() -> None:
    with pytest.raises(ContractViolation) as caught:
        comp.CompiledContract(_contract()).match("PATCH", "/v1/items")
    assert _problems(caught) == [("route", None, "Operation patch not found for /v1/items")]
    assert str(caught.value) == "tiny: Operation patch not found for /v1/items"


def test_an_operation_is_compiled_once_and_the_contract_once() -> None:
    contract = _contract()
    first = comp.compiled(contract)
    assert comp.compiled(contract) is first
    assert contract.validators["compiled"] is first
    assert first.name == "tiny" and first.contract is contract
    assert first.operation("getItem") is first.operation("getItem")
    assert first.match("get", "/v1/items/a")[0] is first.operation("getItem")


def test_build_all_compiles_every_operation_and_its_responses() -> None:
    contract = comp.CompiledContract(_contract())
    contract.build_all()
    assert set(contract._operations) == set(SPEC_OPERATIONS)
    assert set(contract._operations["listItems"]._responses) == {"200"}
    assert set(contract._operations["createItem"]._responses) == {"201"}


SPEC_OPERATIONS = ["listItems", "createItem", "getItem", "putItem", "special", "three"]


# -------------------------------------------------------------------------------- security


def test_an_operation_without_security_needs_no_credentials() -> None:
    assert _op("listItems").check_security(Headers(), {}) == {}


def test_the_contract_wide_security_applies_when_the_operation_sets_none() -> None:
    op = _op("createItem")
    assert op.check_security(AUTH, {}) == {"bearer": "k"}
    assert op.check_security(Headers({"Authorization": "BEARER two words"}), {}) == {
        "bearer": "two words"
    }
    # the credentials are what follows the first space, as given
    assert op.check_security(Headers({"Authorization": "Bearer  k "}), {}) == {"bearer": " k "}
    for bad in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer\tk"},
        {"Authorization": "Basic k"},
    ):
        with pytest.raises(ContractViolation) as caught:
            op.check_security(Headers(bad), {})
        assert _problems(caught) == [
            ("security", "Authorization", "missing or malformed credentials")
        ]
        assert str(caught.value) == "tiny: Authorization: missing or malformed credentials"


def test_the_first_requirement_whose_schemes_are_all_present_wins() -> None:
    op = _op("getItem")
    assert op.check_security(Headers({"X-Api-Key": "h"}), {"key": "q"}) == {"apiKey": "h"}
    # the second requirement needs both the query key and the bearer token
    assert op.check_security(Headers({"Authorization": "Bearer b"}), {"key": "q"}) == {
        "query": "q",
        "bearer": "b",
    }
    with pytest.raises(ContractViolation):
        op.check_security(Headers(), {"key": "q"})
    with pytest.raises(ContractViolation):
        op.check_security(Headers({"key": "q"}), {"X-Api-Key": "h"})


def test_schemes_other_than_http_and_api_keys_are_not_checked() -> None:
    assert _op("putItem").check_security(Headers(), {}) == {"oauth": {}}


def test_a_scheme_the_components_lack_is_not_checked() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/items/special"]["get"]["security"] = [{"ghost": []}]
    assert _op("special", spec).check_security(Headers(), {}) == {"ghost": {}}


def test_validate_request_reads_path_query_and_headers() -> None:
    result = _op("getItem").validate_request(
        path={"item_id": "i1"}, query={"key": "q", "v": "3"}, headers=AUTH
    )
    assert result.security == {"query": "q", "bearer": "k"}
    assert result.parameters.path == {"item_id": "i1"}
    assert result.parameters.query == {"v": 3}
    assert result.body is None
    result = _op("listItems").validate_request(
        path={}, query={"after": "a"}, headers=Headers({"X-Trace": "5"})
    )
    assert result.body is None
    assert (result.parameters.query, result.parameters.header) == (
        {"limit": 20, "after": "a"},
        {"X-Trace": 5},
    )
    with pytest.raises(ContractViolation) as caught:
        _op("listItems").validate_request(
            path={}, query={"X-Trace": "1"}, headers=Headers({"X-Trace": "x", "after": "a"})
        )
    assert _problems(caught) == [
        ("parameter", "after", "missing required query parameter"),
        ("parameter", "X-Trace", "'x' is not of type 'integer'"),
    ]
    assert str(caught.value).startswith("tiny: after: ")
    with pytest.raises(ContractViolation) as caught:
        _op("getItem").validate_request(path={}, query={"key": "q"}, headers=AUTH)
    assert _problems(caught) == [("parameter", "item_id", "missing required path parameter")]


def test_a_security_scheme_given_by_reference_is_followed() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["securitySchemes"]["alias"] = {"$ref": "#/components/securitySchemes/apiKey"}
    spec["paths"]["/v1/items/special"]["get"]["security"] = [{"alias": []}]
    op = _op("special", spec)
    assert op.check_security(Headers({"X-Api-Key": "h"}), {}) == {"alias": "h"}
    with pytest.raises(ContractViolation):
        op.check_security(Headers(), {})


def test_a_request_body_given_by_reference_is_followed() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["requestBodies"] = {
        "Notes": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}},
        }
    }
    spec["paths"]["/v1/notes"] = {
        "post": {
            "operationId": "createNote",
            "security": [],
            "requestBody": {"$ref": "#/components/requestBodies/Notes"},
            "responses": {},
        }
    }
    op = _op("createNote", spec)
    assert op.has_body and op.body_required and set(op.content) == {"application/json"}
    with pytest.raises(ContractViolation) as caught:
        op.validate_request(path={}, query={}, headers=Headers())
    assert _problems(caught) == [("body", None, "a request body is required")]
    with pytest.raises(ContractViolation) as caught:
        op.validate_request(
            path={},
            query={},
            headers=Headers(),
            content_type="application/json",
            body=b'{"n": "x"}',
        )
    assert _problems(caught) == [("body", "n", "'x' is not of type 'integer'")]


def test_an_operation_without_a_body_takes_none() -> None:
    op = _op("special")
    assert (op.has_body, op.body_required, op.content) == (False, False, {})
    result = op.validate_request(path={}, query={}, headers=Headers(), body=b"ignored")
    assert result.body is None


def test_validate_request_can_leave_security_to_the_caller() -> None:
    op = _op("createItem")
    result = op.validate_request(
        path={},
        query={},
        headers=Headers(),
        content_type="application/json",
        body=b'{"name": "a"}',
        check_security=False,
    )
    assert result.security is None
    result = op.validate_request(
        path={}, query={}, headers=AUTH, content_type="application/json", body=b'{"name": "a"}'
    )
    assert result.security == {"bearer": "k"}
    assert result.operation_id == "createItem"


# ------------------------------------------------------------------------------ parameters


def test_query_parameters_are_typed_and_defaulted() -> None:
    op = _op("listItems")
    params, problems = op.check_parameters(
        {}, {"after": "c1", "flag": "true", "order": "desc"}, Headers({"X-Trace": "42"})
    )
    assert problems == []
    assert params.query == {"limit": 20, "after": "c1", "flag": True, "order": "desc"}
    assert params.header == {"X-Trace": 42}
    assert params.path == {} and params.cookie == {}
    params, _ = op.check_parameters({}, {"after": "c", "limit": "7", "flag": "false"}, None)
    assert params.query == {"limit": 7, "after": "c", "flag": False}


def test_query_names_are_the_declared_query_parameters() -> None:
    assert _op("listItems").query_names == {"limit", "order", "flag", "after"}
    assert _op("getItem").query_names == {"v"}


def test_a_missing_required_parameter_is_named() -> None:
    params, problems = _op("listItems").check_parameters({}, {}, Headers())
    assert [(p.kind, p.field, p.message) for p in problems] == [
        ("parameter", "after", "missing required query parameter")
    ]
    assert params.query == {"limit": 20}


def test_an_empty_query_value_is_refused_and_a_bad_one_is_worded_by_its_schema() -> None:
    _, problems = _op("listItems").check_parameters(
        {}, {"after": "", "limit": "0", "order": "up", "flag": "yes"}, Headers({"X-Trace": "t"})
    )
    found = {p.field: p.message for p in problems}
    assert found["after"] == "should be non-empty"
    assert found["limit"] == "0 is less than the minimum of 1"
    assert found["order"] == "'up' is not one of ['asc', 'desc']"
    assert found["flag"] == "'yes' is not of type 'boolean'"
    assert found["X-Trace"] == "'t' is not of type 'integer'"
    assert all(p.kind == "parameter" for p in problems)
    assert [p.field for p in problems] == ["limit", "order", "flag", "after", "X-Trace"]


def test_an_empty_header_value_is_checked_by_its_schema_not_refused_as_empty() -> None:
    _, problems = _op("listItems").check_parameters({}, {"after": "a"}, Headers({"X-Trace": ""}))
    assert [(p.field, p.message) for p in problems] == [("X-Trace", "'' is not of type 'integer'")]


def test_an_operation_parameter_overrides_the_path_items_and_path_ones_are_read() -> None:
    op = _op("getItem")
    assert [(p.name, p.location) for p in op.parameters] == [("v", "query"), ("item_id", "path")]
    params, problems = op.check_parameters({"item_id": "x"}, {}, None)
    assert problems == []
    assert params.path == {"item_id": "x"}
    assert params.query == {"v": 2}  # the operation's default, not the path item's string
    _, problems = op.check_parameters({"item_id": "x"}, {"v": "abc"}, None)
    assert [p.field for p in problems] == ["v"]
    _, problems = op.check_parameters({}, {}, None)
    assert [(p.field, p.message) for p in problems] == [
        ("item_id", "missing required path parameter")
    ]


def test_compiled_parameters_keep_their_flags() -> None:
    limit, order, flag, after, cookie, trace = _op("listItems").parameters
    assert (limit.required, limit.has_default, limit.default) == (False, True, 20)
    assert (after.required, after.has_default, after.default) == (True, False, None)
    assert (cookie.location, cookie.required) == ("cookie", True)
    assert limit.schema["maximum"] == 100 and order.name == "order"


def test_a_parameter_whose_schema_is_true_takes_any_text() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/items/special"]["get"]["parameters"] = [
        {"name": "q", "in": "query", "schema": True}
    ]
    op = _op("special", spec)
    assert (op.parameters[0].has_default, op.parameters[0].default) == (False, None)
    params, problems = op.check_parameters({}, {"q": "12"}, None)
    assert problems == [] and params.query == {"q": "12"}


def test_a_parameter_without_schema_takes_any_text() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/items/special"]["get"]["parameters"] = [{"name": "q", "in": "query"}]
    op = _op("special", spec)
    assert op.parameters[0].schema == {} and op.parameters[0].has_default is False
    params, problems = op.check_parameters({}, {"q": "12"}, None)
    assert problems == [] and params.query == {"q": "12"}


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ("12", {"type": "integer"}, 12),
        ("1.5", {"type": "number"}, 1.5),
        ("true", {"type": "boolean"}, True),
        ("false", {"type": "boolean"}, False),
        ("True", {"type": "boolean"}, "True"),
        ("1.5", {"type": "integer"}, "1.5"),
        ("x", {"type": ["integer", "number"]}, "x"),
        ("1.5", {"type": ["integer", "number"]}, 1.5),
        ("7", {}, "7"),
        ("7", {"type": ["null", "integer"]}, 7),
    ],
)
def test_a_parameter_text_becomes_the_first_type_it_reads_as(
    value: str, schema: dict[str, Any], expected: Any
) -> None:
    got = compiled_parameters._coerce(value, schema)
    assert got == expected and type(got) is type(expected)


# ------------------------------------------------------------------------------ media types


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("", {})),
        ("", ("", {})),
        ("Multipart/Form-Data; Boundary=abc", ("multipart/form-data", {"boundary": "abc"})),
        ('text/plain; charset="utf-8" ; x=a=b', ("text/plain", {"charset": "utf-8", "x": "a=b"})),
        ('a/b; q="', ("a/b", {"q": '"'})),
        ('a/b; q=""', ("a/b", {"q": ""})),
        ("a/b; flag; n= 1 ", ("a/b", {"n": "1"})),
        ("a/b; n=\"x'", ("a/b", {"n": "\"x'"})),
    ],
)
def test_a_content_type_splits_into_its_type_and_parameters(
    value: str | None, expected: tuple[str, dict[str, str]]
) -> None:
    assert compiled_bodies._split_mimetype(value) == expected


def test_a_content_type_selects_exact_then_bare_then_a_range() -> None:
    content = {"text/plain; charset=utf-8": 1, "text/plain": 2, "image/*": 3, "*/*+json": 4}
    assert (
        compiled_bodies._find_media(content, "text/plain; charset=utf-8")
        == "text/plain; charset=utf-8"
    )
    assert compiled_bodies._find_media(content, "TEXT/Plain; charset=latin-1") == "text/plain"
    assert compiled_bodies._find_media(content, "image/png") == "image/*"
    assert compiled_bodies._find_media(content, "video/mp4") is None
    assert compiled_bodies._find_media(content, "") is None
    assert compiled_bodies._find_media({"*": 1}, "") is None


def test_an_undeclared_content_type_is_a_415_naming_the_declared_ones() -> None:
    op = _op("createItem")
    with pytest.raises(ContractViolation) as caught:
        op.validate_request(path={}, query={}, headers=AUTH, content_type="text/plain", body=b"x")
    assert _problems(caught) == [
        (
            "media_type",
            "Content-Type",
            "unsupported content type (use application/json, multipart/form-data)",
        )
    ]
    assert str(caught.value).startswith("tiny: Content-Type: unsupported")
    with pytest.raises(ContractViolation) as caught:
        op.validate_request(path={}, query={}, headers=AUTH, body=b"x")
    assert caught.value.kinds == {"media_type"}


@pytest.mark.parametrize(
    ("schema", "encoding", "expected"),
    [
        ({"type": "string"}, {"contentType": "image/png"}, "image/png"),
        (True, None, "text/plain"),
        ({}, None, "application/octet-stream"),
        ({}, {}, "text/plain"),
        ({"type": "string", "format": "binary"}, None, "application/octet-stream"),
        ({"type": "string", "format": "base64"}, None, "application/octet-stream"),
        ({"type": "string", "format": "date"}, None, "text/plain"),
        ({"type": "object"}, None, "application/json"),
        ({"type": "integer"}, None, "text/plain"),
    ],
)
def test_a_multipart_part_has_openapi_cores_content_type(
    schema: Any, encoding: dict[str, Any] | None, expected: str
) -> None:
    assert compiled_bodies._part_content_type(schema, encoding) == expected


def test_text_is_utf8_or_its_bytes_kept_as_surrogates() -> None:
    assert compiled_bodies._text("é".encode()) == "é"
    assert compiled_bodies._text(b"a\xffb") == "a\udcffb"
    # not UTF-8 as a whole: every byte above ASCII kept as a surrogate, none decoded
    assert compiled_bodies._text("é".encode() + b"\xff") == "\udcc3\udca9\udcff"


# ----------------------------------------------------------------------------------- bodies


def _put(content_type: str | None, body: bytes | None) -> Any:
    return _op("putItem").validate_request(
        path={"item_id": "i"}, query={}, headers=Headers(), content_type=content_type, body=body
    )


def test_select_media_and_check_body_name_the_contract() -> None:
    op = _op("createItem")
    media = op.select_media("application/json; charset=utf-8")
    assert media is op.content["application/json"]
    assert op.check_body(media, {"name": "a"}) == {"name": "a", "size": "small"}
    with pytest.raises(ContractViolation) as caught:
        op.check_body(media, {"name": 1})
    assert caught.value.contract == "tiny"
    assert _problems(caught) == [("body", "name", "1 is not of type 'string'")]
    with pytest.raises(ContractViolation) as caught:
        op.select_media("text/html")
    assert caught.value.contract == "tiny"
    assert caught.value.kinds == {"media_type"}


def test_bodies_are_decoded_by_their_media_type() -> None:
    assert _put("text/plain", "héllo".encode()).body == "héllo"
    assert _put("application/yaml", b"a: 1\nb: [x]").body == {"a": 1, "b": ["x"]}
    assert _put("image/png", b"\x89P\xff").body == "\x89P\xff"
    assert _put("application/vnd.x+json", b"[1, 2]").body == [1, 2]
    assert _put("application/octet-stream", b"\x00\x01").body == "\x00\x01"


def test_an_optional_body_may_be_left_out_and_a_required_one_may_not() -> None:
    assert _put("text/plain", b"").body is None
    assert _put(None, None).body is None
    with pytest.raises(ContractViolation) as caught:
        _op("createItem").validate_request(
            path={}, query={}, headers=AUTH, content_type="application/json", body=b""
        )
    assert _problems(caught) == [("body", None, "a request body is required")]
    assert str(caught.value) == "tiny: a request body is required"


@pytest.mark.parametrize(
    ("content_type", "body", "kind"),
    [
        ("application/vnd.x+json", b"[1,", "application/vnd.x+json"),
        ("application/yaml", b"a: [1", "application/yaml"),
        ("application/vnd.x+json", b"\xff", "application/vnd.x+json"),
    ],
)
def test_an_unreadable_body_says_which_media_type_it_is_not(
    content_type: str, body: bytes, kind: str
) -> None:
    with pytest.raises(ContractViolation) as caught:
        _put(content_type, body)
    assert _problems(caught) == [("body", None, f"cannot be read: not valid {kind}")]
    assert str(caught.value).startswith("tiny: cannot be read")


def test_a_body_its_schema_refuses_names_the_field() -> None:
    with pytest.raises(ContractViolation) as caught:
        _put("text/plain", b"toolong")
    assert _problems(caught) == [("body", None, "'toolong' is too long")]
    assert str(caught.value) == "tiny: 'toolong' is too long"
    with pytest.raises(ContractViolation) as caught:
        _op("createItem").validate_request(
            path={},
            query={},
            headers=AUTH,
            content_type="application/json",
            body=b'{"name": "much too long", "size": "huge"}',
        )
    assert _problems(caught) == [
        ("body", "name", "'much too long' is too long"),
        ("body", "size", "'huge' is not one of ['small', 'large']"),
    ]


def test_parameter_and_body_problems_are_reported_together() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/items"]["post"]["parameters"] = [
        {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}}
    ]
    with pytest.raises(ContractViolation) as caught:
        _op("createItem", spec).validate_request(
            path={}, query={}, headers=AUTH, content_type="application/json", body=b"{}"
        )
    assert _problems(caught) == [
        ("parameter", "n", "missing required query parameter"),
        ("body", "name", "'name' is a required property"),
    ]


def test_an_accepted_json_body_has_its_defaults_filled_in() -> None:
    result = _op("createItem").validate_request(
        path={},
        query={},
        headers=AUTH,
        content_type="application/json; charset=utf-8",
        body=b'{"name": "a", "extra": {}}',
    )
    assert result.body == {"name": "a", "size": "small", "extra": {"deep": 1}}


# -------------------------------------------------------------------------------- multipart

BOUNDARY = "XyZ"


def _multipart(*parts: tuple[str, str | None, bytes], end: bytes = b"--\r\n") -> bytes:
    out = b""
    for name, filename, data in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}".encode() + end


def _create(body: bytes, content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> Any:
    return _op("createItem").validate_request(
        path={}, query={}, headers=AUTH, content_type=content_type, body=body
    )


def test_multipart_parts_are_decoded_by_their_declared_kind() -> None:
    body = _multipart(
        ("name", None, "nämé".encode()),
        ("meta", None, b'{"k": [1]}'),
        ("file", "a.png", b"\x89PNG\xff"),
        ("tags", None, b"a"),
        ("tags", None, b"b"),
        ("blobs", "1.bin", b"\x00"),
        ("blobs", "2.bin", b"\xfe"),
        ("note", None, b'{"n": 3}'),
    )
    assert _create(body).body == {
        "name": "nämé",
        "size": "small",
        "meta": {"k": [1]},
        "file": "\x89PNG\xff",
        "tags": ["a", "b"],
        "blobs": ["\x00", "\xfe"],
        "note": {"n": 3},
    }


def test_a_part_is_read_as_its_encoding_or_its_items_schema_say() -> None:
    body = _multipart(
        ("name", None, b"a"),
        ("raw", None, "é".encode()),
        ("bag", None, "é".encode()),
        ("notes", None, b'{"n": 1}'),
        ("notes", None, b'{"n": 2}'),
    )
    assert _create(body).body == {
        "name": "a",
        "size": "small",
        "raw": "é",
        "bag": ["Ã©"],
        "notes": [{"n": 1}, {"n": 2}],
    }


def test_a_repeated_single_part_keeps_its_first_value() -> None:
    body = _multipart(("name", None, b"one"), ("name", None, b"two"), ("size", None, b"big"))
    assert _create(body).body == {"name": "one", "size": "big"}


def test_an_undeclared_part_is_refused_by_a_closed_form() -> None:
    body = _multipart(("name", None, b"a"), ("zeta", None, b"1"), ("beta", None, b"2"))
    with pytest.raises(ContractViolation) as caught:
        _create(body)
    assert _problems(caught) == [("body", "beta", "unknown field 'beta'")]
    assert str(caught.value) == "tiny: beta: unknown field 'beta'"


def test_a_form_that_is_not_closed_ignores_undeclared_parts() -> None:
    spec = copy.deepcopy(SPEC)
    form = spec["paths"]["/v1/items"]["post"]["requestBody"]["content"]["multipart/form-data"]
    del form["schema"]["additionalProperties"]
    body = _multipart(("name", None, b"a"), ("zeta", None, b"1"))
    result = _op("createItem", spec).validate_request(
        path={},
        query={},
        headers=AUTH,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        body=body,
    )
    assert result.body == {"name": "a", "size": "small"}
    form["schema"]["additionalProperties"] = True
    assert _op("createItem", spec).content["multipart/form-data"].closed is None


def test_a_closed_form_knows_its_part_names() -> None:
    media = _op("createItem").content["multipart/form-data"]
    assert media.closed == {
        "name",
        "size",
        "meta",
        "file",
        "tags",
        "blobs",
        "note",
        "raw",
        "bag",
        "notes",
    }
    assert media.multipart and not _op("createItem").content["application/json"].multipart
    kinds = {p.name: (p.kind, p.array, p.has_default, p.default) for p in media.parts or []}
    assert kinds == {
        "name": ("text", False, False, None),
        "size": ("text", False, True, "small"),
        "meta": ("json", False, False, None),
        "file": ("file", False, False, None),
        "tags": ("text", True, False, None),
        "blobs": ("file", True, False, None),
        "note": ("json", False, False, None),
        "raw": ("text", False, False, None),  # its encoding says text/plain
        "bag": ("file", True, False, None),  # items of no type: octet-stream
        "notes": ("json", True, False, None),
    }


@pytest.mark.parametrize(
    "body",
    [
        _multipart(("name", None, b"a"), end=b"\r\n"),  # no closing delimiter
        _multipart(("name", None, b"a"))[:-12],
        b"",
    ],
)
def test_a_truncated_multipart_body_is_refused(body: bytes) -> None:
    with pytest.raises(ContractViolation) as caught:
        _create(body or b"x")
    assert _problems(caught) == [("body", None, "the multipart body is truncated or malformed")]


def test_a_multipart_body_without_a_boundary_is_refused() -> None:
    with pytest.raises(ContractViolation) as caught:
        _create(_multipart(("name", None, b"a")), "multipart/form-data")
    assert _problems(caught) == [("body", None, "the multipart body is truncated or malformed")]


def test_a_multipart_body_werkzeug_cannot_parse_is_refused() -> None:
    body = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    with pytest.raises(ContractViolation) as caught:
        _create(body.encode())
    assert _problems(caught) == [("body", None, "the multipart body is truncated or malformed")]
    assert str(caught.value) == "tiny: the multipart body is truncated or malformed"


def test_a_multipart_body_with_text_after_its_closing_delimiter_is_refused() -> None:
    with pytest.raises(ContractViolation) as caught:
        _create(_multipart(("name", None, b"a")) + b"epilogue" * 4)
    assert _problems(caught) == [("body", None, "the multipart body is truncated or malformed")]


def test_the_closing_delimiter_must_end_the_body() -> None:
    b = "B"
    assert compiled_bodies.multipart_complete(b"--B--", b)
    assert compiled_bodies.multipart_complete(b"x" * 50 + b"--B--\r\n", b)
    assert compiled_bodies.multipart_complete(b"--B--\r\nxx", b)  # up to len(boundary) + 8 bytes
    assert not compiled_bodies.multipart_complete(b"--B--\r\nxxx", b)
    assert not compiled_bodies.multipart_complete(b"--B--" + b"y" * 50, b)
    assert not compiled_bodies.multipart_complete(b"", "")
    assert not compiled_bodies.multipart_complete(b"--C--", b)


def test_a_form_parsed_by_the_caller_is_decoded_and_checked_too() -> None:
    op = _op("createItem")
    body = _multipart(("name", None, b"a"))
    files = MultiDict(
        {
            "file": FileStorage(io.BytesIO(b"\xff\x00"), "f.bin"),
            "meta": FileStorage(io.BytesIO(b'{"m": 1}')),
        }
    )
    form = MultiDict([("name", "n1"), ("tags", "t"), ("note", '{"n": 1}')])
    result = op.validate_request(
        path={},
        query={},
        headers=AUTH,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        body=body,
        form=lambda: (form, files),
    )
    assert result.body == {
        "name": "n1",
        "size": "small",
        "file": "\xff\x00",
        "meta": {"m": 1},
        "tags": ["t"],
        "note": {"n": 1},
    }
    # the caller's streams stay readable from the start
    assert files["file"].stream.read() == b"\xff\x00"
    with pytest.raises(ContractViolation) as caught:
        op.validate_request(
            path={},
            query={},
            headers=AUTH,
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            body=body[:-4],
            form=lambda: (form, files),
        )
    assert _problems(caught) == [("body", None, "the multipart body is truncated or malformed")]


def test_a_file_part_read_from_a_stream_as_text_or_json() -> None:
    text = compiled_bodies._Part("t", "text", False, False, None)
    data = compiled_bodies._Part("j", "json", False, False, None)
    raw = compiled_bodies._Part("f", "file", False, False, None)
    assert text.decode(FileStorage(io.BytesIO("é\xff".encode()))) == "é\xff"
    assert text.decode(FileStorage(io.BytesIO(b"\xff"))) == "\udcff"
    assert data.decode(FileStorage(io.BytesIO(b'{"a": 1}'))) == {"a": 1}
    assert raw.decode(FileStorage(io.BytesIO(b"\xe9"))) == "\xe9"
    # a form field given as text: a file part is its UTF-8 bytes, one character each
    assert raw.decode("é") == "Ã©"
    assert raw.decode("\udcff") == "\xff"
    assert data.decode("[true]") == [True]
    assert text.decode("plain") == "plain"


def test_a_form_field_whose_json_is_broken_cannot_be_read() -> None:
    body = _multipart(("name", None, b"a"), ("meta", None, b"{nope"))
    with pytest.raises(ContractViolation) as caught:
        _create(body)
    assert _problems(caught) == [("body", None, "cannot be read: not valid multipart/form-data")]


# -------------------------------------------------------------------------------- defaults


def test_defaults_are_filled_in_recursively_through_combinators() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Rich"] = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"$ref": "#/components/schemas/Note2"}},
            "map": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/Note2"},
            },
            "plain": {"type": "string"},
            "kind": {"type": "string"},
        },
        "oneOf": [
            {"properties": {"kind": {"const": "a"}, "a": {"default": "A"}}, "required": ["kind"]},
            {"properties": {"kind": {"const": "b"}, "b": {"default": "B"}}, "required": ["kind"]},
            {
                "properties": {"kind": {"type": "string"}, "c": {"default": "C"}},
                "required": ["kind"],
            },
        ],
        "anyOf": [
            {"properties": {"x": {"default": "X"}}},
            {"$ref": "#/components/schemas/WithY"},
            {"required": ["nope"], "properties": {"z": {"default": "Z"}}},
        ],
        "allOf": [
            {"properties": {"w": {"default": "W"}, "kind": {"default": "no"}}},
            {"$ref": "#/components/schemas/WithV"},
        ],
    }
    spec["components"]["schemas"]["WithY"] = {"properties": {"y": {"default": "Y"}}}
    spec["components"]["schemas"]["WithV"] = {"properties": {"v": {"default": "V"}}}
    spec["components"]["schemas"]["Note2"] = {
        "type": "object",
        "properties": {"n": {"type": "integer", "default": 0}},
    }
    contract = _contract(spec)
    fill = compiled_schemas._filler(contract, {"$ref": "#/components/schemas/Rich"}, {})
    assert fill is not None
    value = {"kind": "a", "list": [{}, {"n": 5}], "map": {"p": {}, "q": {"n": 1}}, "plain": "s"}
    assert fill(value) == {
        "kind": "a",
        "a": "A",  # the first oneOf branch that holds, and only that one
        "x": "X",
        "y": "Y",  # every anyOf branch that holds
        "w": "W",
        "v": "V",
        "list": [{"n": 0}, {"n": 5}],
        "map": {"p": {"n": 0}, "q": {"n": 1}},
        "plain": "s",
    }
    assert fill("text") == "text" and fill([1]) == [1]
    second = fill({"kind": "b"})
    assert (second["b"], "a" in second, "c" in second) == ("B", False, False)
    third = fill({"kind": "zz"})
    assert (third["c"], "a" in third, "b" in third) == ("C", False, False)


def test_a_map_fills_its_members_but_not_the_declared_properties() -> None:
    schema = {
        "properties": {"fixed": {"type": "object"}},
        "additionalProperties": {"properties": {"n": {"default": 0}}},
    }
    fill = compiled_schemas._filler(_contract(), schema, {})
    assert fill is not None
    assert fill({"fixed": {}, "other": {}}) == {"fixed": {}, "other": {"n": 0}}


def test_a_oneof_branch_given_by_reference_fills_its_defaults() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["WithY"] = {"properties": {"y": {"default": "Y"}}}
    schema = {"oneOf": [{"$ref": "#/components/schemas/WithY"}]}
    fill = compiled_schemas._filler(_contract(spec), schema, {})
    assert fill is not None and fill({}) == {"y": "Y"}


def test_a_schema_without_defaults_gets_no_filler() -> None:
    contract = _contract()
    assert compiled_schemas._filler(contract, {"$ref": "#/components/schemas/Note"}, {}) is None
    assert (
        compiled_schemas._filler(contract, {"type": "array", "items": {"type": "object"}}, {})
        is None
    )
    assert compiled_schemas._filler(contract, True, {}) is None
    assert _op("putItem").content["text/plain"].filler is None


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {"default": 1}}},
        {"properties": {"a": {"$ref": "#/components/schemas/Size"}}},
        {"properties": {"a": {"properties": {"b": {"default": 1}}}}},
        {"oneOf": [{"properties": {"a": {"default": 1}}}]},
        {"anyOf": [{"properties": {"a": {"default": 1}}}]},
        {"allOf": [{"properties": {"a": {"default": 1}}}]},
        {"items": {"properties": {"a": {"default": 1}}}},
        {"additionalProperties": {"properties": {"a": {"default": 1}}}},
        {"$ref": "#/components/schemas/NewItem"},
    ],
)
def test_a_default_anywhere_below_a_schema_is_found(schema: dict[str, Any]) -> None:
    assert compiled_schemas._has_default(_contract(), schema, set())


def test_a_recursive_schema_gets_one_filler_per_schema() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Tree"] = {
        "type": "object",
        "properties": {
            "label": {"default": "leaf"},
            "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
        },
    }
    contract = _contract(spec)
    tree = contract.spec["components"]["schemas"]["Tree"]
    fill = compiled_schemas._filler(contract, tree, {})
    assert fill is not None
    assert fill({"kids": [{"kids": [{}]}]}) == {
        "label": "leaf",
        "kids": [{"label": "leaf", "kids": [{"label": "leaf"}]}],
    }
    assert not compiled_schemas._has_default(contract, {"$ref": "#/components/schemas/Note"}, set())


def test_a_recursive_schema_without_defaults_has_none() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Bare"] = {
        "type": "object",
        "properties": {
            "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Bare"}},
            "next": {"$ref": "#/components/schemas/Bare"},
        },
    }
    contract = _contract(spec)
    assert not compiled_schemas._has_default(contract, {"$ref": "#/components/schemas/Bare"}, set())
    assert compiled_schemas._filler(contract, {"$ref": "#/components/schemas/Bare"}, {}) is None


def test_a_default_filled_in_keeps_the_values_given() -> None:
    fill = compiled_schemas._filler(
        _contract(),
        {"properties": {"a": {"default": 1}}, "allOf": [{"properties": {"a": {"default": 2}}}]},
        {},
    )
    assert fill is not None
    assert fill({"a": 9}) == {"a": 9}
    assert fill({}) == {"a": 1}
    assert fill({"a": None}) == {"a": None}


# ------------------------------------------------------------------------------ references


def test_a_chain_of_references_is_followed_and_a_loop_ends() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Alias"] = {"$ref": "#/components/schemas/Size"}
    spec["components"]["schemas"]["Loop"] = {"$ref": "#/components/schemas/Loop"}
    contract = _contract(spec)
    assert (
        compiled_schemas.deref(contract, {"$ref": "#/components/schemas/Alias"})["default"]
        == "small"
    )
    assert compiled_schemas.deref(contract, {"$ref": "#/components/schemas/Loop"}) == {
        "$ref": "#/components/schemas/Loop"
    }
    assert compiled_schemas.deref(contract, {"$ref": 5}) == {"$ref": 5}


def test_a_reference_chain_is_followed_fifty_steps_at_most() -> None:
    spec = copy.deepcopy(SPEC)
    schemas = spec["components"]["schemas"]
    for n in range(60):
        schemas[f"R{n}"] = {"$ref": f"#/components/schemas/R{n + 1}"}
    schemas["R60"] = {"type": "string"}
    contract = _contract(spec)
    assert compiled_schemas.deref(contract, {"$ref": "#/components/schemas/R0"}) == {
        "$ref": "#/components/schemas/R50"
    }
    assert compiled_schemas.deref(contract, {"$ref": "#/components/schemas/R20"}) == {
        "type": "string"
    }
    assert compiled_schemas.deref(contract, [1]) == [1]
