"""One module per provider dialect. ``registered()`` imports them all, which registers them."""

from __future__ import annotations

import importlib

from mockserver.dialects.base import DIALECTS, Context, Dialect, handles, register

MODULES = ("gptproto_chat",)


def registered() -> dict[str, type[Dialect]]:
    """Every dialect: the Python ones (``MODULES``) and one per declared contract
    (``mockserver.dialects.declared``)."""
    from contracts._declaration_registry import place
    from mockserver.dialects.declared import declared

    for module in MODULES:
        importlib.import_module(f"mockserver.dialects.{module}")
    items: list[tuple[str, type[Dialect]]] = list(DIALECTS.items())
    orders: dict[str, int] = {}
    for name, cls in declared().items():  # at its `list-order` (GPTProto v3 first), else last
        place(items, (name, cls), cls.declaration.list_order, orders)
    return dict(items)


__all__ = ["DIALECTS", "Context", "Dialect", "handles", "register", "registered"]
