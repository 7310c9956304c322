"""What the compiled response validators (contracts._compiled) accept and refuse, how a schema
error is worded as a problem, and the two engines behind every schema check (jsonschema-rs
says "valid", Python jsonschema with openapi-core's dialect decides and words the rest).

Each test compiles a fresh contract written here, so the compiling code runs inside it."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.datastructures import Headers

from contracts import Contract, ContractViolation
from contracts import _compiled as comp
from contracts import _results as compiled_results
from contracts import _schemas as compiled_schemas
from contracts._loader import index_operations

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/v1/jobs/{id}": {
            "get": {
                "operationId": "getJob",
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {
                            "x-request-id": {
                                "required": True,
                                "schema": {"type": "string", "minLength": 3},
                            },
                            "Retry-After": {"schema": {"type": "integer", "minimum": 0}},
                            "Content-Type": {"required": True, "schema": {"const": "x"}},
                            "X-Free": {"description": "no schema"},
                            "X-Ref": {"$ref": "#/components/headers/Count"},
                        },
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}
                        },
                    },
                    "4XX": {"$ref": "#/components/responses/Error"},
                    "default": {
                        "description": "other",
                        "content": {"text/plain": {"schema": {"type": "string", "maxLength": 4}}},
                    },
                },
            }
        },
        "/v1/jobs": {
            "post": {
                "operationId": "createJob",
                "responses": {
                    "202": {"description": "accepted, no body"},
                    "5XX": {
                        "description": "binary",
                        "content": {
                            "video/mp4": {"schema": {"type": "string"}},
                            "multipart/mixed": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"a": {"type": "string", "maxLength": 2}},
                                }
                            },
                        },
                    },
                },
            }
        },
    },
    "components": {
        "headers": {"Count": {"schema": {"$ref": "#/components/schemas/Count"}}},
        "responses": {
            "Error": {
                "description": "error",
                "content": {
                    "application/problem+json": {"schema": {"type": "object"}},
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["error"],
                            "properties": {"error": {"type": "string"}},
                        }
                    },
                },
            }
        },
        "schemas": {
            "Job": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"enum": ["queued", "done"]},
                    "when": {"type": "string", "format": "date-time"},
                    "size": {"type": "integer", "format": "int32", "default": 1},
                    "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Part"}},
                },
            },
            "Count": {"type": "integer", "maximum": 9},
            "Part": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        },
    },
}
GOOD = b'{"id": "j1", "status": "queued"}'


def _contract() -> Contract:
    spec = copy.deepcopy(SPEC)
    return Contract("tiny", Path("tiny.yaml"), spec, index_operations(spec, "tiny.yaml"))


def _op(operation_id: str = "getJob") -> comp.CompiledOperation:
    return comp.CompiledOperation(_contract(), operation_id)


def _check(
    status: int, content_type: str | None, headers: dict[str, str], data: bytes | None
) -> Any:
    return _op().validate_response(status, content_type, Headers(headers), data)


def _problems(exc: pytest.ExceptionInfo[ContractViolation]) -> list[tuple[str, Any, str]]:
    return [(p.kind, p.field, p.message) for p in exc.value.problems]


# -------------------------------------------------------------------------------- responses


def test_a_valid_response_hands_back_its_body_and_declared_headers() -> None:
    result = _check(
        200,
        "application/json; charset=utf-8",
        {"X-Request-Id": "abc", "Retry-After": "3", "X-Free": "any", "Other": "x", "X-Ref": "9"},
        GOOD,
    )
    assert result.data == {"id": "j1", "status": "queued"}  # no defaults filled in
    assert result.headers == {"x-request-id": "abc", "Retry-After": 3, "X-Free": "any", "X-Ref": 9}
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"X-Request-Id": "abc", "X-Ref": "10"}, GOOD)
    assert _problems(caught) == [("response", "X-Ref", "10 is greater than the maximum of 9")]


def test_a_missing_required_header_and_a_bad_one_are_named() -> None:
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"Retry-After": "-1"}, GOOD)
    assert _problems(caught) == [
        ("response", "x-request-id", "missing required header"),
        ("response", "Retry-After", "-1 is less than the minimum of 0"),
    ]
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"x-request-id": "ab", "Retry-After": "soon"}, GOOD)
    assert _problems(caught) == [
        ("response", "x-request-id", "'ab' is too short"),
        ("response", "Retry-After", "'soon' is not of type 'integer'"),
    ]


def test_a_header_whose_schema_is_true_takes_any_text() -> None:
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/v1/jobs"]["post"]["responses"]["202"]["headers"] = {"X-Any": {"schema": True}}
    op = comp.CompiledOperation(
        Contract("tiny", Path("tiny.yaml"), spec, index_operations(spec, "tiny.yaml")), "createJob"
    )
    assert op.validate_response(202, None, Headers({"X-Any": "7"}), None).headers == {"X-Any": "7"}


def test_an_optional_header_may_be_left_out() -> None:
    assert _check(200, "application/json", {"x-request-id": "abc"}, GOOD).headers == {
        "x-request-id": "abc"
    }


def test_the_content_type_header_of_a_response_is_not_checked_as_a_header() -> None:
    headers = _op().response(200).headers  # type: ignore[union-attr]
    assert [(h.name, h.required) for h in headers] == [
        ("x-request-id", True),
        ("Retry-After", False),
        ("X-Free", False),
        ("X-Ref", False),
    ]
    assert headers[2].schema is None and headers[2].validator is None


def test_a_body_its_schema_refuses_is_a_response_problem_naming_the_field() -> None:
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"x-request-id": "abc"}, b'{"id": 1, "parts": [{}]}')
    assert sorted(_problems(caught), key=str) == sorted(
        [
            ("response", "status", "'status' is a required property"),
            ("response", "id", "1 is not of type 'string'"),
            ("response", "parts.0.n", "'n' is a required property"),
        ],
        key=str,
    )


def test_a_body_that_is_not_its_media_type_cannot_be_read() -> None:
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"x-request-id": "abc"}, b"{nope")
    assert _problems(caught) == [("response", None, "cannot be read: not valid application/json")]
    with pytest.raises(ContractViolation) as caught:
        _check(200, "application/json", {"x-request-id": "abc"}, None)
    assert caught.value.kinds == {"response"}


def test_an_undeclared_response_content_type_names_the_declared_ones() -> None:
    for content_type in ("text/html", None):
        with pytest.raises(ContractViolation) as caught:
            _check(200, content_type, {"x-request-id": "abc"}, GOOD)
        assert _problems(caught) == [
            ("response", "Content-Type", "unsupported content type (use application/json)")
        ]
    with pytest.raises(ContractViolation) as caught:
        _check(404, "text/html", {}, b"{}")
    assert _problems(caught) == [
        (
            "response",
            "Content-Type",
            "unsupported content type (use application/problem+json, application/json)",
        )
    ]


def test_a_status_is_looked_up_exact_then_by_its_class_then_default() -> None:
    op = _op()
    assert op.response(200) is op.response(200)
    assert op.response(404) is op.response(499)
    assert op.response(404) is not op.response(200)
    assert set(op.response(404).content) == {"application/json", "application/problem+json"}  # type: ignore[union-attr]
    assert set(op.response(500).content) == {"text/plain"}  # type: ignore[union-attr]
    assert set(op._responses) == {"200", "4XX", "default"}
    with pytest.raises(ContractViolation) as caught:
        _check(404, "application/json", {}, b"{}")
    assert _problems(caught) == [("response", "error", "'error' is a required property")]
    with pytest.raises(ContractViolation) as caught:
        _check(503, "text/plain", {}, b"too long")
    assert _problems(caught) == [("response", None, "'too long' is too long")]
    assert str(caught.value) == "tiny: 'too long' is too long"
    assert _check(503, "text/plain", {}, None).data == ""
    assert _check(302, "text/plain", {}, b"ok").data == "ok"


def test_an_undeclared_status_is_refused() -> None:
    op = _op("createJob")
    assert op.response(404) is None
    with pytest.raises(ContractViolation) as caught:
        op.validate_response(404, None, Headers(), None)
    assert _problems(caught) == [("response", None, "status 404 is not declared")]
    assert str(caught.value) == "tiny: status 404 is not declared"


def test_a_response_without_content_takes_any_body() -> None:
    result = _op("createJob").validate_response(202, "text/html", Headers(), b"<p>")
    assert (result.data, result.headers) == (None, {})


def test_a_binary_response_is_read_byte_for_byte() -> None:
    result = _op("createJob").validate_response(500, "video/mp4", Headers(), b"\x00\xff")
    assert result.data == "\x00\xff"


def test_compile_responses_compiles_each_declared_response_once() -> None:
    op = _op()
    first = op.response(200)
    op.compile_responses()
    assert set(op._responses) == {"200", "4XX", "default"}
    assert op._responses["200"] is first
    fresh = _op()
    fresh.compile_responses()
    assert isinstance(fresh.response(404), comp.CompiledResponse)
    assert _check(404, "application/json", {}, b'{"error": "x"}').data == {"error": "x"}


def test_a_multipart_response_is_read_by_its_boundary() -> None:
    body = b'--b1\r\nContent-Disposition: form-data; name="a"\r\n\r\nok\r\n--b1--\r\n'
    op = _op("createJob")
    result = op.validate_response(500, "multipart/mixed; boundary=b1", Headers(), body)
    assert result.data == {"a": "ok"}
    with pytest.raises(ContractViolation) as caught:
        op.validate_response(
            500, "multipart/mixed; boundary=b1", Headers(), body.replace(b"ok", b"long")
        )
    assert _problems(caught) == [("response", "a", "'long' is too long")]
    with pytest.raises(ContractViolation) as caught:
        op.validate_response(500, "multipart/mixed", Headers(), body)
    assert _problems(caught) == [("response", None, "cannot be read: not valid multipart/mixed")]


# ------------------------------------------------------------------------- schema problems


def _err(message: str, path: tuple[Any, ...] = (), validator: str = "type", context: Any = None):  # type: ignore[no-untyped-def]
    return SimpleNamespace(message=message, path=path, validator=validator, context=context)


def test_a_schema_error_becomes_a_problem_at_its_dotted_path() -> None:
    problems = compiled_results.schema_problems("body", [_err("bad", ("a", 0, "b")), _err("top")])
    assert problems == [
        compiled_results.Problem("body", "a.0.b", "bad"),
        compiled_results.Problem("body", None, "top"),
    ]


def test_a_missing_property_is_named_at_its_own_path() -> None:
    problems = compiled_results.schema_problems(
        "body",
        [
            _err("'size' is a required property", ("opts",), "required"),
            _err("'size' is a required property", (), "type"),
            _err("nothing quoted", ("x",), "required"),
        ],
    )
    assert [p.field for p in problems] == ["opts.size", None, "x"]


def test_a_oneof_error_is_told_by_its_branches_errors_at_most_three() -> None:
    branches = [_err(f"branch {i}", (f"f{i}",)) for i in range(5)]
    problems = compiled_results.schema_problems(
        "body",
        [
            _err("no branch", ("x",), "oneOf", branches),
            _err("none of these", ("y",), "anyOf", branches[:1]),
            _err("empty context", ("z",), "oneOf", []),
            _err("after"),
        ],
    )
    assert {p.kind for p in problems} == {"body"}
    assert [(p.field, p.message) for p in problems] == [
        ("f0", "branch 0"),
        ("f1", "branch 1"),
        ("f2", "branch 2"),
        ("f0", "branch 0"),
        ("z", "empty context"),
        (None, "after"),
    ]


def test_a_oneof_error_without_branch_errors_is_worded_by_itself() -> None:
    bare = SimpleNamespace(message="no branch", path=("x",), validator="oneOf")
    assert compiled_results.schema_problems("body", [bare]) == [
        compiled_results.Problem("body", "x", "no branch")
    ]


def test_a_long_message_is_cut_at_300_characters() -> None:
    (cut, kept) = compiled_results.schema_problems("body", [_err("x" * 301), _err("y" * 300)])
    assert cut.message == "x" * 300 + "..."
    assert kept.message == "y" * 300


def test_an_error_without_the_jsonschema_fields_is_worded_by_itself() -> None:
    (problem,) = compiled_results.schema_problems("response", [ValueError("plain")])
    assert problem == compiled_results.Problem("response", None, "plain")


def test_problems_and_violations_read_as_text() -> None:
    assert str(compiled_results.Problem("body", "a", "bad")) == "a: bad"
    assert str(compiled_results.Problem("body", None, "bad")) == "bad"
    violation = compiled_results.ContractViolation(
        "c",
        [
            compiled_results.Problem("body", "a", "x"),
            compiled_results.Problem("parameter", None, "y"),
        ],
    )
    assert str(violation) == "c: a: x; y"
    assert violation.kinds == {"body", "parameter"}
    assert compiled_results.ContractViolation("c").problems == []


# ------------------------------------------------------------------------------ validators


class _Rust:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def is_valid(self, value: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_the_fast_engine_answers_valid_and_python_words_the_errors() -> None:
    contract = _contract()
    schema = {"type": "integer"}
    rust_says_valid = compiled_schemas.FastValidator(contract, schema, _Rust(1))
    assert rust_says_valid.is_valid("not an int")
    assert list(rust_says_valid.iter_errors("not an int")) == []
    assert rust_says_valid._python is None  # never built when Rust says valid
    for rust in (None, _Rust(0), _Rust(ValueError("cannot take it"))):
        validator = compiled_schemas.FastValidator(contract, schema, rust)
        assert not validator.is_valid("x")
        assert validator.is_valid(3)
        assert [e.message for e in validator.iter_errors("x")] == ["'x' is not of type 'integer'"]
        assert validator.python is validator.python


def test_the_fast_engine_judges_the_value_given() -> None:
    contract = _contract()
    at_least = compiled_schemas.compile_schema(contract, {"minimum": 5})
    assert at_least.rust is not None
    assert [e.message for e in at_least.iter_errors(3)] == ["3 is less than the minimum of 5"]
    assert list(at_least.iter_errors(7)) == []


def test_the_python_engine_checks_openapi_formats_and_resolves_references() -> None:
    contract = _contract()
    int32 = compiled_schemas.FastValidator(contract, {"type": "integer", "format": "int32"}, None)
    assert not int32.is_valid(2**40) and int32.is_valid(5)
    stamp = compiled_schemas.FastValidator(
        contract, {"type": "string", "format": "date-time"}, None
    )
    assert not stamp.is_valid("yesterday") and stamp.is_valid("2026-01-02T03:04:05Z")
    job = compiled_schemas.FastValidator(contract, {"$ref": "#/components/schemas/Job"}, None)
    assert job.is_valid({"id": "a", "status": "done"})
    assert not job.is_valid({"id": "a", "status": "lost"})


def test_the_contract_registry_is_built_once() -> None:
    contract = _contract()
    first = compiled_schemas.registry(contract)
    assert compiled_schemas.registry(contract) is first
    assert contract.validators["registry"] is first
    resource = first.get_or_retrieve("urn:sora-mock:contract:tiny").value
    assert resource.contents is contract.spec


def test_the_fast_engine_resolves_component_references() -> None:
    contract = _contract()
    rust = compiled_schemas._rust(contract, {"$ref": "#/components/schemas/Job"})
    assert rust is not None
    assert rust.is_valid({"id": "a", "status": "done"})
    assert not rust.is_valid({"id": "a", "status": "lost"})
    inline = compiled_schemas._rust(
        contract, {"type": "array", "items": {"$ref": "#/components/schemas/Part"}}
    )
    assert inline is not None and not inline.is_valid([{}]) and inline.is_valid([{"n": 1}])


def test_the_fast_engine_declines_what_it_cannot_take() -> None:
    contract = _contract()
    assert compiled_schemas._rust(contract, True) is None
    assert compiled_schemas._rust(contract, {"components": {}, "type": "object"}) is None
    assert compiled_schemas._rust(contract, {"$ref": "#/paths/~1v1~1jobs"}) is None
    assert compiled_schemas._rust(contract, {"pattern": "("}) is None
    assert compiled_schemas._rust(contract, {"type": "string"}) is not None


def test_compiled_schemas_use_the_fast_engine_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contract = _contract()
    assert compiled_schemas.compile_schema(contract, {"type": "string"}).rust is not None
    # a schema that refers to the contract's components is fast too
    job = compiled_schemas.compile_schema(contract, {"$ref": "#/components/schemas/Job"})
    assert job.rust is not None and job.rust.is_valid({"id": "a", "status": "done"})
    monkeypatch.setattr(compiled_schemas, "USE_RUST", False)
    off = compiled_schemas.compile_schema(contract, {"type": "string"})
    assert off.rust is None and off.is_valid("a") and not off.is_valid(1)
    assert off.schema == {"type": "string"}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"a": [{"b": {"$ref": "#/x"}}]}, True),
        ([{"$ref": "#/x"}], True),
        ({"a": [1, {"b": 2}], "ref": "$ref"}, False),
        ("$ref", False),
    ],
)
def test_a_reference_is_found_anywhere_in_a_schema(node: Any, expected: bool) -> None:
    assert compiled_schemas._has_ref(node) is expected
