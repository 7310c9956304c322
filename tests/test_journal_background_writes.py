"""The journal writer's background thread (mockserver.state.journal): an entry left waiting under
load is written ``max_age`` after it arrived even if no other request comes, not before; one
daemon thread per process does it, and a refused write is retried no faster than ``max_age``.
The writer's monotonic clock is a fake here: the tests move it, never wait for it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from mockserver.state import journal
from mockserver.state.journal import JournalWriter


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.written = threading.Event()

    def journal_add(self, *entries: dict[str, Any]) -> None:
        self.batches.append(list(entries))
        self.written.set()


def entry(n: int) -> dict[str, Any]:
    return {"request_id": f"req_{n}"}


class FakeMonotonic:
    """``journal.time`` with a monotonic clock far from 0 that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(journal, "time", fake)
    return fake


class Waits(threading.Condition):
    """The writer's condition, recording the timeout of every wait on it."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.timeouts: list[float | None] = []
        #: released at each wait, lock held: whoever takes the lock next finds it waiting
        self.waited = threading.Semaphore(0)

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        self.waited.release()
        return super().wait(timeout)


def _watched(writer: JournalWriter) -> Waits:
    waits = Waits(writer._lock)
    writer._wake = waits
    return waits


def _under_load(writer: JournalWriter, *entries: dict[str, Any]) -> None:
    """Answers that leave their entries waiting: one request stays in flight."""
    writer.opened()
    for e in entries:
        writer.opened()
        writer.closed(e)


def test_the_defaults_batch_64_entries_or_50_ms() -> None:
    writer = JournalWriter(Sink())
    assert (writer.max_batch, writer.max_age) == (64, 0.05)


def test_a_first_entry_under_load_waits_even_on_a_long_running_machine(
    clock: FakeMonotonic,
) -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_age=3600)
    _under_load(writer, entry(0), entry(1))
    assert sink.batches == [], "its age counts from its arrival, not from the clock's zero"
    clock.now += 3600  # exactly max_age later: the next answer writes both
    writer.opened()
    writer.closed(entry(2))
    # both are written now: by this answer (with it), or first by the background thread that
    # saw the clock move, which leaves the newest entry a fresh wait of its own
    written = [e for batch in sink.batches for e in batch]
    assert written in ([entry(0), entry(1)], [entry(0), entry(1), entry(2)]), written


def test_a_waiting_entry_is_written_at_max_age_with_no_request_coming(
    clock: FakeMonotonic,
) -> None:
    sink = Sink()
    writer = JournalWriter(sink, max_age=5)
    waits = _watched(writer)
    _under_load(writer, entry(0))
    # the watcher waits for what is left of max_age, and writes nothing before
    assert waits.waited.acquire(timeout=10)
    with writer._lock:
        assert waits.timeouts[-1] == 5.0
        assert sink.batches == []
        clock.now += 4.5
        waits.notify()
    assert waits.waited.acquire(timeout=10)
    with writer._lock:
        assert waits.timeouts[-1] == pytest.approx(0.5)
        assert sink.batches == []
        clock.now += 0.5
        waits.notify()
    assert sink.written.wait(10), "no write at max_age"
    assert sink.batches == [[entry(0)]]


def test_one_daemon_thread_named_journal_writer_per_process(clock: FakeMonotonic) -> None:
    def watchers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if getattr(t, "_target", None) == writer._run]

    sink = Sink()
    writer = JournalWriter(sink, max_age=5)
    _under_load(writer, entry(0))
    _under_load(writer, entry(1))
    (thread,) = watchers()
    assert thread.name == "journal-writer"
    assert thread.daemon, "a waiting write must never keep the process from exiting"
    clock.now += 5
    with writer._lock:
        writer._wake.notify()
    assert sink.written.wait(10)
    assert sink.batches == [[entry(0), entry(1)]]


class FailingSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.failing = True
        self.tries = threading.Semaphore(0)
        self.during: list[Any] = []  # called inside a write, as another answer would

    def journal_add(self, *entries: dict[str, Any]) -> None:
        for call in self.during:
            call()
        self.during = []
        if self.failing:
            self.tries.release()
            raise OSError(28, "No space left on device")
        super().journal_add(*entries)


def test_a_refused_write_is_retried_by_the_watcher_every_max_age(clock: FakeMonotonic) -> None:
    sink = FailingSink()
    writer = JournalWriter(sink, max_age=5)
    waits = _watched(writer)
    _under_load(writer, entry(0))
    assert waits.waited.acquire(timeout=10)
    clock.now += 5
    with writer._lock:
        writer._wake.notify()
    assert sink.tries.acquire(timeout=10), "the watcher did not try"
    # after a failure it pauses max_age before the next try (no busy loop)
    assert waits.waited.acquire(timeout=10)
    with writer._lock:
        assert waits.timeouts[-1] == 5
        sink.failing = False
        waits.notify()
    assert sink.written.wait(10), "the entry was not written once the store took it"
    assert sink.batches == [[entry(0)]]


def test_an_entry_arriving_during_a_refused_write_is_kept_behind_the_batch(
    clock: FakeMonotonic,
) -> None:
    sink = FailingSink()
    writer = JournalWriter(sink, max_age=3600)
    _under_load(writer, entry(0), entry(1))
    writer.opened()
    sink.during = [lambda: writer.closed(entry(2))]  # answered while the write is refused
    writer.flush()
    sink.failing = False
    writer.flush()
    assert sink.batches == [[entry(0), entry(1), entry(2)]]


def test_each_run_of_refused_writes_is_logged_once_with_its_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = FailingSink()
    writer = JournalWriter(sink, max_age=3600)
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        for round in range(2):
            sink.failing = True
            for n in range(3):
                writer.opened()
                writer.closed(entry(10 * round + n))
            sink.failing = False
            writer.flush()
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    failed = ("ERROR", "writing the request journal failed (OSError); retrying")
    again = ("WARNING", "writing the request journal works again")
    assert messages == [failed, again, failed, again]
