"""Per-contract state of the strategies: a registry of the contract's schemas (its `$ref`s
rewritten to resolve there), the validators every generated value is checked with, and the
strategies already built."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis.strategies import SearchStrategy
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contracts._loader import Contract

#: Conjuncts the merge could not combine: the value must also satisfy each (checked by filter).
_ALSO = "x-strategies-also"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _is_json(media_type: str) -> bool:
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


@dataclass
class _ContractState:
    """Per-contract caches: validators and built strategies."""

    contract: Contract
    registry: Registry[Any]
    uri: str
    validators: dict[str, Draft202012Validator]
    strategies: dict[tuple[str, str, bool], SearchStrategy[Any]]


_STATES: dict[int, _ContractState] = {}


def _state(contract: Contract) -> _ContractState:
    state = _STATES.get(id(contract))
    if state is None or state.contract is not contract:
        uri = f"urn:sora-mock:strategies:{contract.name}:{id(contract)}"
        resource: Resource[Any] = Resource.from_contents(
            contract.spec, default_specification=DRAFT202012
        )
        registry: Registry[Any] = Registry().with_resource(uri, resource)
        state = _ContractState(contract, registry, uri, {}, {})
        _STATES[id(contract)] = state
    return state


_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "example"})


_NAMING_KEYWORDS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)


def _rewrite_refs(node: Any, uri: str, names: bool = False) -> Any:
    """Point a detached schema's local ``$ref``s at the contract document. ``names``: the
    keys of ``node`` are property names, not keywords."""
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if names:
                out[key] = _rewrite_refs(value, uri)
            elif key == "$ref" and isinstance(value, str) and value.startswith("#"):
                out[key] = uri + value
            elif key in _DATA_KEYWORDS:
                out[key] = value
            else:
                out[key] = _rewrite_refs(value, uri, key in _NAMING_KEYWORDS)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, uri) for v in node]
    return node


def _validator_for(contract: Contract, schema: Any) -> Draft202012Validator:
    """A validator for a detached schema (or a ``#/...`` pointer) of ``contract``."""
    state = _state(contract)
    key = schema if isinstance(schema, str) else _canonical(schema)
    validator = state.validators.get(key)
    if validator is None:
        if isinstance(schema, str):
            validator = contract.schema_validator(schema)
        else:
            if isinstance(schema, Mapping):
                schema = {k: v for k, v in schema.items() if k != _ALSO}
            validator = Draft202012Validator(
                _rewrite_refs(schema, state.uri), registry=state.registry
            )
        state.validators[key] = validator
    return validator
