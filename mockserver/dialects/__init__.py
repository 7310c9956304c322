"""One module per provider dialect. ``registered()`` imports them all, which registers them."""

from __future__ import annotations

import importlib

from mockserver.dialects.base import DIALECTS, Context, Dialect, handles, register

MODULES = ("gptproto_chat",)


def registered() -> dict[str, type[Dialect]]:
    """Every dialect: the Python ones (``MODULES``) and one per declared contract
    (``mockserver.dialects.declared``)."""
    from mockserver.dialects.declared import declared

    for module in MODULES:
        importlib.import_module(f"mockserver.dialects.{module}")
    found: dict[str, type[Dialect]] = dict(DIALECTS)
    for name, cls in declared().items():  # at its `list-order` (GPTProto v3 first), else last
        items, at = list(found.items()), cls.declaration.list_order
        items.insert(len(items) if at is None else at, (name, cls))
        found = dict(items)
    return found


__all__ = ["DIALECTS", "Context", "Dialect", "handles", "register", "registered"]
