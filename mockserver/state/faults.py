"""Scenarios (every documented error, on demand) and the per-key rate limit.

A scenario reaches a request four ways, first match wins: the ``X-Mock-Scenario`` header, a
rule for the request's API key, a global rule (both set through the admin API or
``--scenario``; among rules of one level the newest wins), and a seeded random fault rate.
Dialects only translate a scenario into their provider's words; which scenario applies is
decided here, once for every provider.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from mockserver.state.clock import Clock


class Scenario(StrEnum):
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONTENT_POLICY = "content_policy"
    GENERATION_FAILED = "generation_failed"
    SLOW = "slow"
    #: the model asked for is gone (retired): each provider's own "model not found"
    MODEL_UNAVAILABLE = "model_unavailable"


@dataclass(frozen=True)
class ScenarioSpec:
    """What a scenario does: the HTTP status it answers with, and when it applies."""

    status: int | None
    #: applies only to operations that create a job
    create_only: bool
    message: str


SCENARIOS: dict[Scenario, ScenarioSpec] = {
    Scenario.UNAUTHORIZED: ScenarioSpec(
        401, False, "Invalid signature: API key is missing or invalid"
    ),
    Scenario.FORBIDDEN: ScenarioSpec(
        403, False, "Your API key does not have permission to access this resource"
    ),
    Scenario.INSUFFICIENT_BALANCE: ScenarioSpec(
        403, False, "Insufficient balance for the requested operation"
    ),
    Scenario.RATE_LIMITED: ScenarioSpec(429, False, "You have exceeded your rate limit"),
    Scenario.SERVER_ERROR: ScenarioSpec(500, False, "An internal server error occurred"),
    Scenario.CONTENT_POLICY: ScenarioSpec(400, True, "Content blocked due to safety concerns"),
    Scenario.GENERATION_FAILED: ScenarioSpec(None, True, "The video generation failed"),
    Scenario.SLOW: ScenarioSpec(None, False, "slow response"),
    # the status is the provider's (a dialect's `model_unavailable`): 404 or 503
    Scenario.MODEL_UNAVAILABLE: ScenarioSpec(None, True, "model not found"),
}

#: the scenarios a random fault rate draws from: transient ones a client should retry
RANDOM_FAULTS = (Scenario.RATE_LIMITED, Scenario.SERVER_ERROR)


@dataclass(frozen=True)
class Selected:
    scenario: Scenario
    #: optional argument: `generation_failed:003000097` picks the provider code
    argument: str | None
    #: where it came from: "header" (X-Mock-Scenario), "rule" (a key's or the global
    #: rule) or "random" (the seeded fault stream)
    source: str


class UnknownScenario(ValueError):
    pass


def parse(value: str, source: str = "header") -> Selected:
    name, _, argument = value.strip().partition(":")
    try:
        scenario = Scenario(name.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        raise UnknownScenario(f"unknown scenario {name!r}; known: {known}") from None
    return Selected(scenario, argument.strip() or None, source)


class RandomFaults:
    """The seeded fault stream: the same seed and the same requests in the same order give the
    same faults.

    The n-th request to draw since the stream (re)started draws from a generator seeded with
    ``(seed, n)``. The rate, the seed and n live together in the store, so every worker (and
    every server on one Redis) draws from one stream, and a change made through one worker
    holds for the very next request, whichever worker answers it. The rate and seed given
    here (``--fault-rate``, ``--fault-seed``) are in force until one is set at run time
    (:meth:`restart`), and again after a reset of the store.
    """

    def __init__(self, rate: float, seed: int, stream: FaultStream) -> None:
        self.rate = check_rate(rate)
        self.seed = seed
        self._stream = stream

    def draw(self) -> Selected | None:
        taken = self._stream.faults_next(self.rate, self.seed)
        return None if taken is None else fault_at(*taken)

    def setting(self) -> tuple[float, int]:
        """The rate and seed in force."""
        return self._stream.faults_setting() or (self.rate, self.seed)

    def restart(self, rate: float, seed: int | None = None) -> tuple[float, int]:
        """Set the rate and seed (``None``: the seed in force) and start the stream again from
        its first draw, even when both are as they were. Returns the setting now in force."""
        rate = check_rate(rate)
        if seed is None:
            seed = self.setting()[1]
        self._stream.faults_restart(rate, seed)
        return rate, seed


def check_rate(rate: float) -> float:
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError("fault rate must be between 0 and 1")
    return rate


def fault_at(rate: float, seed: int, n: int) -> Selected | None:
    """What the n-th draw of the stream seeded with ``seed`` gives at ``rate``."""
    rng = random.Random(f"{seed}:{n}")
    if rng.random() >= rate:
        return None
    return Selected(rng.choice(RANDOM_FAULTS), None, "random")


class RateLimiter:
    """A token bucket per API key, on the mock's clock (so a virtual clock refills it too).

    Buckets live in the store: a key's budget is per server, however many workers it has.
    """

    def __init__(self, per_minute: int, clock: Clock, buckets: Buckets) -> None:
        if per_minute < 1:
            raise ValueError("rate limit must be at least 1 request per minute")
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self._clock = clock
        self._buckets = buckets

    def take(self, key: str) -> float:
        """Take a token; return 0 if allowed, else the seconds until one is available."""
        return self._buckets.take_token(
            key, self.capacity, self.refill_per_second, self._clock.now()
        )


class FaultStream(Protocol):
    """Where the fault stream lives (the store)."""

    def faults_setting(self) -> tuple[float, int] | None:
        """The rate and seed set at run time, or None (the start-up ones are in force)."""
        ...

    def faults_restart(self, rate: float, seed: int) -> None:
        """Set the rate and seed, and start the stream again: the next draw is the first."""
        ...

    def faults_next(self, rate: float, seed: int) -> tuple[float, int, int] | None:
        """The setting in force (the one set at run time, else ``rate`` and ``seed``) and,
        unless its rate is 0 (then None, and nothing is drawn), the next draw's number
        (from 1), in one atomic step."""
        ...


class Buckets(Protocol):
    def take_token(self, key: str, capacity: float, per_second: float, now: float) -> float: ...


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
