"""Sizes a create names in words: the ``size-fields`` of a declared create (GPTProto v3 says
``size: small`` and ``orientation: portrait`` where other APIs say ``720x1280``).

``size-fields`` maps each pixel size to the body fields that name it::

    size-fields:
      720x1280: {/size: small, /orientation: portrait}
      1280x720: {/size: small, /orientation: landscape}

The mock reads a create's size as the first entry whose fields all hold their values (a field
the body leaves out reads as its schema default); the client writes an entry's fields for a
pixel size (``sora_client/_providers/declared_sizes.py``). Checked at load: every entry names
the same fields, fields of the create's body, the create's ``fields.size`` among them, and
every declared model's sizes are entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts._pointers import pick_all

#: a size, ``WIDTHxHEIGHT`` (``fullmatch``: ``$`` would take a trailing line break); every
#: reader of sizes asks this one (the declaration, the size-fields table, a models file)
_SIZE = re.compile(r"[1-9][0-9]*x[1-9][0-9]*")
Table = Mapping[str, Mapping[str, Any]]


def read(reader: Any, raw: Mapping[str, Any], op_id: str, block: Mapping[str, Any]) -> Table:
    """The create's ``size-fields``, checked (``reader``: the declaration's reader)."""
    given = block.get("size-fields")
    where = f"/operations/{op_id}/size-fields"
    if given is None:
        return {}
    if not isinstance(given, Mapping) or not given:
        raise reader.fail(where, "a mapping of WIDTHxHEIGHT to the body fields naming it")
    names: set[str] | None = None
    seen: dict[tuple[Any, ...], str] = {}
    fields = reader._body_fields(op_id)
    for size, entry in given.items():
        at = f"{where}/{size}"
        if not isinstance(size, str) or not _SIZE.fullmatch(size):
            raise reader.fail(at, f"{size!r} is not WIDTHxHEIGHT")
        if not isinstance(entry, Mapping) or not entry:
            raise reader.fail(at, "a mapping of pointers into the body to values (/size: small)")
        for pointer, value in entry.items():
            if not isinstance(pointer, str) or not pointer.startswith("/"):
                raise reader.fail(at, f"{pointer!r} is not a JSON pointer (/size)")
            first = pointer.strip("/").split("/", 1)[0]
            if fields is not None and first not in fields:
                raise reader.fail(
                    at, f"the body of `{op_id}` has no `{first}`: use one of {', '.join(fields)}"
                )
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise reader.fail(f"{at}{pointer}", "the field's value (text or a number)")
        if names is not None and set(entry) != names:
            raise reader.fail(at, f"every size names the same fields: {', '.join(sorted(names))}")
        names = set(entry)
        words = tuple(entry[p] for p in sorted(entry))
        if words in seen:
            raise reader.fail(at, f"the same words as {seen[words]}: each size needs its own")
        seen[words] = size
    size_pointer = dict(block.get("fields") or {}).get("size")
    if names is not None and size_pointer not in names:
        raise reader.fail(
            where, f"the create's `fields.size` ({size_pointer}) must be one of the fields named"
        )
    for i, model in enumerate(raw.get("models") or []):
        sizes = model.get("sizes") if isinstance(model, Mapping) else None
        for size in sizes if isinstance(sizes, list) else []:
            if size not in given:
                raise reader.fail(f"/models/{i}/sizes", f"{size} has no entry in {where}")
    return {str(size): dict(entry) for size, entry in given.items()}


def size_of(table: Table, body: Any, defaults: Mapping[str, Any]) -> str | None:
    """The pixel size whose fields the body holds (an absent field reads as its default)."""
    for size, entry in table.items():
        if all(_value(body, pointer, defaults) == value for pointer, value in entry.items()):
            return size
    return None


def _value(body: Any, pointer: str, defaults: Mapping[str, Any]) -> Any:
    found = pick_all(body, pointer)
    return found[0] if found else defaults.get(pointer)


def defaults(contract: Any, schema: Any, table: Table) -> dict[str, Any]:
    """Each named field's schema default (``schema``: the create's body schema)."""
    pointers = {p for entry in table.values() for p in entry}
    found: dict[str, Any] = {}
    for pointer in pointers:
        node = _resolved(contract, schema)
        for step in [s for s in pointer.strip("/").split("/") if s]:
            node = _resolved(contract, dict(node.get("properties") or {}).get(step, {}))
        if "default" in node:
            found[pointer] = node["default"]
    return found


def _resolved(contract: Any, schema: Any) -> Mapping[str, Any]:
    while isinstance(schema, Mapping) and "$ref" in schema:
        schema = contract.resolve(schema["$ref"])
    return schema if isinstance(schema, Mapping) else {}


def pixels(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)
