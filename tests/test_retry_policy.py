"""The retry policy's reading of server hints, exactly (the flows that use it:
test_client_retries.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from sora_client._retry import RetryPolicy, poll_after, retry_after, server_hint


def answer(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), ("nan", None), ("inf", None)],
)
def test_retry_after_in_seconds(value: str, seconds: float | None) -> None:
    assert retry_after(answer(**{"Retry-After": value})) == seconds


def test_retry_after_as_an_http_date_is_the_time_left() -> None:
    # an hour ahead: the seconds left are about 3600 however long this line takes
    ahead = datetime.now(UTC) + timedelta(hours=1)
    left = retry_after(answer(**{"Retry-After": format_datetime(ahead, usegmt=True)}))
    assert left is not None and 3500 < left <= 3600
    # a date with no zone (`-0000`) is read as UTC, not as local time
    naive = format_datetime(ahead.replace(tzinfo=None))
    assert "-0000" in naive
    left = retry_after(answer(**{"Retry-After": naive}))
    assert left is not None and 3500 < left <= 3600
    past = datetime.now(UTC) - timedelta(hours=1)
    assert retry_after(answer(**{"Retry-After": format_datetime(past, usegmt=True)})) == 0.0
    assert retry_after(answer(**{"Retry-After": "next tuesday"})) is None
    assert retry_after(answer()) is None


@pytest.mark.parametrize(
    ("value", "seconds"), [("1500", 1.5), ("0", 0.0), ("-1", None), ("x", None), ("inf", None)]
)
def test_poll_after_in_milliseconds(value: str, seconds: float | None) -> None:
    assert poll_after(answer(**{"openai-poll-after-ms": value})) == seconds


def test_retry_after_wins_over_the_poll_hint() -> None:
    both = answer(**{"Retry-After": "3", "openai-poll-after-ms": "500"})
    assert server_hint(both) == 3.0
    assert server_hint(answer(**{"openai-poll-after-ms": "500"})) == 0.5
    assert server_hint(answer()) is None


def test_delay_honours_hints_up_to_max_hint_and_backs_off_without_one() -> None:
    policy = RetryPolicy(max_hint=60.0, rng=random.Random(1))
    assert policy.delay(0, answer(**{"Retry-After": "60"})) == 60.0  # the limit itself: waited
    assert policy.delay(0, answer(**{"Retry-After": "61"})) is None  # longer: given up
    for attempt in range(8):
        ceiling = min(policy.max_delay, policy.base_delay * 2**attempt)
        for response in (None, answer()):
            assert 0.0 <= policy.delay(attempt, response) <= ceiling  # type: ignore[operator]
    spread = {RetryPolicy(rng=random.Random(s)).backoff(3) for s in range(50)}
    assert len(spread) == 50 and max(spread) > 3.0  # full jitter over [0, 4]
