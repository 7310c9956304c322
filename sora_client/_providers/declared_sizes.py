"""The client's side of a create whose sizes are named in words (a declaration's
``size-fields``, contracts/_named_sizes.py), and the order of a declared create's fields.

A neutral size the table names (``1280x720``) becomes its entry's fields (``size: small``,
``orientation: landscape``); a field of the entry given in ``extra`` must agree with it (else
an InvalidRequestError naming the field). Any other size is sent as given at ``fields.size``,
with the entry's other fields from ``extra``. With no size, an image whose pixels the table
names picks that entry; other pixels pick the first entry agreeing with ``extra``, of the
image's orientation when there is one (a square counts as tall); with no size and no pixels,
the size field's schema default is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import _named_sizes
from sora_client._exceptions import InvalidRequestError


def _top(pointer: str) -> str:
    return pointer.strip("/").split("/", 1)[0]


def named_fields(
    adapter: Any, table: _named_sizes.Table, size_pointer: str, spec: Any, default: Any
) -> dict[str, Any]:
    """pointer -> value: the fields that name the create's size (``default``: the schema's
    default of the size field)."""
    pointers = [p for p in next(iter(table.values())) if p != size_pointer]
    given = {p: spec.extra[_top(p)] for p in pointers if _top(p) in spec.extra}
    if spec.size in table:
        entry = table[spec.size]
        for pointer, value in given.items():
            if value != entry[pointer]:
                raise InvalidRequestError(
                    adapter.name,
                    _top(pointer),
                    f"{value!r} contradicts size {spec.size} ({entry[pointer]})",
                )
        return dict(entry)
    if spec.size is not None:
        return {size_pointer: spec.size, **given}
    pixels = spec.image.size if spec.image is not None else None
    if pixels is not None:
        width, height = pixels
        if f"{width}x{height}" in table:
            return dict(table[f"{width}x{height}"])
        agreeing = [
            s for s, entry in table.items() if all(entry[p] == v for p, v in given.items())
        ] or list(table)
        wide = width > height
        chosen = next(
            (s for s in agreeing if _wide(s) == wide),
            agreeing[0],
        )
        return dict(table[chosen])
    return ({size_pointer: default} if default is not None else {}) | given


def _wide(size: str) -> bool:
    width, height = _named_sizes.pixels(size)
    return width > height


def left_out(table: _named_sizes.Table, size_pointer: str) -> set[str]:
    """The ``extra`` names the size's fields already took (not sent again from ``extra``)."""
    return {_top(p) for entry in table.values() for p in entry if p != size_pointer}


def in_schema_order(body: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The body's fields in the order the create's schema lists them, others after (as put)."""
    order = {name: i for i, name in enumerate(dict(schema.get("properties") or {}))}
    ranked = sorted(enumerate(body), key=lambda item: (order.get(item[1], len(order)), item[0]))
    return {key: body[key] for _, key in ranked}
