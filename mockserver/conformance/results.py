"""What a verification run found: one :class:`Exchange` per request, grouped by operation,
and what kept the run from verifying (:class:`Blocker`)."""

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
    #: sent with the run's credentials (the free probe without them is not)
    authenticated: bool = False
    #: why the answer verifies nothing although one came (the credentials were rejected)
    unverified: str | None = None

    @property
    def verified(self) -> bool:
        """An answer came and was judged for what it is meant to check."""
        return self.error is None and self.unverified is None


#: exit code of a run that could not verify the provider (the other codes: verify_command)
EXIT_NOT_VERIFIED = 4


@dataclass
class Blocker:
    """Why (part of) a run could not verify the provider: a setup problem, not drift."""

    #: no-key, missing-dependency, credentials, unreachable, no-answer, nothing-checked
    kind: str
    reason: str


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
        """Exchanges that verify nothing: no answer, or the credentials were rejected."""
        return [x for x in self.exchanges if not x.verified]

    @property
    def outcome(self) -> str:
        """passed, failed (drift), error (could not run) or skipped (nothing sent)."""
        if not self.exchanges:
            return "skipped"
        if self.drift:
            return "failed"
        return "error" if self.errors else "passed"

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
    #: what kept the run from verifying the provider (setup problems, not drift)
    blockers: list[Blocker] = field(default_factory=list)

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
        return self.drift_count == 0 and self.error_count == 0 and not self.blockers

    def block(self, kind: str, reason: str) -> None:
        self.blockers.append(Blocker(kind, reason))

    def tally(self) -> Counter[str]:
        """Checks (one per operation of the contract) by outcome."""
        return Counter(o.outcome for o in self.operations.values())


class CreateCapReached(RuntimeError):
    """A paid request was about to be sent past ``--max-creates``: it was not sent."""
