"""A declaration's templates filled in and its pointers followed: :func:`fill` (a job's,
an error's, a webhook's body from their values), :func:`error_values`, :func:`places` (where a
job template puts each value) and :func:`pick` (the value at a pointer of a body)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts._declaration_types import _REF


def fill(template: Any, values: Mapping[str, Any], status: str | None = None) -> Any:
    """A template filled in: ``"{name}"`` alone is the value itself (typed), ``"a {name} b"``
    is text; ``{"x-when": [statuses], "x-value": ...}`` is left out unless ``status`` (the
    lifecycle's) is listed, or is ``x-else`` (when given) then."""
    # (a template is read from YAML: dicts, lists and strings, so the exact types are asked
    # first; an ABC's isinstance was a sixth of a declared poll's CPU)
    kind = type(template)
    if kind is str or (kind is not dict and kind is not list and isinstance(template, str)):
        whole = _REF.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        if "{" not in template:
            return template
        return _REF.sub(lambda m: str(values[m.group(1)]), template)
    if kind is dict or (kind is not list and isinstance(template, Mapping)):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if type(value) is dict or (type(value) is not str and isinstance(value, Mapping)):
                if "x-when" in value:
                    if status not in value["x-when"] and "x-else" not in value:
                        continue
                    value = value["x-value" if status in value["x-when"] else "x-else"]
                elif "x-if" in value:
                    if values[value["x-if"]] in (None, "", [], {}):
                        continue
                    value = value["x-value"]
            out[key] = fill(value, values, status)
        return out
    if kind is list or isinstance(template, list):
        return [fill(item, values, status) for item in template]
    return template


def error_values(status: int, message: str, code: str | None, param: str | None) -> dict[str, Any]:
    """The values an error template may use (``ERROR_VALUES``)."""
    prefixed = param and not message.startswith(param)
    return {
        "status": status,
        "message": message,
        "code": code,
        "param": param,
        "code_or_status": code or str(status),
        "param_message": f"{param}: {message}" if prefixed else message,
    }


_MISSING = object()


def pick(body: Any, pointer: str) -> Any:
    """The value at ``pointer`` (``/a/b``; a step ``[key=value]`` takes the first list entry
    whose ``key`` is ``value``), or None when any step is absent."""
    node = body
    for step in pointer.strip("/").split("/") if pointer.strip("/") else []:
        match = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", step)
        if match:
            if not isinstance(node, list):
                return None
            node = next(
                (x for x in node if isinstance(x, Mapping) and str(x.get(match[1])) == match[2]),
                None,
            )
        elif isinstance(node, Mapping):
            node = node.get(step, _MISSING)
            if node is _MISSING:
                return None
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
        if node is None:
            return None
    return node


def places(template: Any, at: str = "") -> dict[str, str]:
    """Where a job template puts each whole reference: ``{"job.id": "/id", ...}`` (a value of
    an ``x-when`` entry included; the first place of a reference wins)."""
    found: dict[str, str] = {}
    if isinstance(template, Mapping):
        for key, value in template.items():
            if isinstance(value, Mapping) and "x-when" in value:
                value = value["x-value"]
            for name, pointer in places(value, f"{at}/{key}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, list):
        for i, value in enumerate(template):
            for name, pointer in places(value, f"{at}/{i}").items():
                found.setdefault(name, pointer)
    elif isinstance(template, str):
        whole = _REF.fullmatch(template)
        if whole:
            found[whole.group(1)] = at
    return found
