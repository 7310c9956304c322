"""A contract as data: its document, its operations, pointers into it (no validator).

The layer every other module of ``contracts`` stands on: the validators (``_compiled``,
``_validation``) read a :class:`ContractDocument`; the loader builds the :class:`Contract`
that adds their methods to it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractError(Exception):
    """A contract file is unreadable, invalid, or refers to something that does not exist."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        self.path = Path(path)
        self.where = where
        self.message = message
        super().__init__(f"{self.path.name}: at {where or '/'}: {message}")


@dataclass(frozen=True)
class Operation:
    """One operation of a contract: its id, method, path template and raw definition."""

    operation_id: str
    method: str
    path: str
    definition: Mapping[str, Any]
    tags: tuple[str, ...]

    @property
    def documented(self) -> bool:
        """True when the provider document prints this operation (not OpenAI-standard only)."""
        return "documented" in self.tags

    def matches(self, path: str) -> bool:
        """True when a concrete path fits this operation's template."""
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.path))
        return re.fullmatch(pattern, path) is not None

    @property
    def flask_rule(self) -> str:
        """The path template in Flask's syntax: ``/v1/videos/<video_id>``."""
        return re.sub(r"\{([^}]+)\}", r"<\1>", self.path)


@dataclass
class ContractDocument:
    """A checked contract's document and operations: what every validator reads.

    :class:`contracts.Contract` adds the validation methods on top (``contracts._loader``);
    the validators take this base, so none of them imports the loader."""

    name: str
    path: Path
    spec: dict[str, Any]
    operations: dict[str, Operation] = field(default_factory=dict)
    #: validators built on first use, kept for the life of the contract (see _validation)
    validators: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def provider(self) -> str:
        return str(self.spec["info"].get("x-provider", self.name))

    @property
    def security_schemes(self) -> dict[str, Any]:
        return dict(self.spec.get("components", {}).get("securitySchemes", {}))

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            raise KeyError(f"{self.path.name} has no operation {operation_id!r}") from None

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The operation a concrete request path and method belong to, if any."""
        for op in self.operations.values():
            if op.method == method.lower() and op.matches(path):
                return op
        return None

    def resolve(self, pointer: str) -> Any:
        """Follow a local JSON pointer (``#/components/schemas/Video``)."""
        return resolve_pointer(self.spec, pointer, self.path)

    # what the validators read of a contract and contracts.Contract builds (its methods
    # import the validators, which read this class: so they are declared here, made there)
    @property
    def openapi(self) -> Any:
        """The openapi-core ``OpenAPI`` object: built by :class:`contracts.Contract`."""
        raise NotImplementedError

    def schema_validator(self, pointer: str) -> Any:
        """A validator for one schema of this contract: built by :class:`contracts.Contract`."""
        raise NotImplementedError


def resolve_pointer(document: Any, pointer: str, path: Path | str = "<contract>") -> Any:
    if not pointer.startswith("#"):
        raise ContractError(path, pointer, "only local references (#/...) are supported")
    node = document
    for raw in [p for p in pointer[1:].split("/") if p]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ContractError(path, pointer, f"$ref target does not exist (no {part!r})")
    return node
