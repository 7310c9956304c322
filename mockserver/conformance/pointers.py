"""JSON pointers (RFC 6901) and path templates, as the contracts' links use them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote


def pointer_get(document: Any, pointer: str) -> Any:
    """Follow a JSON pointer (``/data/id``); raise KeyError when it leads nowhere."""
    node = document
    parts = pointer.split("/")[1:] if pointer else []
    for raw in parts:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(pointer)
    return node


def pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def fill_path(template: str, values: Mapping[str, Any]) -> str:
    return re.sub(
        r"\{([^}]+)\}", lambda m: quote(str(values.get(m.group(1), "")), safe=":@-._~"), template
    )
