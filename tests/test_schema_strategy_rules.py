"""How contracts.strategies turns schemas into hypothesis strategies, rule by rule: the schema
algebra (``allOf`` merged, ``if`` negated, types intersected), what each keyword makes the
generator draw *before* the final validity filter (bounds reached, never crossed), and how
whole bodies and responses are put together from a small contract written here.

Fast on purpose (a few dozen examples a test, derandomized, no example database), so that
each test runs in well under a second (``tests/test_strategies.py`` checks the real contracts
with more examples)."""

from __future__ import annotations

import copy
import json
import math
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import contracts
from contracts import Contract, strategies
from contracts import _schema_strategies as schema_strategies
from contracts import _strategy_state as strategy_state
from contracts._loader import index_operations
from contracts._schema_strategies import _ALSO, _Builder

TINY = settings(
    max_examples=30,
    database=None,
    derandomize=True,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def draws(strategy: st.SearchStrategy[Any], n: int = 30) -> list[Any]:
    """Up to ``n`` values the strategy draws (the same ones every run)."""
    out: list[Any] = []

    @settings(TINY, max_examples=n)
    @given(strategy)
    def run(value: Any) -> None:
        out.append(value)

    run()
    return out


def reaches(strategy: st.SearchStrategy[Any], condition: Any, n: int = 300) -> Any:
    """A value the strategy draws that meets ``condition`` (NoSuchExample if none in n)."""
    return find(strategy, condition, settings=settings(TINY, max_examples=n))


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/v1/things/{thing_id}": {
            "parameters": [
                {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getThing",
                "parameters": [
                    {"$ref": "#/components/parameters/ThingId"},
                    {"name": "X-H", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {
                            "Content-Type": {"required": True, "schema": {"const": "no"}},
                            "x-request-id": {"schema": {"type": "string", "minLength": 1}},
                            "Retry-After": {"required": True, "schema": {"type": "integer"}},
                            "X-Flag": {"schema": {"type": "boolean"}},
                            "X-Free": {"required": True},
                        },
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                            "application/yaml": {"schema": {"$ref": "#/components/schemas/Thing"}},
                        },
                    },
                    "4XX": {"$ref": "#/components/responses/Error"},
                    "default": {
                        "description": "other",
                        "content": {"text/plain; charset=utf-8": {"schema": {"const": "oops"}}},
                    },
                },
            },
        },
        "/v1/things": {
            "post": {
                "operationId": "createThing",
                "requestBody": {"$ref": "#/components/requestBodies/NewThing"},
                "responses": {
                    "204": {
                        "description": "none",
                        "headers": {"X-Count": {"required": True, "schema": {"const": 7}}},
                    }
                },
            },
            "get": {"operationId": "listThings", "responses": {"200": {"description": "x"}}},
        },
        "/v1/things/{thing_id}/content": {
            "get": {
                "operationId": "getContent",
                "parameters": [
                    {"name": "thing_id", "in": "path", "required": True, "schema": {"const": "t1"}}
                ],
                "responses": {
                    "200": {
                        "description": "video",
                        "content": {
                            "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                            "application/octet-stream": {},
                            "application/problem+json": {},
                        },
                    }
                },
            }
        },
        "/v1/files/{name}": {
            "get": {
                "operationId": "getFile",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"minLength": 8}}
                ],
                "responses": {"200": {"description": "x"}},
            }
        },
        "/v1/stream": {
            "get": {
                "operationId": "stream",
                "responses": {
                    "200": {
                        "description": "sse",
                        "content": {
                            "text/event-stream": {
                                "x-sse-data-schema": {"$ref": "#/components/schemas/Chunk"},
                                "x-sse-terminator": "[DONE]",
                            }
                        },
                    },
                    "201": {
                        "description": "events",
                        "content": {
                            "text/event-stream": {"schema": {"$ref": "#/components/schemas/Tick"}}
                        },
                    },
                    "203": {
                        "description": "events of one field",
                        "content": {
                            "text/event-stream; charset=utf-8": {
                                "schema": {
                                    "type": "object",
                                    "required": ["data"],
                                    "additionalProperties": {"const": "x"},
                                }
                            }
                        },
                    },
                    "202": {
                        "description": "plain",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
    },
    "components": {
        "parameters": {
            "ThingId": {
                "name": "thing_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[a-z]{3}$"},
            }
        },
        "responses": {
            "Error": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Err"}}},
            }
        },
        "requestBodies": {
            "NewThing": {
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Form"}},
                    "application/x-www-form-urlencoded": {
                        "schema": {"$ref": "#/components/schemas/Form"}
                    },
                }
            }
        },
        "schemas": {
            "Tick": {
                "required": ["data", "event", "meta"],
                "properties": {
                    "event": {"const": "tick"},
                    "data": {"const": "a b\nc"},
                    "meta": {"const": ["é"]},
                    "id": {"type": "integer", "minimum": 1, "maximum": 1},
                },
            },
            "Thing": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {
                    "id": {"type": "string", "pattern": "^t[0-9]$"},
                    "kind": {"enum": ["a", "b"]},
                    "n": {"type": "integer", "minimum": 0, "maximum": 3},
                },
            },
            "Form": {
                "type": "object",
                "required": ["file", "name"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 3},
                },
            },
            "Err": {
                "type": "object",
                "additionalProperties": False,
                "required": ["error"],
                "properties": {"error": {"const": "bad"}},
            },
            "Chunk": {
                "type": "object",
                "additionalProperties": False,
                "required": ["d"],
                "properties": {"d": {"enum": ["x", "é"]}},
            },
            "Tree": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kids"],
                "properties": {
                    "kids": {
                        "type": "array",
                        "maxItems": 2,
                        "items": {"$ref": "#/components/schemas/Tree"},
                    }
                },
            },
            "Alias": {"$ref": "#/components/schemas/Thing"},
            "Loop": {"$ref": "#/components/schemas/Loop"},
            "Small": {"type": "integer", "minimum": 0, "maximum": 5},
        },
    },
}


def _contract() -> Contract:
    spec = copy.deepcopy(SPEC)
    return Contract("tiny", Path("tiny.yaml"), spec, index_operations(spec, "tiny.yaml"))


def _builder(encoding: Any = "json", extra: bool = False) -> _Builder:
    return _Builder(_contract(), encoding, extra)


# ---------------------------------------------------------------------------- small helpers


def test_json_pointer_tokens_are_escaped() -> None:
    assert schema_strategies._escape("/v1/a~b") == "~1v1~1a~0b"


def test_the_canonical_text_ignores_key_order_and_takes_any_value() -> None:
    assert strategy_state._canonical({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert strategy_state._canonical({1, 2}) == json.dumps(repr({1, 2}))


def test_form_values_are_seen_as_the_validator_sees_them() -> None:
    assert schema_strategies._as_json({"f": b"\xff", "l": [b"a", 1], "s": "x"}) == {
        "f": "\xff",
        "l": ["a", 1],
        "s": "x",
    }


def test_json_media_types_are_told_apart() -> None:
    assert strategy_state._is_json("Application/JSON; charset=utf-8")
    assert strategy_state._is_json("application/problem+json")
    assert not strategy_state._is_json("text/plain")
    assert not strategy_state._is_json("application/jsonl")


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (False, "false"), ("s", "s"), (3, "3"), (1.5, "1.5")]
)
def test_a_header_value_is_written_as_text(value: Any, text: str) -> None:
    assert strategies._header_text(value) == text


def test_a_media_type_is_picked_json_first_then_as_asked() -> None:
    content = {"text/plain; charset=utf-8": 1, "application/json": 2}
    assert strategies._media(content, None) == "application/json"
    assert strategies._media({"text/plain": 1, "image/png": 2}, None) == "text/plain"
    assert strategies._media(content, "text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    assert strategies._media(content, " TEXT/plain ") == "text/plain; charset=utf-8"
    with pytest.raises(
        KeyError,
        match="'image/png' is not declared \\(has text/plain; charset=utf-8, application/json\\)",
    ):
        strategies._media(content, "image/png")
    assert strategies._media({"text/plain": 1}, "text/plain; charset=utf-8") == "text/plain"
    with pytest.raises(KeyError) as caught:
        strategies._media({}, None)
    assert caught.value.args == ("no content is declared",)


def test_a_response_is_found_by_status_class_or_default() -> None:
    contract = _contract()
    base = "#/paths/~1v1~1things~1{thing_id}/get/responses"
    assert strategies._response_pointer(contract, "getThing", 200)[0] == f"{base}/200"
    pointer, node = strategies._response_pointer(contract, "getThing", 404)
    assert pointer == "#/components/responses/Error" and "content" in node
    assert strategies._response_pointer(contract, "getThing", "4XX")[0] == pointer
    assert strategies._response_pointer(contract, "getThing", 500)[0] == f"{base}/default"
    with pytest.raises(KeyError, match="tiny: createThing documents no response 200 \\(has 204\\)"):
        strategies._response_pointer(contract, "createThing", 200)
    with pytest.raises(KeyError):
        strategies._response_pointer(contract, "createThing", "2XX")
    # a status class asked by name is looked up as it is, never falling back to default
    with pytest.raises(
        KeyError, match="getThing documents no response '3XX' \\(has 200, 4XX, default\\)"
    ):
        strategies._response_pointer(contract, "getThing", "3XX")


def test_a_reference_chain_is_followed_and_a_loop_refused() -> None:
    contract = _contract()
    assert strategies._follow(contract, "#/components/schemas/Alias")[0] == (
        "#/components/schemas/Thing"
    )
    with pytest.raises(
        ValueError, match="tiny: \\$ref chain too deep at #/components/schemas/Loop"
    ):
        strategies._follow(contract, "#/components/schemas/Loop")


def test_parameters_are_listed_by_location_the_operations_overriding() -> None:
    contract = _contract()
    assert strategies._parameters(contract, "getThing", "path") == [
        ("thing_id", "#/components/parameters/ThingId/schema", True)
    ]
    assert strategies._parameters(contract, "getThing", "query") == [
        ("q", "#/paths/~1v1~1things~1{thing_id}/parameters/1/schema", False)
    ]
    assert strategies._parameters(contract, "listThings", "query") == []


def test_local_references_of_a_detached_schema_point_into_the_contract() -> None:
    schema = {
        "$ref": "#/a",
        "items": [{"$ref": "#/b"}],
        "properties": {"$ref": {"$ref": "#/c"}, "x": {"$ref": "http://e/x"}},
        "enum": [{"$ref": "#/data"}],
        "const": {"$ref": "#/data"},
        "default": {"$ref": "#/data"},
        "examples": [{"$ref": "#/data"}],
        "$defs": {"enum": {"$ref": "#/d"}},
    }
    assert strategy_state._rewrite_refs(schema, "urn:u") == {
        "$ref": "urn:u#/a",
        "items": [{"$ref": "urn:u#/b"}],
        "properties": {"$ref": {"$ref": "urn:u#/c"}, "x": {"$ref": "http://e/x"}},
        "enum": [{"$ref": "#/data"}],
        "const": {"$ref": "#/data"},
        "default": {"$ref": "#/data"},
        "examples": [{"$ref": "#/data"}],
        "$defs": {"enum": {"$ref": "urn:u#/d"}},
    }


def test_validators_are_built_once_per_schema_and_per_contract() -> None:
    contract = _contract()
    state = strategy_state._state(contract)
    assert strategy_state._state(contract) is state
    assert state.uri == f"urn:sora-mock:strategies:tiny:{id(contract)}"
    first = strategy_state._validator_for(contract, {"$ref": "#/components/schemas/Small"})
    assert strategy_state._validator_for(contract, {"$ref": "#/components/schemas/Small"}) is first
    assert first.is_valid(3) and not first.is_valid(6)
    pointer = strategy_state._validator_for(contract, "#/components/schemas/Small")
    assert pointer is contract.validators["#/components/schemas/Small"]
    # the merge's leftover conjuncts are checked by filter, not by this validator
    loose = strategy_state._validator_for(contract, {"type": "integer", _ALSO: [{"const": 1}]})
    assert loose.is_valid(5)


def test_a_contract_named_is_loaded_and_one_given_is_used() -> None:
    contract = _contract()
    assert strategies._contract(contract) is contract
    assert strategies._contract("gptge-videos") is contracts.load("gptge-videos")
    bound = strategies.strategies_for(contract)
    assert bound.contract is contract
    assert strategies.strategies_for("gptge-videos").contract is contracts.load("gptge-videos")


# ----------------------------------------------------------------------------- the algebra


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, None),
        (None, "string", ["string"]),
        (["b", "a"], None, ["a", "b"]),
        ("number", ["integer", "string"], ["integer"]),
        (["integer", "string"], "number", ["integer"]),
        (["a", "b"], ["b", "c"], ["b"]),
        ("string", "integer", []),
        ("integer", "string", []),
        ("number", "string", []),
    ],
)
def test_types_intersect_an_integer_being_a_number(a: Any, b: Any, expected: Any) -> None:
    assert schema_strategies._intersect_types(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({}, {"type": "string"}, {"type": "string"}),
        (True, {"type": "string"}, {"type": "string"}),
        ({"type": "string"}, True, {"type": "string"}),
        ({"type": "string"}, {}, {"type": "string"}),
        ({}, True, {}),
        (False, {"type": "string"}, False),
        ({"type": "string"}, False, False),
        ({}, False, False),
        ({"required": ["a", "b"]}, {"required": ["c", "a"]}, {"required": ["a", "b", "c"]}),
        (
            {"properties": {"a": {"type": "string"}, "b": {}}},
            {"properties": {"a": {"minLength": 1}, "c": {}}},
            {
                "properties": {
                    "a": {"allOf": [{"type": "string"}, {"minLength": 1}]},
                    "b": {},
                    "c": {},
                }
            },
        ),
        ({"items": {"type": "string"}}, {"items": False}, {"items": False}),
        (
            {"additionalProperties": False},
            {"additionalProperties": {}},
            {"additionalProperties": False},
        ),
        (
            {"contains": {"a": 1}},
            {"contains": {"b": 2}},
            {"contains": {"allOf": [{"a": 1}, {"b": 2}]}},
        ),
        (
            {"propertyNames": {"a": 1}},
            {"propertyNames": {"b": 2}},
            {"propertyNames": {"allOf": [{"a": 1}, {"b": 2}]}},
        ),
        ({"enum": [3, 1, 2]}, {"enum": [2, 3, 4]}, {"enum": [3, 2]}),
        ({"const": 1}, {"const": 1}, {"const": 1}),
        ({"const": 1}, {"const": 2}, False),
        ({"const": 1}, {"enum": [1, 2]}, {"const": 1}),
        ({"enum": [2, 3]}, {"const": 1}, False),
        ({"uniqueItems": False}, {"uniqueItems": True}, {"uniqueItems": True}),
        ({"uniqueItems": False}, {"uniqueItems": False}, {"uniqueItems": False}),
        ({"title": "a", "x-a": 1}, {"title": "b", "x-a": 2}, {"title": "a", "x-a": 1}),
        ({"pattern": "a"}, {"pattern": "a"}, {"pattern": "a"}),
        (
            {"pattern": "a", _ALSO: [1]},
            {"pattern": "b", _ALSO: [2]},
            {"pattern": "a", _ALSO: [1, {"pattern": "b"}, 2]},
        ),
        (
            {"type": "integer"},
            {"$ref": "#/components/schemas/Small"},
            {"type": ["integer"], "minimum": 0, "maximum": 5},
        ),
        ({"type": "string"}, {"type": ["string", "null"]}, {"type": ["string"]}),
        ({"type": ["string", "null"]}, {"type": "null"}, {"type": ["null"]}),
        (
            {"patternProperties": {"^a": {"minLength": 1}}},
            {"patternProperties": {"^a": {"maxLength": 2}, "^b": {}}},
            {
                "patternProperties": {
                    "^a": {"allOf": [{"minLength": 1}, {"maxLength": 2}]},
                    "^b": {},
                }
            },
        ),
    ],
)
def test_two_schemas_merge_into_their_conjunction(a: Any, b: Any, expected: Any) -> None:
    assert _builder().merge(a, b) == expected


@pytest.mark.parametrize(
    "key", ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"]
)
def test_the_larger_lower_bound_is_kept(key: str) -> None:
    assert _builder().merge({key: 2}, {key: 5}) == {key: 5}
    assert _builder().merge({key: 5}, {key: 2}) == {key: 5}


@pytest.mark.parametrize(
    "key", ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"]
)
def test_the_smaller_upper_bound_is_kept(key: str) -> None:
    assert _builder().merge({key: 2}, {key: 5}) == {key: 2}
    assert _builder().merge({key: 5}, {key: 2}) == {key: 2}


def test_a_reference_with_siblings_is_merged_with_them() -> None:
    builder = _builder()
    assert builder.resolved({"$ref": "#/components/schemas/Small", "maximum": 3}) == {
        "type": "integer",
        "minimum": 0,
        "maximum": 3,
    }
    small = builder.contract.spec["components"]["schemas"]["Small"]
    assert builder.resolved({"$ref": "#/components/schemas/Small", "title": "t"}) is small
    assert builder.resolved({"$ref": 1}) == {"$ref": 1}
    assert builder.resolved(True) is True
    with pytest.raises(
        ValueError, match="tiny: \\$ref chain too deep at #/components/schemas/Loop"
    ):
        builder.resolved({"$ref": "#/components/schemas/Loop"})


def test_annotations_are_skipped_and_the_rest_still_merged() -> None:
    merged = _builder().merge({"title": "a", "minLength": 1}, {"title": "b", "minLength": 3})
    assert merged == {"title": "a", "minLength": 3}


def test_an_object_reference_chain_is_followed_31_steps() -> None:
    contract = _contract()
    schemas = contract.spec["components"]["schemas"]
    for i in range(32):
        schemas[f"C{i}"] = {"$ref": f"#/components/schemas/C{i + 1}"}
    schemas["C32"] = {"type": "integer"}
    assert strategies._follow(contract, "#/components/schemas/C1") == (
        "#/components/schemas/C32",
        {"type": "integer"},
    )
    with pytest.raises(ValueError, match="chain too deep"):
        strategies._follow(contract, "#/components/schemas/C0")


def test_objects_require_members_they_do_not_declare_by_their_extra_schema() -> None:
    strategy = _builder("json").objects({"required": ["a"]})
    reaches(strategy, lambda v: isinstance(v["a"], list))
    typed = _builder("json").objects({"required": ["a"], "additionalProperties": {"const": 5}})
    assert {v["a"] for v in draws(typed, 10)} == {5}


def test_a_reference_chain_is_followed_32_steps_deep() -> None:
    def chain(n: int) -> Contract:
        contract = _contract()
        schemas = contract.spec["components"]["schemas"]
        for i in range(n):
            schemas[f"C{i}"] = {"$ref": f"#/components/schemas/C{i + 1}"}
        schemas[f"C{n}"] = {"type": "integer"}
        return contract

    deep = _Builder(chain(32), "json", False)
    assert deep.resolved({"$ref": "#/components/schemas/C0"}) == {"type": "integer"}
    too_deep = _Builder(chain(33), "json", False)
    with pytest.raises(ValueError, match="chain too deep"):
        too_deep.resolved({"$ref": "#/components/schemas/C0"})


def test_a_condition_is_negated_member_by_member() -> None:
    builder = _builder()
    assert builder.negations(True) == []
    assert builder.negations({"type": "object"}) is None
    assert builder.negations("x") is None
    assert builder.negations(
        {"required": ["a"], "properties": {"b": {"const": 1}}, "title": "t", "x-y": 1}
    ) == [
        {"properties": {"a": False}},
        {"required": ["b"], "properties": {"b": {"not": {"const": 1}}}},
    ]
    assert builder.negations({"properties": {}}) == []


# ------------------------------------------------------------------------- what gets drawn


def test_integers_reach_their_bounds_and_never_cross_them() -> None:
    builder = _builder()
    for schema, lo, hi in [
        ({"minimum": 2.5, "maximum": 7.5}, 3, 7),
        ({"exclusiveMinimum": 2, "exclusiveMaximum": 7}, 3, 6),
        ({"exclusiveMinimum": 2.5, "exclusiveMaximum": 6.5}, 3, 6),
        ({"minimum": 4, "exclusiveMinimum": 2, "maximum": 6, "exclusiveMaximum": 9}, 4, 6),
        ({"minimum": 1, "exclusiveMinimum": 2, "maximum": 9, "exclusiveMaximum": 7}, 3, 6),
    ]:
        strategy = builder.integers(schema)
        assert all(lo <= v <= hi for v in draws(strategy)), schema
        reaches(strategy, lambda v, lo=lo: v == lo)
        reaches(strategy, lambda v, hi=hi: v == hi)


def test_unbounded_integers_stay_json_safe() -> None:
    strategy = _builder().integers({})
    assert all(abs(v) <= 2**53 for v in draws(strategy, 60))
    reaches(strategy, lambda v: v == 2**53)
    reaches(strategy, lambda v: v == -(2**53))
    reaches(_builder().integers({"minimum": 0}), lambda v: v == 2**53)
    reaches(_builder().integers({"maximum": 0}), lambda v: v == -(2**53))


def test_integer_multiples_stay_in_range() -> None:
    strategy = _builder().integers({"minimum": 3, "maximum": 22, "multipleOf": 5})
    assert {v % 5 for v in draws(strategy)} == {0}
    assert all(5 <= v <= 20 for v in draws(strategy))
    reaches(strategy, lambda v: v == 5)
    reaches(strategy, lambda v: v == 20)
    assert _builder().integers({"minimum": 6, "maximum": 9, "multipleOf": 5}).is_empty
    assert set(draws(_builder().integers({"minimum": 4, "maximum": 9, "multipleOf": 5}), 5)) == {5}
    assert _builder().integers({"minimum": 5, "maximum": 4}).is_empty
    zero = _builder().integers({"minimum": 1, "maximum": 3, "multipleOf": 0})
    reaches(zero, lambda v: v == 2)


def test_numbers_honour_exclusive_bounds() -> None:
    strategy = _builder().numbers({"exclusiveMinimum": 0, "exclusiveMaximum": 1})
    values = draws(strategy, 60)
    assert values and all(0 < v < 1 for v in values)
    reaches(strategy, lambda v: v < 1e-6)
    inclusive = _builder().numbers({"minimum": 0, "exclusiveMinimum": -1, "maximum": 1})
    reaches(inclusive, lambda v: v == 0 and isinstance(v, float))
    reaches(inclusive, lambda v: v == 1 and isinstance(v, float))
    tighter = _builder().numbers(
        {"minimum": 0, "exclusiveMinimum": 0, "maximum": 1, "exclusiveMaximum": 1}
    )
    assert all(0 < v < 1 for v in draws(tighter, 60))
    looser = _builder().numbers(
        {"minimum": 2, "exclusiveMinimum": 0, "maximum": 3, "exclusiveMaximum": 9}
    )
    assert all(2 <= v <= 3 for v in draws(looser, 60))
    reaches(looser, lambda v: v == 2 and isinstance(v, float))
    reaches(looser, lambda v: v == 3 and isinstance(v, float))


def test_numbers_are_finite() -> None:
    for schema in ({}, {"minimum": 0}, {"maximum": 0}):
        values = draws(_builder().numbers(schema), 60)
        assert values and all(math.isfinite(v) for v in values), schema


def test_numbers_are_integers_or_floats() -> None:
    strategy = _builder().numbers({"maximum": 10})
    # the bound itself, an integer: hypothesis mixes constants from every module loaded into its
    # draws, so which draw reaches it depends on what ran before (300 were not always enough)
    reaches(strategy, lambda v: isinstance(v, int) and v == 10, n=3000)
    reaches(strategy, lambda v: isinstance(v, float))
    reaches(strategy, lambda v: v < -1e20)
    assert all(v <= 10 for v in draws(strategy, 60))


def test_fractional_multiples_are_filtered_for() -> None:
    strategy = _builder().numbers({"minimum": 0, "maximum": 3, "multipleOf": 0.5})
    values = draws(strategy, 10)
    assert values and all((v * 2) == int(v * 2) for v in values)


def test_strings_keep_to_their_lengths_and_stay_short() -> None:
    builder = _builder()
    for schema, lo, hi in [
        ({"minLength": 2, "maxLength": 5}, 2, 5),
        ({"maxLength": 100}, 0, 40),
        ({"minLength": 50}, 50, 50),
        ({"minLength": 45, "maxLength": 60}, 45, 45),
        ({}, 0, 40),
    ]:
        strategy = builder.strings(schema)
        assert all(lo <= len(v) <= hi for v in draws(strategy)), schema
        reaches(strategy, lambda v, lo=lo: len(v) == lo)
        if hi < 40:
            reaches(strategy, lambda v, hi=hi: len(v) == hi)


def test_a_pattern_is_drawn_from_in_the_encodings_alphabet() -> None:
    strategy = _builder("header").strings({"pattern": "^[a-z ]{1,9}$", "maxLength": 4})
    values = draws(strategy)
    assert values and all(" " not in v and 1 <= len(v) <= 4 for v in values)
    reaches(strategy, lambda v: len(v) == 4)


def test_a_string_holding_json_is_json_of_its_content_schema() -> None:
    schema = {
        "contentMediaType": "application/json",
        "contentSchema": {"type": "object", "required": ["é"], "properties": {"é": {"const": 1}}},
        "maxLength": 40,
    }
    values = draws(_builder().strings(schema))
    assert values and all(json.loads(v)["é"] == 1 and "é" in v for v in values)
    plain = _builder().strings({"contentMediaType": "text/plain", "contentSchema": {"const": 1}})
    reaches(plain, lambda v: v != "1")


def test_binary_strings_are_bytes_in_forms_and_latin1_text_in_json() -> None:
    schema = {"format": "binary", "minLength": 2, "maxLength": 3}
    raw = _builder("multipart").strings(schema)
    assert all(isinstance(v, bytes) and 2 <= len(v) <= 3 for v in draws(raw))
    reaches(raw, lambda v: len(v) == 3 and v[0] > 200)
    text = _builder("json").strings(schema)
    assert all(isinstance(v, str) and 2 <= len(v) <= 3 for v in draws(text))
    reaches(text, lambda v: len(v) == 2)
    reaches(text, lambda v: "\xff" in v)
    long = _builder("multipart").strings({"format": "binary", "minLength": 50})
    assert {len(v) for v in draws(long, 5)} == {50}


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("date-time", lambda v: v.endswith("Z") and "T" in v),
        ("date", lambda v: len(v.split("-")) == 3 and "T" not in v),
        ("uuid", lambda v: str(uuid.UUID(v)) == v),
        ("uri", lambda v: v.startswith("https://") and ".example/" in v),
        ("url", lambda v: v.startswith("https://")),
        ("email", lambda v: v.count("@") == 1 and v.endswith(".example")),
    ],
)
def test_a_known_format_is_drawn_in_its_shape(fmt: str, check: Any) -> None:
    values = draws(_builder().strings({"format": fmt}), 10)
    assert values and all(check(v) for v in values)


def test_a_format_and_a_length_are_both_kept() -> None:
    values = draws(_builder().strings({"format": "email", "maxLength": 22}))
    assert values and all(len(v) <= 22 and "@" in v for v in values)


def test_an_unknown_format_is_plain_text() -> None:
    reaches(_builder().strings({"format": "colour"}), lambda v: v == "")
    reaches(_builder().strings({"format": 7}), lambda v: v == "")


@pytest.mark.parametrize(
    ("encoding", "allowed"),
    [
        ("header", lambda c: 0x21 <= ord(c) <= 0x7E),
        ("path", lambda c: c.isascii() and (c.isalnum() or c in "_-")),
        ("multipart", lambda c: c.isprintable() or c == " " or ord(c) > 0x7F),
    ],
)
def test_strings_use_their_encodings_alphabet(encoding: Any, allowed: Any) -> None:
    values = draws(_builder(encoding).strings({"minLength": 5}))
    assert all(allowed(c) for v in values for c in v)


def test_a_json_string_may_hold_any_text() -> None:
    reaches(_builder("json").strings({"minLength": 1}), lambda v: any(ord(c) < 0x20 for c in v))


def test_arrays_keep_to_their_sizes_and_a_few_extra_items() -> None:
    builder = _builder()
    for schema, lo, hi in [
        ({"items": {"type": "null"}}, 0, 3),
        ({"items": {"type": "null"}, "minItems": 2}, 2, 5),
        ({"items": {"type": "null"}, "minItems": 1, "maxItems": 2}, 1, 2),
    ]:
        strategy = builder.arrays(schema)
        assert all(lo <= len(v) <= hi for v in draws(strategy)), schema
        reaches(strategy, lambda v, lo=lo: len(v) == lo)
        reaches(strategy, lambda v, hi=hi: len(v) == hi)


def test_unique_arrays_repeat_no_item() -> None:
    strategy = _builder().arrays(
        {"items": {"enum": [1, 2, 3]}, "uniqueItems": True, "minItems": 2, "maxItems": 3}
    )
    values = draws(strategy)
    assert values and all(len(set(v)) == len(v) >= 2 for v in values)
    reaches(strategy, lambda v: len(v) == 3)
    repeats = _builder().arrays({"items": {"enum": [1, 2]}, "minItems": 3})
    reaches(repeats, lambda v: len(set(v)) < len(v))


def test_prefix_items_come_first_then_the_rest() -> None:
    schema = {
        "prefixItems": [{"const": "a"}, {"type": "boolean"}],
        "items": {"type": "null"},
        "minItems": 3,
        "maxItems": 4,
    }
    strategy = _builder().arrays(schema)
    values = draws(strategy)
    assert values and all(v[0] == "a" and isinstance(v[1], bool) for v in values)
    assert all(3 <= len(v) <= 4 and all(x is None for x in v[2:]) for v in values)
    reaches(strategy, lambda v: len(v) == 4)
    short = _builder().arrays({"prefixItems": [{"const": 1}, {"const": 2}], "maxItems": 1})
    assert all(v == [1, 2] for v in draws(short, 10))
    unique = _builder().arrays(
        {"prefixItems": [{"enum": [1, 2]}], "items": {"enum": [1, 2]}, "uniqueItems": True}
    )
    assert all(len(set(v)) == len(v) for v in draws(unique, 60))
    reaches(unique, lambda v: len(v) == 2)


def test_objects_carry_their_required_members_and_maybe_the_others() -> None:
    schema = {
        "properties": {"a": {"const": 1}, "b": {"const": 2}},
        "required": ["a", "c"],
        "additionalProperties": {"const": 3},
    }
    strategy = _builder("multipart").objects(schema)
    values = draws(strategy)
    assert values and all(v["a"] == 1 and v["c"] == 3 for v in values)
    assert all(set(v) <= {"a", "b", "c"} for v in values)
    reaches(strategy, lambda v: "b" in v)
    reaches(strategy, lambda v: "b" not in v)


def test_records_maybe_carry_fields_they_do_not_declare_when_asked() -> None:
    record = {"properties": {"a": {"const": 1}}, "required": ["a"]}
    loose = _builder("json", extra=True).objects(record)
    reaches(loose, lambda v: {"x_extra", "vendor_meta"} <= set(v))
    assert all(set(v) <= {"a", "x_extra", "vendor_meta"} and v["a"] == 1 for v in draws(loose))
    clash = _builder("json", extra=True).objects({"properties": {"x_extra": {"const": 0}}})
    assert all(v.get("x_extra", 0) == 0 for v in draws(clash, 60))
    reaches(clash, lambda v: "vendor_meta" in v)
    for closed in (
        _builder("json", extra=False).objects(record),
        _builder("multipart", extra=True).objects(record),
        _builder("json", extra=True).objects({**record, "additionalProperties": False}),
        _builder("json", extra=True).objects({**record, "patternProperties": {"^z": {}}}),
    ):
        assert all(set(v) == {"a"} for v in draws(closed, 20))


def test_maps_and_free_form_objects_get_members_of_any_name() -> None:
    schema = {"properties": {"known": {"const": 0}}, "additionalProperties": {"type": "integer"}}
    strategy = _builder("json").objects(schema)
    values = draws(strategy, 60)
    assert all(all(isinstance(x, int) for x in v.values()) for v in values)
    assert all(v.get("known", 0) == 0 for v in values)
    found = reaches(strategy, lambda v: len(set(v) - {"known"}) >= 3)
    assert all(1 <= len(k) <= 12 for k in found)
    keys = {k for v in values for k in v} - {"known"}
    assert keys and all(1 <= len(k) <= 12 for k in keys)
    assert all(c.isascii() and (c.isalnum() or c == "_") for k in keys for c in k)
    reaches(strategy, lambda v: any(len(k) == 12 for k in v))
    reaches(strategy, lambda v: any(len(k) == 1 for k in v))
    free = _builder("json", extra=True).objects({})
    reaches(free, lambda v: len(v) == 3 and "x_extra" not in v)
    reaches(free, lambda v: any(isinstance(x, dict) for x in v.values()))
    assert all(len(v) <= 3 for v in draws(free, 60))


def test_any_value_is_any_json_or_text_outside_json() -> None:
    builder = _builder("json")
    any_json = builder.any_value()
    for kind in (type(None), bool, int, float, str, list, dict):
        reaches(any_json, lambda v, kind=kind: type(v) is kind)
    reaches(any_json, lambda v: isinstance(v, int) and abs(v) == 2**53)
    reaches(any_json, lambda v: isinstance(v, list) and len(v) == 3)
    values = draws(any_json, 60)
    assert all(len(v) <= 3 for v in values if isinstance(v, list | dict))
    assert all(abs(v) <= 2**53 for v in values if isinstance(v, int) and not isinstance(v, bool))
    assert all(v == v for v in values if isinstance(v, float))
    assert all(1 <= len(k) <= 12 for v in values if isinstance(v, dict) for k in v)
    assert all(isinstance(v, str) for v in draws(_builder("header").any_value()))
    header_text = draws(_builder("header").any_value())
    assert all(0x21 <= ord(c) <= 0x7E for v in header_text for c in v)
    reaches(any_json, lambda v: isinstance(v, int) and v < -1000)
    reaches(any_json, lambda v: isinstance(v, dict) and any(len(k) == 1 for k in v))
    assert all(
        c.isascii() and (c.isalnum() or c == "_")
        for v in values
        if isinstance(v, dict)
        for k in v
        for c in k
    )


def test_each_json_type_draws_its_kind() -> None:
    builder = _builder()
    kinds = {"null": type(None), "boolean": bool, "string": str, "array": list, "object": dict}
    for name, kind in kinds.items():
        assert all(type(v) is kind for v in draws(builder.typed(name, {}), 10)), name
    assert all(type(v) is int for v in draws(builder.typed("integer", {}), 10))
    assert all(type(v) in (int, float) for v in draws(builder.typed("number", {}), 10))
    with pytest.raises(ValueError, match="tiny: unknown JSON Schema type 'thing'"):
        builder.typed("thing", {})


def test_plain_schemas_offer_their_valid_examples_and_default() -> None:
    builder = _builder()
    strategy = builder.plain({"type": "string", "examples": ["ex@mple!"], "default": "d3f!"})
    reaches(strategy, lambda v: v == "ex@mple!", 60)
    reaches(strategy, lambda v: v == "d3f!", 60)
    bad = builder.plain(
        {"type": "string", "maxLength": 3, "examples": ["toolong"], "default": "no!!"}
    )
    assert all(len(v) <= 3 for v in draws(bad, 60))


def test_const_and_enum_keep_only_what_the_schema_allows() -> None:
    builder = _builder()
    assert draws(builder.plain({"const": "k"}), 3) == ["k"]
    assert builder.plain({"const": 1, "type": "string"}).is_empty
    assert set(draws(builder.plain({"enum": [1, "a", "b"], "type": "string"}), 30)) == {"a", "b"}
    assert builder.plain({"enum": [1], "type": "string"}).is_empty


def test_the_type_is_guessed_from_its_keywords_or_any() -> None:
    builder = _builder()
    assert all(isinstance(v, str) for v in draws(builder.plain({"minLength": 1})))
    assert all(type(v) in (int, float) for v in draws(builder.plain({"minimum": 1})))
    assert all(isinstance(v, list) for v in draws(builder.plain({"minItems": 1})))
    assert all(isinstance(v, dict) for v in draws(builder.plain({"required": []})))
    free = builder.plain({})
    for kind in (type(None), bool, int, str, list, dict):
        reaches(free, lambda v, kind=kind: type(v) is kind, 200)
    both = builder.plain({"type": ["integer", "number"], "maximum": 0})
    reaches(both, lambda v: isinstance(v, float))
    assert all(v <= 0 for v in draws(both))


def test_build_follows_combinators() -> None:
    builder = _builder()
    assert builder.build(False).is_empty
    reaches(builder.build(True), lambda v: isinstance(v, dict))
    with pytest.raises(TypeError, match="not a JSON Schema: 3"):
        builder.build(3)
    assert set(draws(builder.build({"$ref": "#/components/schemas/Small"}))) <= set(range(6))
    narrowed = builder.build({"$ref": "#/components/schemas/Small", "maximum": 1})
    assert set(draws(narrowed)) <= {0, 1}
    merged = builder.build({"allOf": [{"type": "integer"}, {"minimum": 3, "maximum": 4}]})
    assert set(draws(merged)) == {3, 4}
    negated = builder.build({"type": "integer", "minimum": 0, "maximum": 3, "not": {"const": 2}})
    assert set(draws(negated)) == {0, 1, 3}
    also = builder.build(
        {
            "type": "integer",
            "minimum": 0,
            "maximum": 3,
            _ALSO: [{"not": {"const": 1}}, {"not": {"const": 3}}],
        }
    )
    assert set(draws(also)) == {0, 2}


def test_a_reference_that_cannot_be_built_fails_each_time() -> None:
    builder = _builder()
    for _ in range(2):
        with pytest.raises(TypeError, match="not a JSON Schema"):
            builder.ref("#/components/schemas/Thing/required")


def test_any_of_draws_from_its_branches() -> None:
    assert set(draws(_builder().build({"anyOf": [{"const": 1}, {"const": 2}]}), 20)) == {1, 2}


def test_examples_are_offered_beside_generated_values() -> None:
    strategy = _builder().plain({"type": "integer", "minimum": 0, "examples": [7]})
    reaches(strategy, lambda v: v == 7)
    reaches(strategy, lambda v: v != 7)


def test_all_of_keeps_the_schemas_own_keywords() -> None:
    schema = {"minimum": 0, "maximum": 3, "allOf": [{"type": "integer"}]}
    assert set(draws(_builder().build(schema))) <= {0, 1, 2, 3}


def test_a_pattern_keeps_to_the_lengths_too() -> None:
    strategy = _builder().strings({"pattern": "^[ab]{0,6}$", "minLength": 3, "maxLength": 4})
    values = draws(strategy)
    assert values and all(3 <= len(v) <= 4 for v in values)


def test_a_recursive_schema_draws_nested_values() -> None:
    builder = _builder()
    strategy = builder.ref("#/components/schemas/Tree")
    assert builder.ref("#/components/schemas/Tree") is strategy
    reaches(strategy, lambda v: any(kid["kids"] for kid in v["kids"]))


def test_the_if_outcome_is_generated_not_waited_for() -> None:
    schema = {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string"}},
        "if": {"properties": {"code": {"const": "zz-special"}}},
        "then": {"required": ["extra"], "properties": {"extra": {"const": 1}}},
    }
    strategy = _builder("multipart").build(schema)
    found = reaches(strategy, lambda v: v["code"] == "zz-special", 100)
    assert found == {"code": "zz-special", "extra": 1}


def test_one_of_keeps_values_exactly_one_branch_accepts() -> None:
    builder = _builder()
    schema = {
        "type": "integer",
        "oneOf": [{"maximum": 5}, {"minimum": 0}],
        "minimum": -3,
        "maximum": 8,
    }
    values = set(draws(builder.build(schema), 60))
    assert values and values <= {-3, -2, -1, 6, 7, 8}
    reaches(builder.build(schema), lambda v: v == -3)
    reaches(builder.build(schema), lambda v: v == 8)
    one = builder.build({"oneOf": [{"const": 4}]})
    assert set(draws(one, 5)) == {4}
    any_of = builder.build(
        {"type": "integer", "anyOf": [{"maximum": 5}, {"minimum": 0}], "minimum": 0, "maximum": 2}
    )
    assert set(draws(any_of, 60)) == {0, 1, 2}


def test_if_then_else_draws_both_outcomes_each_with_its_branch() -> None:
    builder = _builder("multipart")
    schema = {
        "type": "object",
        "properties": {"model": {"enum": ["pro", "std"]}, "size": {"enum": ["big", "small"]}},
        "required": ["model", "size"],
        "if": {"properties": {"model": {"const": "pro"}}, "required": ["model"]},
        "then": {"properties": {"size": {"const": "big"}}},
        "else": {"properties": {"size": {"const": "small"}}},
    }
    strategy = builder.build(schema)
    values = draws(strategy, 60)
    assert values and all((v["model"] == "pro") == (v["size"] == "big") for v in values)
    reaches(strategy, lambda v: v["model"] == "std")
    reaches(strategy, lambda v: v["model"] == "pro")
    typed = builder.build(
        {
            "if": {"type": "integer"},
            "then": {"minimum": 5, "maximum": 6},
            "else": {"type": "boolean"},
        }
    )
    values = draws(typed, 60)
    assert all(v in (5, 6) or isinstance(v, bool) for v in values)
    reaches(typed, lambda v: v is True)
    reaches(typed, lambda v: v == 6 and not isinstance(v, bool))
    no_else = builder.build({"enum": [1, 2, 3], "if": {"const": 1}, "then": {"const": 1}})
    assert set(draws(no_else, 60)) == {1, 2, 3}
    no_then = builder.build(
        {
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"enum": [1, 2]}},
            "if": {"required": ["a"], "properties": {"a": {"const": 1}}},
        }
    )
    assert {v["a"] for v in draws(no_then, 60)} == {1, 2}


# ---------------------------------------------------------------------------- entry points


def test_from_schema_yields_only_valid_values_and_is_cached() -> None:
    contract = _contract()
    strategy = strategies.from_schema(contract, "#/components/schemas/Thing")
    assert strategies.from_schema(contract, "#/components/schemas/Thing") is strategy
    assert (
        strategies.from_schema(contract, "#/components/schemas/Thing", encoding="multipart")
        is not strategy
    )
    assert (
        strategies.from_schema(contract, "#/components/schemas/Thing", extra_properties=False)
        is not strategy
    )
    inline = {"$ref": "#/components/schemas/Small", "not": {"const": 0}}
    assert strategies.from_schema(contract, inline) is strategies.from_schema(
        contract, dict(inline)
    )
    assert draws(strategies.from_schema(contract, {"const": 1}), 2) == [1]
    assert draws(strategies.from_schema(contract, {"const": 2}), 2) == [2]
    assert set(draws(strategies.from_schema(contract, inline), 60)) == {1, 2, 3, 4, 5}
    values = draws(strategy)
    assert values and all(v["id"][0] == "t" and v["kind"] in "ab" for v in values)
    reaches(strategy, lambda v: "x_extra" in v)
    closed = strategies.from_schema(contract, "#/components/schemas/Thing", extra_properties=False)
    assert all(set(v) <= {"id", "kind", "n"} for v in draws(closed))
    binary = strategies.from_schema(
        contract, {"type": "string", "format": "binary", "minLength": 1}, encoding="multipart"
    )
    assert all(isinstance(v, bytes) for v in draws(binary, 10))


def test_from_schema_filters_what_the_generator_cannot_express() -> None:
    schema = {
        "type": "integer",
        "minimum": 0,
        "maximum": 9,
        "dependentRequired": {},
        "multipleOf": 1,
        "exclusiveMaximum": 9,
    }
    values = draws(strategies.from_schema(_contract(), schema))
    assert values and all(0 <= v <= 8 for v in values)


def test_response_bodies_follow_the_media_type() -> None:
    contract = _contract()
    things = draws(strategies.response_bodies(contract, "getThing"))
    assert things and all(v["kind"] in "ab" for v in things)
    reaches(strategies.response_bodies(contract, "getThing"), lambda v: "vendor_meta" in v)
    closed = draws(strategies.response_bodies(contract, "getThing", extra_properties=False))
    assert all(set(v) <= {"id", "kind", "n"} for v in closed)
    yaml_bodies = draws(strategies.response_bodies(contract, "getThing", 200, "application/yaml"))
    assert yaml_bodies and all(isinstance(v, dict) and v["kind"] in "ab" for v in yaml_bodies)
    reaches(
        strategies.response_bodies(contract, "getThing", 200, "application/yaml"),
        lambda v: "x_extra" in v,
    )
    closed_yaml = strategies.response_bodies(
        contract, "getThing", 200, "application/yaml", extra_properties=False
    )
    assert all(set(v) <= {"id", "kind", "n"} for v in draws(closed_yaml))
    assert draws(strategies.response_bodies(contract, "getThing", 404), 3) == [{"error": "bad"}]
    text = draws(strategies.response_bodies(contract, "getThing", 500, "text/plain"), 3)
    assert text == ["oops"]


def test_a_binary_body_is_bytes_and_never_empty() -> None:
    contract = _contract()
    video = strategies.response_bodies(contract, "getContent", 200, "video/mp4")
    values = draws(video)
    assert values and all(isinstance(v, bytes) and v for v in values)
    reaches(video, lambda v: len(v) == 1)
    raw = strategies.response_bodies(contract, "getContent", 200, "application/octet-stream")
    assert all(isinstance(v, bytes) and len(v) <= 256 for v in draws(raw, 60))
    reaches(raw, lambda v: v == b"")
    anything = strategies.response_bodies(contract, "getContent", 200, "application/problem+json")
    reaches(anything, lambda v: isinstance(v, dict))


def test_an_event_stream_of_data_lines_ends_with_its_terminator() -> None:
    strategy = strategies.response_bodies(_contract(), "stream", 200, "text/event-stream")
    values = draws(strategy)
    assert values
    for text in values:
        blocks = text.split("\n\n")
        assert blocks[-1] == "" and blocks[-2] == "data: [DONE]"
        for block in blocks[:-2]:
            assert json.loads(block.removeprefix("data: "))["d"] in ("x", "é")
        assert 1 <= len(blocks) - 2 <= 4
    reaches(strategy, lambda t: "é" in t)
    reaches(strategy, lambda t: t.count("data:") == 5)
    reaches(strategy, lambda t: t.count("data:") == 2)


def test_an_event_stream_of_events_puts_data_last_one_line_each() -> None:
    strategy = strategies.response_bodies(_contract(), "stream", 201, "text/event-stream")
    values = draws(strategy)
    assert values
    for text in values:
        assert text.endswith("\n\n")
        for block in text.split("\n\n")[:-1]:
            lines = block.split("\n")
            assert lines[-2:] == ["data: a b", "data: c"]
            assert "event: tick" in lines[:-2] and 'meta: ["é"]' in lines[:-2]
            assert set(lines[:-2]) <= {"event: tick", "id: 1", 'meta: ["é"]'}
        assert 1 <= text.count("event:") <= 4
    reaches(strategy, lambda t: "id: 1\ndata: a" in t)
    reaches(strategy, lambda t: t.count("event:") == 4)
    reaches(strategy, lambda t: t.count("event:") == 1)


def test_an_event_of_an_object_schema_without_properties_is_a_block_too() -> None:
    strategy = strategies.response_bodies(
        _contract(), "stream", 203, "text/event-stream; charset=utf-8"
    )
    values = draws(strategy, 10)
    assert values and all(set(v.split("\n\n")) == {"data: x", ""} for v in values)


def test_an_event_stream_whose_schema_is_a_string_is_a_string() -> None:
    values = draws(strategies.response_bodies(_contract(), "stream", 202, "text/event-stream"))
    assert values and all(isinstance(v, str) and v for v in values)
    reaches(
        strategies.response_bodies(_contract(), "stream", 202, "text/event-stream"),
        lambda v: len(v) == 1,
    )


def test_request_bodies_are_json_or_form_fields() -> None:
    contract = _contract()
    json_bodies = strategies.request_bodies(contract, "createThing")
    assert all(set(v) <= {"id", "kind", "n"} for v in draws(json_bodies))
    loose = strategies.request_bodies(contract, "createThing", extra_properties=True)
    reaches(loose, lambda v: "x_extra" in v)
    form = strategies.request_bodies(contract, "createThing", "multipart/form-data")
    values = draws(form)
    assert values and all(isinstance(v["file"], bytes) and 1 <= len(v["name"]) <= 3 for v in values)
    assert all(set(v) == {"file", "name"} for v in draws(form))
    urlencoded = strategies.request_bodies(
        contract, "createThing", "application/x-www-form-urlencoded"
    )
    assert all(isinstance(v["file"], bytes) for v in draws(urlencoded, 10))
    with pytest.raises(KeyError, match="tiny: getThing takes no request body"):
        strategies.request_bodies(contract, "getThing")


def test_responses_are_whole_httpx_responses() -> None:
    contract = _contract()
    strategy = strategies.responses(contract, "getThing", 200)
    values = draws(strategy)
    assert values
    for response in values:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json()["kind"] in "ab"
        int(response.headers["retry-after"])
        assert "x-free" in response.headers
        assert response.headers["x-request-id"]
        assert response.headers.get("x-flag", "true") in ("true", "false")
        assert response.request.method == "GET"
        url = str(response.request.url)
        assert url.startswith("http://localhost/v1/things/") and len(url.rsplit("/", 1)[1]) == 3
    reaches(strategy, lambda r: "x-flag" in r.headers)
    reaches(strategy, lambda r: "x-flag" not in r.headers)
    reaches(strategy, lambda r: "é" in r.content.decode() or "\\u" in r.content.decode(), 200)


def test_a_response_body_is_serialized_by_its_media_type() -> None:
    contract = _contract()
    yaml_response = draws(strategies.responses(contract, "getThing", 200, "application/yaml"), 5)
    assert all(r.headers["content-type"] == "application/yaml" for r in yaml_response)
    assert all(json.loads(r.content)["kind"] in "ab" for r in yaml_response)
    text = draws(strategies.responses(contract, "getThing", 503, "text/plain; charset=utf-8"), 3)
    assert {r.content for r in text} == {b"oops"}
    video = draws(strategies.responses(contract, "getContent", 200, base_url="http://h:1/"), 5)
    assert all(r.headers["content-type"] == "video/mp4" and r.content for r in video)
    assert all(str(r.request.url) == "http://h:1/v1/things/t1/content" for r in video)
    empty = draws(strategies.responses(contract, "createThing", 204), 3)
    assert all(r.content == b"" and "content-type" not in r.headers for r in empty)
    assert all(r.status_code == 204 and r.headers["x-count"] == "7" for r in empty)
    kept = draws(strategies.responses(contract, "getContent", base_url="http://h/apiX/"), 3)
    assert all(str(r.request.url) == "http://h/apiX/v1/things/t1/content" for r in kept)
    assert all(r.status_code == 200 for r in kept)
    assert all(r.request.method == "POST" for r in empty)
    chunks = draws(strategies.responses(contract, "stream", 200), 5)
    assert all(r.text.endswith("data: [DONE]\n\n") for r in chunks)
    assert any(
        "é" in r.content.decode("utf-8")
        for r in draws(strategies.responses(contract, "stream", 200), 60)
    )


def test_path_parameters_are_drawn_url_safe() -> None:
    values = draws(strategies.responses(_contract(), "getFile"), 30)
    names = [str(r.request.url).rsplit("/", 1)[1] for r in values]
    assert names and all(len(n) >= 8 for n in names)
    assert all(c.isascii() and (c.isalnum() or c in "_-") for n in names for c in n)


def test_a_response_may_carry_the_request_given() -> None:
    request = httpx.Request("GET", "http://x/v1/things/abc")
    values = draws(strategies.responses(_contract(), "getThing", 404, request=request), 3)
    assert all(r.request is request and r.status_code == 404 for r in values)
    assert all(r.json() == {"error": "bad"} for r in values)


def test_a_non_ascii_body_is_sent_as_utf8_not_escaped() -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["Err"]["properties"]["error"] = {"const": "é"}
    contract = Contract("tiny", Path("tiny.yaml"), spec, index_operations(spec, "tiny.yaml"))
    (response,) = draws(strategies.responses(contract, "getThing", 400), 1)
    assert response.content == '{"error": "é"}'.encode()


def test_bound_strategies_pass_their_arguments_on() -> None:
    bound = strategies.strategies_for(_contract())
    assert draws(bound.response_bodies("getThing", 404), 2) == [{"error": "bad"}]
    assert all(r.status_code == 200 for r in draws(bound.responses("getThing"), 2))
    binary = bound.from_schema({"type": "string", "format": "binary"}, encoding="multipart")
    assert all(isinstance(v, bytes) for v in draws(binary, 5))
    assert all(r.status_code == 404 for r in draws(bound.responses("getThing", 404), 2))
    assert all(
        r.headers["content-type"] == "application/yaml"
        for r in draws(bound.responses("getThing", 200, media_type="application/yaml"), 2)
    )
    form = draws(bound.request_bodies("createThing", media_type="multipart/form-data"), 3)
    assert all(isinstance(v["file"], bytes) for v in form)
    assert set(
        draws(bound.from_schema("#/components/schemas/Small", encoding="header"), 60)
    ) <= set(range(6))
    assert draws(bound.response_bodies("getThing", 500, media_type="text/plain"), 1) == ["oops"]
    closed = bound.response_bodies("getThing", extra_properties=False)
    assert all(set(v) <= {"id", "kind", "n"} for v in draws(closed))


def test_no_value_is_found_where_none_is_allowed() -> None:
    with pytest.raises(NoSuchExample):
        reaches(_builder().integers({"minimum": 0, "maximum": 2}), lambda v: v == 3, 50)
