"""What a verification run found: one :class:`Exchange` per request, grouped by operation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from contracts import Contract, Operation


@dataclass
class Drift:
    """One thing the provider answered that the contract does not allow."""

    where: str  # JSON pointer, "header X", "status code", "SSE event N /pointer", ...
    message: str


@dataclass
class Exchange:
    """One request sent and what came back."""

    kind: str
    method: str
    url: str
    status: int | None = None
    seconds: float = 0.0
    content_type: str = ""
    problems: list[Drift] = field(default_factory=list)
    error: str | None = None
    excerpt: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class OperationResult:
    operation: Operation
    exchanges: list[Exchange] = field(default_factory=list)
    not_sent: str | None = None

    @property
    def drift(self) -> list[tuple[Exchange, Drift]]:
        return [(x, p) for x in self.exchanges for p in x.problems]

    @property
    def errors(self) -> list[Exchange]:
        return [x for x in self.exchanges if x.error]

    @property
    def statuses(self) -> Counter[str]:
        return Counter(
            str(x.status) if x.status is not None else "no answer" for x in self.exchanges
        )


@dataclass
class RunResult:
    provider: str
    contract: Contract
    base_url: str
    max_creates: int
    started: str
    operations: dict[str, OperationResult]
    seconds: float = 0.0
    creates_sent: int = 0
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    #: models the provider answered "model not found" for: retired, not drift
    retired_models: list[str] = field(default_factory=list)

    @property
    def drift_count(self) -> int:
        return sum(len(o.drift) for o in self.operations.values())

    @property
    def error_count(self) -> int:
        return sum(len(o.errors) for o in self.operations.values())

    @property
    def requests(self) -> int:
        return sum(len(o.exchanges) for o in self.operations.values())

    @property
    def ok(self) -> bool:
        return self.drift_count == 0 and self.error_count == 0


class CreateCapReached(RuntimeError):
    """A paid request was about to be sent past ``--max-creates``: it was not sent."""
