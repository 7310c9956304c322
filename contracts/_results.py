"""What a contract check answers: the problems found (each naming its field), the violation
that carries them, and the parts of a request or response that passed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Problem:
    """One reason a message breaks its contract.

    ``kind`` is one of: ``route`` (no such path or method), ``security``, ``media_type``,
    ``body`` (missing or invalid body), ``parameter``, ``response``.
    """

    kind: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ContractViolation(Exception):
    """A request or response the contract does not allow."""

    contract: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.contract}: " + "; ".join(str(p) for p in self.problems)

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


@dataclass
class Parameters:
    """The typed parameters of a request, by location (as openapi-core's ``Parameters``)."""

    query: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    cookie: dict[str, Any] = field(default_factory=dict)
    path: dict[str, Any] = field(default_factory=dict)


@dataclass
class RequestResult:
    """What a valid request carries: its operation, body (defaults filled in) and parameters."""

    operation_id: str
    body: Any = None
    parameters: Parameters = field(default_factory=Parameters)
    security: dict[str, Any] | None = None
    errors: list[Exception] = field(default_factory=list)


@dataclass
class ResponseResult:
    """A valid response: its decoded body and the declared headers it carries."""

    data: Any = None
    headers: dict[str, Any] = field(default_factory=dict)
    errors: list[Exception] = field(default_factory=list)


_REQUIRED = re.compile(r"'([^']+)' is a required property")


def schema_problems(kind: str, errors: Iterable[Any]) -> list[Problem]:
    """JSON Schema errors as problems, each naming the dotted path of the field at fault."""
    problems: list[Problem] = []
    for err in errors:
        path = [str(p) for p in getattr(err, "path", ())]
        message = getattr(err, "message", str(err))
        if getattr(err, "validator", None) == "required":
            missing = _REQUIRED.search(message)
            if missing:
                path.append(missing.group(1))
        if getattr(err, "validator", None) in {"oneOf", "anyOf"} and getattr(err, "context", None):
            problems.extend(schema_problems(kind, err.context[:3]))
            continue
        if len(message) > 300:
            message = message[:300] + "..."
        problems.append(Problem(kind, ".".join(path) or None, message))
    return problems
