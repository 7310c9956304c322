"""When to retry, and how long to wait: the policy, with no I/O.

Reads (status polls, downloads) are idempotent: they are retried on 429, on 5xx and on any
transport failure. A create costs money: it is retried only when the request provably never
reached the server (connect failure) or the server refused it before accepting it (429).
Anything else after the request left (a read timeout, a broken connection, a 5xx) is
ambiguous and never retried (:class:`~sora_client.AmbiguousCreateError`).

The delay before retry ``n`` (0-based) is the server's hint when it gives one
(``Retry-After`` in seconds or as an HTTP date, else ``openai-poll-after-ms``), otherwise
exponential backoff with full jitter: ``uniform(0, min(max_delay, base * 2**n))``. A server
hint longer than ``max_hint`` is not waited out: the error is raised with its hint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: the longest server-requested wait honoured without giving up
    max_hint: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform over [0, min(max_delay, base * 2**attempt)]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt, 30)))
        return self.rng.uniform(0.0, ceiling)

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the hint is too long."""
        hint = server_hint(response) if response is not None else None
        if hint is None:
            return self.backoff(attempt)
        if hint > self.max_hint:
            return None
        return hint


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds: an integer/decimal, or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def poll_after(response: httpx.Response) -> float | None:
    """``openai-poll-after-ms`` as seconds."""
    value = response.headers.get("openai-poll-after-ms")
    if value is None:
        return None
    try:
        ms = float(value.strip())
    except ValueError:
        return None
    if ms != ms or ms < 0 or ms == float("inf"):
        return None
    return ms / 1000.0


def server_hint(response: httpx.Response) -> float | None:
    hint = retry_after(response)
    return hint if hint is not None else poll_after(response)
