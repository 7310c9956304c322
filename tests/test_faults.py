"""Scenario parsing, the seeded random faults and the rate limiter's arithmetic, exactly (the
HTTP side of each is in test_mock_scenarios.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.state.clock import VirtualClock
from mockserver.state.faults import (
    RANDOM_FAULTS,
    SCENARIOS,
    RandomFaults,
    RateLimiter,
    Scenario,
    Selected,
    UnknownScenario,
    parse,
    retry_after_header,
)
from mockserver.state.store import MemoryStore, SQLiteStore


def clock() -> VirtualClock:
    return VirtualClock(MemoryStore(), 1000.0)


def faults(rate: float, seed: int) -> RandomFaults:
    """A fault stream with a fresh request counter of its own."""
    return RandomFaults(rate, seed, MemoryStore())


def limiter_on(per_minute: int, on: VirtualClock) -> RateLimiter:
    return RateLimiter(per_minute, on, MemoryStore())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rate_limited", Selected(Scenario.RATE_LIMITED, None, "header")),
        ("  Server_Error ", Selected(Scenario.SERVER_ERROR, None, "header")),
        (
            "generation_failed:003000097",
            Selected(Scenario.GENERATION_FAILED, "003000097", "header"),
        ),
        ("generation_failed: 42 ", Selected(Scenario.GENERATION_FAILED, "42", "header")),
        ("slow:", Selected(Scenario.SLOW, None, "header")),
    ],
)
def test_parse(value: str, expected: Selected) -> None:
    assert parse(value) == expected


def test_parse_keeps_the_source_and_names_every_known_scenario_when_it_fails() -> None:
    assert parse("slow", source="key").source == "key"
    with pytest.raises(UnknownScenario) as caught:
        parse("teapot:1")
    message = str(caught.value)
    assert "'teapot'" in message
    assert message.endswith("; known: " + ", ".join(s.value for s in Scenario))
    assert isinstance(caught.value, ValueError)


def test_every_scenario_has_a_spec_and_random_faults_are_transient() -> None:
    assert set(SCENARIOS) == set(Scenario)
    assert {SCENARIOS[s].status for s in RANDOM_FAULTS} == {429, 500}
    assert [s for s in Scenario if SCENARIOS[s].create_only] == [
        Scenario.CONTENT_POLICY,
        Scenario.GENERATION_FAILED,
        Scenario.MODEL_UNAVAILABLE,
    ]


def test_random_faults_follow_rate_and_seed() -> None:
    never = faults(0.0, seed=1)
    assert [never.draw() for _ in range(50)] == [None] * 50
    always = faults(1.0, seed=1)
    drawn = [always.draw() for _ in range(50)]
    assert all(d is not None and d.source == "random" and d.argument is None for d in drawn)
    assert {d.scenario for d in drawn if d} == set(RANDOM_FAULTS)

    def sequence(seed: int) -> list[Selected | None]:
        stream = faults(0.5, seed=seed)
        return [stream.draw() for _ in range(200)]

    first = sequence(3)
    assert first == sequence(3) != sequence(4)
    hits = sum(1 for d in first if d is not None)
    assert 70 < hits < 130  # about half


@pytest.mark.parametrize("rate", [-0.01, 1.01])
def test_a_fault_rate_outside_0_1_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match=r"^fault rate must be between 0 and 1$"):
        faults(rate, seed=0)


def test_a_draw_equal_to_the_rate_is_no_fault() -> None:
    """The rate is P(draw < rate): a draw exactly at the rate misses. The n-th request of
    the server draws from a generator seeded with (seed, n)."""
    first = random.Random("11:1").random()
    assert faults(first, seed=11).draw() is None
    assert faults(first + 1e-12, seed=11).draw() is not None


def test_a_restarted_stream_draws_what_a_fresh_one_draws() -> None:
    stream = faults(0.5, seed=3)
    for _ in range(5):
        stream.draw()
    assert stream.restart(0.5, 3) == (0.5, 3)
    fresh = faults(0.5, seed=3)
    assert [stream.draw() for _ in range(40)] == [fresh.draw() for _ in range(40)]


# (the fault stream shared by two workers, and a run-time setting: test_store_contract.py,
# against the three stores)


# (a restart keeps the setting and the place: test_store_contract.py, SQLite and Redis)


def test_sqlite_draws_at_rate_0_without_writing(tmp_path: Path) -> None:
    """Every request asks for a draw: with no fault rate in force it is a read alone (no
    write lock for every request of every worker)."""
    store = SQLiteStore(tmp_path / "faults.db")
    conn = store._conn()
    before = conn.total_changes
    assert store.faults_next(0.0, 7) is None
    store.faults_restart(0.0, 7)
    assert store.faults_next(0.5, 7) is None
    assert conn.total_changes == before + 1  # the restart alone


def test_rate_limiter_allows_a_burst_then_refills_one_token_at_a_time() -> None:
    c = clock()
    limiter = limiter_on(6, c)  # a token every 10 s
    assert [limiter.take("k") for _ in range(6)] == [0.0] * 6
    assert limiter.take("k") == pytest.approx(10.0)
    assert limiter.take("other") == 0.0  # buckets are per key
    c.advance(4)
    assert limiter.take("k") == pytest.approx(6.0)
    c.advance(6)
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(10.0)
    c.advance(1000)  # a long pause refills to the capacity, no more
    assert [limiter.take("k") for _ in range(6)] == [0.0] * 6
    assert limiter.take("k") > 0


def test_a_refused_request_does_not_spend_a_token() -> None:
    c = clock()
    limiter = limiter_on(60, c)  # a token a second
    for _ in range(60):
        limiter.take("k")
    for _ in range(5):
        assert limiter.take("k") == pytest.approx(1.0)
    c.advance(1)
    assert limiter.take("k") == 0.0


def test_a_rate_below_one_a_minute_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^rate limit must be at least 1 request per minute$"):
        limiter_on(0, clock())
    assert limiter_on(1, clock()).take("k") == 0.0


@given(st.floats(min_value=0.0, max_value=10_000.0, allow_nan=False))
def test_retry_after_rounds_up_and_is_at_least_one(seconds: float) -> None:
    waited = int(retry_after_header(seconds))
    # long enough (a client obeying it is not refused again), and not a second longer
    assert waited >= seconds and waited >= 1
    assert waited - seconds < 1 or waited == 1


@pytest.mark.parametrize(("seconds", "header"), [(0, "1"), (0.2, "1"), (1.0, "1"), (8.57, "9")])
def test_retry_after_examples(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
