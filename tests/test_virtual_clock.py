"""The mock's clocks (mockserver.state.clock): the virtual clock starts where it was first set,
moves only forwards and only when told, is shared by every clock over the same store (workers of one
SQLite file), returns to its start after a reset, and wakes its waiters as soon as it moves;
the stepping clock moves a fixed step at every read; the real clock follows the wall clock."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mockserver.state import clock as clock_module
from mockserver.state.clock import RealClock, SteppingClock, VirtualClock
from mockserver.state.store import MemoryStore, SQLiteStore

START = 1_800_000_000.0


def test_a_virtual_clock_starts_at_its_start_and_moves_only_when_advanced() -> None:
    clock = VirtualClock(MemoryStore(), START)
    assert clock.kind == "virtual"
    assert clock.now() == START
    assert clock.now() == START, "reading does not move it"
    assert clock.advance(2.5) == START + 2.5
    assert clock.now() == START + 2.5
    assert clock.advance(0) == START + 2.5


@pytest.mark.parametrize("seconds", [-1.0, -0.001, math.inf, -math.inf, math.nan])
def test_a_virtual_clock_refuses_to_move_backwards_or_by_no_number(seconds: float) -> None:
    clock = VirtualClock(MemoryStore(), START)
    with pytest.raises(
        ValueError, match="^the clock moves forwards by a finite number of seconds$"
    ):
        clock.advance(seconds)
    assert clock.now() == START


def test_clocks_over_one_store_share_one_time_and_the_first_start() -> None:
    store = MemoryStore()
    first = VirtualClock(store, START)
    first.advance(10)
    # a second worker, started later with another start time, finds the store's time
    second = VirtualClock(store, START + 500)
    assert second.now() == START + 10
    second.advance(5)
    assert first.now() == START + 15


def test_after_a_reset_the_clock_returns_to_its_start() -> None:
    store = MemoryStore()
    clock = VirtualClock(store, START)
    clock.advance(30)
    store.reset()
    assert clock.now() == START
    assert clock.advance(1) == START + 1
    other = VirtualClock(store, START + 99)  # its start came after the reset's
    assert other.now() == START + 1
    store.reset()
    assert clock.advance(3) == START + 3, "an advance right after a reset starts from START"


def test_a_restart_over_the_same_sqlite_file_keeps_the_time(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SQLiteStore(str(path))
    VirtualClock(store, START).advance(42)
    store.close()
    again = SQLiteStore(str(path))
    try:
        assert VirtualClock(again, START + 1000).now() == START + 42
    finally:
        again.close()


def test_waiting_for_a_time_already_reached_returns_at_once() -> None:
    clock = VirtualClock(MemoryStore(), START)
    assert clock.wait_until(START, timeout=0) is True
    assert clock.wait_until(START - 5, timeout=0) is True


def test_waiting_for_a_time_not_reached_gives_up_at_the_timeout() -> None:
    clock = VirtualClock(MemoryStore(), START)
    assert clock.wait_until(START + 0.001, timeout=0) is False
    assert clock.wait_until(START + 1, timeout=-1) is False
    assert clock.now() == START, "waiting does not move the clock"


class _Watched(threading.Condition):
    """The clock's condition, telling when a waiter has begun to wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def _waiter(
    clock: VirtualClock, when: float, timeout: float = 60
) -> tuple[threading.Thread, list[bool]]:
    """A thread waiting for ``when`` (``timeout`` s at most), once it is inside its wait."""
    watched = _Watched()
    clock._changed = watched
    woke: list[bool] = []
    waiter = threading.Thread(
        target=lambda: woke.append(clock.wait_until(when, timeout)), daemon=True
    )
    waiter.start()
    assert watched.waiting.wait(10)
    return waiter, woke


def test_a_waiter_wakes_as_soon_as_the_clock_is_advanced_past_its_time() -> None:
    clock = VirtualClock(MemoryStore(), START)
    clock.poll_interval = 120.0  # only the advance's notification can wake it in time
    waiter, woke = _waiter(clock, START + 5)
    clock.advance(2)  # not there yet: the waiter checks and waits on
    clock.advance(3)
    waiter.join(20)
    assert not waiter.is_alive(), "the advance did not wake the waiter"
    assert woke == [True]


def test_a_waiter_sees_a_time_another_worker_wrote() -> None:
    # another process writes the time into the shared store: no notification reaches this
    # one, the waiter finds it by re-reading every poll_interval
    store = MemoryStore()
    clock = VirtualClock(store, START)
    clock.poll_interval = 0.01
    waiter, woke = _waiter(clock, START + 1)
    store.clock_advance(1, START)  # what the other worker's advance writes
    waiter.join(20)
    assert not waiter.is_alive(), "the waiter did not re-read the shared time"
    assert woke == [True]


def test_a_stepping_clock_moves_its_step_at_every_read() -> None:
    store = MemoryStore()
    clock = SteppingClock(store, START, step=0.5)
    assert clock.kind == "virtual"
    assert clock.step == 0.5
    assert clock.now() == START + 0.5
    assert clock.now() == START + 1.0
    assert clock.advance(10) == START + 11.0
    # a wait always ends: each read moves the clock on
    assert clock.wait_until(START + 13, timeout=60) is True
    assert VirtualClock(store, START).now() >= START + 13


class _FakeTime:
    """Stands in for the clock module's ``time``: the wall clock moves only when a wait
    lets it; the monotonic clock does not move at all, so no wait ever times out by itself."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return 100.0

    def event(self) -> Any:
        fake = self

        class Event:
            def wait(self, delay: float) -> bool:
                fake.waits.append(delay)
                fake.now += delay
                return False

        return Event()


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> _FakeTime:
    fake = _FakeTime(START)
    monkeypatch.setattr(clock_module, "time", fake)
    monkeypatch.setattr(
        clock_module, "threading", SimpleNamespace(Event=fake.event, Condition=threading.Condition)
    )
    return fake


def test_the_real_clock_waits_until_the_time_or_its_timeout(fake_time: _FakeTime) -> None:
    clock = RealClock()
    assert clock.now() == START
    assert clock.wait_until(START + 5, timeout=60) is True
    assert fake_time.waits == [5.0]
    assert clock.wait_until(START + 100, timeout=10) is False, "gave up after 10 s"
    assert fake_time.waits == [5.0, 10.0]
    # a time reached or past: no wait at all
    assert clock.wait_until(fake_time.now, timeout=60) is True
    assert clock.wait_until(fake_time.now - 30, timeout=60) is True
    assert fake_time.waits == [5.0, 10.0]


def test_a_virtual_wait_with_no_time_left_gives_up_without_waiting(fake_time: _FakeTime) -> None:
    clock = VirtualClock(MemoryStore(), START)
    # the monotonic clock stands still: a wait with time left would never end
    assert clock.wait_until(START + 1, timeout=0) is False


def test_a_virtual_wait_with_under_a_second_left_still_waits(fake_time: _FakeTime) -> None:
    store = MemoryStore()
    clock = VirtualClock(store, START)
    clock.poll_interval = 0.01
    waiter, woke = _waiter(clock, START + 1, timeout=0.5)
    store.clock_advance(1, START)
    waiter.join(20)
    assert woke == [True]


def test_a_stepping_clock_after_a_reset_steps_from_its_start() -> None:
    store = MemoryStore()
    clock = SteppingClock(store, START, step=2)
    clock.now()
    store.reset()
    assert clock.now() == START + 2


def test_the_real_clock_follows_the_wall_clock() -> None:
    clock = RealClock()
    assert clock.kind == "real"
    before = time.time()
    now = clock.now()
    assert before <= now <= time.time()


def test_the_real_clock_waits_no_longer_than_its_timeout() -> None:
    clock = RealClock()
    assert clock.wait_until(clock.now() - 1, timeout=60) is True, "past: no wait"
    assert clock.wait_until(clock.now() + 3600, timeout=0) is False
    assert clock.wait_until(clock.now() + 3600, timeout=-5) is False
