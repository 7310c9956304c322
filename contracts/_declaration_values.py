"""A declaration's templates filled in and its pointers followed: :func:`fill` (a job's,
an error's, a webhook's body from their values), :func:`error_values`, :func:`places` (where a
job template puts each value) and :func:`pick` (the value at a pointer of a body)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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


#: a compiled template: its filler, ``(values, status) -> the filled body``
Filler = Callable[[Mapping[str, Any], "str | None"], Any]


class Compiled:
    """A template compiled once (``compile_template``): ``fill(values, status)`` gives what
    :func:`fill` gives for it, without reading the template again; ``names`` are the values
    it may ask for (its references and ``x-if`` names), so a caller works out only those.
    A served poll fills its job template per answer: read once per declaration instead of per
    answer, the recursion and the type questions go (benchmarks/README.md)."""

    __slots__ = ("fill", "names")

    def __init__(self, fill: Filler, names: frozenset[str]) -> None:
        self.fill = fill
        self.names = names


def compile_template(template: Any) -> Compiled:
    """``template`` compiled: the same answers as ``fill(template, values, status)`` for
    every ``values`` and ``status`` (tests/test_compiled_templates.py draws both), as long as
    the template is not changed afterwards (a declaration's are not)."""
    names: set[str] = set()
    return Compiled(_compile(template, names), frozenset(names))


def _compile(template: Any, names: set[str]) -> Filler:
    kind = type(template)
    if kind is str or (kind is not dict and kind is not list and isinstance(template, str)):
        return _compile_text(template, names)
    if kind is dict or (kind is not list and isinstance(template, Mapping)):
        entries = [_compile_entry(key, value, names) for key, value in template.items()]
        if all(when is None and test is None for _, _, when, test, _ in entries):
            plain = [(key, filler) for key, filler, _, _, _ in entries]
            return lambda values, status: {key: f(values, status) for key, f in plain}

        def filled(values: Mapping[str, Any], status: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, filler, when, test, otherwise in entries:
                if when is not None:
                    if status in when:
                        out[key] = filler(values, status)
                    elif otherwise is not None:
                        out[key] = otherwise(values, status)
                    continue
                if test is not None and values[test] in (None, "", [], {}):
                    continue
                out[key] = filler(values, status)
            return out

        return filled
    if kind is list or isinstance(template, list):
        items = [_compile(item, names) for item in template]
        return lambda values, status: [f(values, status) for f in items]
    return lambda values, status: template


def _compile_entry(
    key: Any, value: Any, names: set[str]
) -> tuple[Any, Filler, Any, str | None, Filler | None]:
    """A mapping's entry: ``(key, filler, x-when statuses or None, x-if name or None,
    x-else's filler or None)``."""
    if type(value) is dict or (type(value) is not str and isinstance(value, Mapping)):
        if "x-when" in value:
            otherwise = _compile(value["x-else"], names) if "x-else" in value else None
            return key, _compile(value["x-value"], names), value["x-when"], None, otherwise
        if "x-if" in value:
            names.add(value["x-if"])
            return key, _compile(value["x-value"], names), None, value["x-if"], None
    return key, _compile(value, names), None, None, None


def _compile_text(template: str, names: set[str]) -> Filler:
    whole = _REF.fullmatch(template)
    if whole:
        name = whole.group(1)
        names.add(name)
        return lambda values, status: values[name]
    if "{" not in template:
        return lambda values, status: template
    # split into literal text and names: text at even places, names at odd
    pieces = _REF.split(template)
    names.update(pieces[1::2])

    def text(values: Mapping[str, Any], status: str | None) -> str:
        return "".join(
            [piece if i % 2 == 0 else str(values[piece]) for i, piece in enumerate(pieces)]
        )

    return text


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
