"""Path, query and header parameters compiled from a contract: each with its validator, its
text coerced to the schema's type as openapi-core does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts._schemas import FastValidator, compile_schema, deref

if TYPE_CHECKING:
    from contracts._document import ContractDocument as Contract


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
