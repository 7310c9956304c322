"""JSON pointers that search: where a client looks for a value in a job whose place is not
fixed (a declaration's ``job-places``, contracts/_declaration.py). ``/a/*/b`` takes ``b`` of
every entry of the list ``a``; ``/a/[type=video]/b`` of every entry whose ``type`` is
``video`` (``contracts._declaration.pick`` takes the first only)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any


def pick_all(body: Any, pointer: str) -> list[Any]:
    """Every value at ``pointer``: a step ``*`` takes each entry of a list, ``[key=value]``
    each entry whose ``key`` is ``value``; a step that does not fit leaves nothing."""
    nodes = [body]
    for step in [s for s in pointer.strip("/").split("/") if s]:
        match = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", step)
        found: list[Any] = []
        for node in nodes:
            if step == "*" or match:
                if isinstance(node, list):
                    found += [
                        x
                        for x in node
                        if not match or isinstance(x, Mapping) and str(x.get(match[1])) == match[2]
                    ]
            elif isinstance(node, Mapping) and step in node:
                found.append(node[step])
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                found.append(node[int(step)])
        nodes = [n for n in found if n is not None]
    return nodes


def first(body: Any, pointers: Iterable[str]) -> Any:
    """The first value the pointers find, in order, that is a number or a non-empty text
    (``job-places``); None when none does."""
    for pointer in pointers:
        for value in pick_all(body, pointer):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number or isinstance(value, str) and value:
                return value
    return None
