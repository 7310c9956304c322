"""Server-sent event streams against a contract's ``text/event-stream`` media type.

OpenAPI 3.1 tools (schemathesis among them) read that media type's ``schema`` as the schema
of ONE event (``{data, event?, id?}``); ``data`` is either a string ``const`` terminator such
as ``[DONE]`` or a JSON document described by ``contentMediaType``/``contentSchema``.
openapi-core reads it as the whole body instead, so streams are checked here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts._document import ContractDocument as Contract


def iter_events(text: str) -> Iterator[dict[str, str]]:
    """Events of a stream: field -> value, ``data`` lines joined by newlines; comments skipped."""
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line:
            block.append(line)
            continue
        event = sse_event(block)
        block = []
        if event is not None:
            yield event


def sse_event(block: Iterable[str]) -> dict[str, str] | None:
    """One server-sent event from its lines, or None for a block of comments only."""
    event: dict[str, str] = {}
    for line in block:
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        event[name] = f"{event[name]}\n{value}" if name in event else value
    return event or None


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class EventStreamChecker:
    """Checks events one by one against a ``text/event-stream`` media type object."""

    def __init__(self, contract: Contract, media: Mapping[str, Any]) -> None:
        self.contract = contract
        self.event_validator: Any = None
        self.content_validators: list[Any] = []
        self.terminator: str | None = None
        if "schema" in media:
            self.event_validator = self._validator(media["schema"])
            event_schema = self._resolve(media["schema"])
            data = self._resolve(event_schema.get("properties", {}).get("data"))
            for branch in [data, *data.get("anyOf", []), *data.get("oneOf", [])]:
                branch = self._resolve(branch)
                if isinstance(branch.get("const"), str):
                    self.terminator = branch["const"]
                if "contentSchema" in branch:
                    self.content_validators.append(self._validator(branch["contentSchema"]))

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            node = self.contract.resolve(node["$ref"])
        return node if isinstance(node, Mapping) else {}

    def _validator(self, schema: Any) -> Any:
        if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            return self.contract.schema_validator(schema["$ref"])
        from jsonschema import Draft202012Validator

        return Draft202012Validator(schema)

    def check(self, event: Mapping[str, str]) -> tuple[list[tuple[str, str]], bool]:
        """(problems as (JSON pointer, message), True when the event ends the stream)."""
        problems: list[tuple[str, str]] = []
        data = event.get("data")
        if self.event_validator is not None:
            for err in self.event_validator.iter_errors(dict(event)):
                problems.append((_pointer(err.absolute_path) or "/", err.message))
        if data is not None and data == self.terminator:
            return problems, True
        if data is None or not self.content_validators:
            return problems, False
        try:
            document = json.loads(data)
        except ValueError:
            return [*problems, ("/data", f"not JSON: {data[:80]!r}")], False
        errors = [list(v.iter_errors(document)) for v in self.content_validators]
        if all(errors):
            for err in errors[0]:
                problems.append(("/data" + _pointer(err.absolute_path), err.message))
        return problems, False

    def check_stream(self, text: str) -> list[tuple[str, str]]:
        """Every problem of a whole stream, each pointer prefixed with the event's index; a
        stream that has a terminator in its contract must end with it."""
        problems: list[tuple[str, str]] = []
        ended = False
        for index, event in enumerate(iter_events(text)):
            if ended:
                problems.append((f"/{index}", "event after the stream's terminator"))
            found, ended = self.check(event)
            problems.extend((f"/{index}{where}", message) for where, message in found)
        if self.terminator is not None and not ended:
            problems.append(("/", f"the stream does not end with {self.terminator!r}"))
        return problems
