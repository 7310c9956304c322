"""A create's JSON body built from a declaration by the client's rules (the dashboard's form
and snippets use it): each value where the declaration's ``fields`` point, the objects and list
entries on the way built, the required ``const`` properties filled in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts._declaration_types import Declaration
from contracts._loader import Contract


def create_body(
    contract: Contract, declaration: Declaration, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A create's JSON body: each of ``values`` (``model``, ``prompt``, ``seconds``, ``size``,
    ``image``) put where the declaration's ``fields`` point, the objects and list entries on the
    way built, and every required property the schema fixes with a ``const`` filled in
    (``type: image_url``): what a client sends (the dashboard's form and snippets use it)."""
    role = declaration.role("create")
    assert role is not None  # a declaration has exactly one create (checked at load)
    fields = role.fields
    definition = contract.operation(role.operation_id).definition
    content = definition.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    body: dict[str, Any] = {}
    for name, value in values.items():
        if name in fields:
            _put(contract, body, schema, fields[name], value)
    return body


def _resolved(contract: Contract, schema: Any) -> Any:
    while isinstance(schema, Mapping) and "$ref" in schema:
        schema = contract.resolve(schema["$ref"])
    return schema if isinstance(schema, Mapping) else {}


def _put(contract: Contract, body: dict[str, Any], schema: Any, pointer: str, value: Any) -> None:
    steps = [s for s in pointer.strip("/").split("/") if s]
    node: Any = body
    schema = _resolved(contract, schema)
    for i, step in enumerate(steps):
        select = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", step)
        if select:
            key, wanted = select.groups()
            schema = _resolved(contract, schema.get("items", {}))
            entry = next((x for x in node if x.get(key) == wanted), None)
            if entry is None:
                entry = {key: wanted}
                _fill_consts(contract, entry, schema)
                node.append(entry)
            node = entry
            continue
        if step.isdigit() and isinstance(node, list):  # a list entry by its index: /images/0
            node[int(step) : int(step) + 1] = [value]
            return
        child = _resolved(contract, schema.get("properties", {}).get(step, {}))
        if i == len(steps) - 1:
            node[step] = value
            return
        is_list = steps[i + 1].isdigit() or re.fullmatch(r"\[[^=\]]+=[^\]]*\]", steps[i + 1])
        if step not in node:
            node[step] = [] if is_list else {}
            if not is_list:
                _fill_consts(contract, node[step], child)
        node, schema = node[step], child


def _fill_consts(contract: Contract, entry: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for name in schema.get("required", []):
        prop = _resolved(contract, schema.get("properties", {}).get(name, {}))
        if name not in entry and "const" in prop:
            entry[name] = prop["const"]
