"""Clocks: the wall clock, or a virtual one that moves only when told to.

The virtual clock keeps its time in the job store, so every worker process sharing a SQLite
store sees the same time, and waiters in this process wake as soon as it is advanced.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class ClockState(Protocol):
    def clock_init(self, start: float) -> float: ...
    def clock_get(self, default: float) -> float: ...
    def clock_advance(self, seconds: float, default: float) -> float: ...


class Clock(Protocol):
    kind: str

    def now(self) -> float: ...
    def wait_until(self, when: float, timeout: float) -> bool: ...


class RealClock:
    kind = "real"

    def now(self) -> float:
        return time.time()

    def wait_until(self, when: float, timeout: float) -> bool:
        """Block until ``when`` (epoch seconds) or for ``timeout`` real seconds at most."""
        delay = min(max(0.0, when - self.now()), timeout)
        if delay:
            threading.Event().wait(delay)
        return self.now() >= when


class VirtualClock:
    kind = "virtual"
    #: how often a waiter re-reads the shared time (another process may have advanced it)
    poll_interval = 0.05

    def __init__(self, state: ClockState, start: float) -> None:
        self._state = state
        # persisted now: a restart (SQLite) or another worker finds this time, not its own
        # wall-clock start; after a reset the clock returns to it
        self._start = state.clock_init(start)
        self._changed = threading.Condition()

    def now(self) -> float:
        now = self._state.clock_get(-1.0)
        if now < 0:  # never set, or reset: the first to look writes it down for everyone
            now = self._state.clock_advance(0.0, self._start)
        return now

    def advance(self, seconds: float) -> float:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the clock moves forwards by a finite number of seconds")
        now = self._state.clock_advance(seconds, self._start)
        with self._changed:
            self._changed.notify_all()
        return now

    def wait_until(self, when: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.now() < when:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, self.poll_interval))
        return True


class SteppingClock(VirtualClock):
    """A virtual clock that also moves ``step`` seconds each time it is read.

    Deterministic and never waits: a long-running stream or poll loop always reaches its end.
    Suited to fuzzing (schemathesis), where nobody advances the clock by hand.
    """

    kind = "virtual"

    def __init__(self, state: ClockState, start: float, step: float) -> None:
        super().__init__(state, start)
        self.step = step

    def now(self) -> float:
        return self._state.clock_advance(self.step, self._start)
