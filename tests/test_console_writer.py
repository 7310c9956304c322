"""The console's writer thread: a request thread only hands its line over; the writer writes
what waits in batches (each write whole, at most a pipe's atomic size), keeps one process's
order, drops lines beyond its bound (and says so), starts anew in a forked worker, ends when
idle, and writes what waits before its process exits."""

from __future__ import annotations

import io
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mockserver.http import console
from mockserver.http.console import (
    MAX_LINE_BYTES,
    NOTICE_BYTES,
    WRITE_BYTES,
    RequestLine,
    RequestLog,
)

ROOT = Path(__file__).resolve().parent.parent


def _line(path: str) -> RequestLine:
    return RequestLine(0.0, "GET", path, "gptge", 200, 1.0)


class Gate(io.StringIO):
    """A console whose first write waits until the test opens the gate; it keeps each write
    and counts its flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        if not self.entered.is_set():
            self.entered.set()
            assert self.gate.wait(10), "the test never opened the gate"
        self.writes.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def _blocked(log: RequestLog, stream: Gate) -> None:
    """The writer is inside its first write, holding it, until ``stream.gate`` opens."""
    log.write(_line("/first"))
    assert stream.entered.wait(10)


def test_lines_handed_over_while_the_writer_writes_go_in_one_write() -> None:
    stream = Gate()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    for name in ("a", "b", "c"):
        log.write(_line(f"/{name}"))
    stream.gate.set()
    assert log.flush()
    assert len(stream.writes) == 2 and stream.flushes == 2
    assert "/first" in stream.writes[0] and stream.writes[0].count("\n") == 1
    batch = stream.writes[1].splitlines()
    assert ["/a" in batch[0], "/b" in batch[1], "/c" in batch[2]] == [True] * 3


def test_a_batch_is_cut_into_whole_line_writes_a_pipe_keeps_whole() -> None:
    assert MAX_LINE_BYTES + 1 + NOTICE_BYTES <= WRITE_BYTES, "the longest line fits one write"
    stream = Gate()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    for i in range(300):
        log.write(_line(f"/gptge/v1/videos/{i}"))
    stream.gate.set()
    assert log.flush()
    assert 2 < len(stream.writes) < 300
    for text in stream.writes:
        assert text.endswith("\n") and len(text.encode()) <= WRITE_BYTES - NOTICE_BYTES
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines[1:]] == [f"/gptge/v1/videos/{i}" for i in range(300)]


def test_several_threads_lines_stay_whole_and_each_threads_in_order() -> None:
    stream = io.StringIO()
    log = RequestLog("text", stream)

    def send(thread: int) -> None:
        for i in range(300):
            log.write(_line(f"/t{thread}/{i}"))

    threads = [threading.Thread(target=send, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.flush()
    paths = [line.split()[2] for line in stream.getvalue().splitlines()]
    assert len(paths) == 1800
    for t in range(6):
        assert [p for p in paths if p.startswith(f"/t{t}/")] == [f"/t{t}/{i}" for i in range(300)]


def test_beyond_the_bound_lines_are_dropped_counted_and_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "MAX_WAITING", 3)
    stream = Gate()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    for name in ("a", "b", "c", "d", "e"):  # three wait; two are one too many
        log.write(_line(f"/{name}"))
    assert log._queue.qsize() == 3 and log.dropped == 2
    stream.gate.set()
    assert log.flush()
    assert log.dropped == 0
    log.write(_line("/f"))
    assert log.flush()
    lines = stream.getvalue().splitlines()
    notice = "sora-mock: 2 console line(s) dropped: more than 3 were waiting to be written"
    assert notice in lines and lines.count(notice) == 1
    paths = [line.split()[2] for line in lines if line != notice]
    assert paths == ["/first", "/a", "/b", "/c", "/f"]


def test_a_flush_waits_a_bounded_time_for_a_writer_that_cannot_write() -> None:
    stream = Gate()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    log.write(_line("/a"))
    assert log.flush(0.01) is False  # the writer is held in its write
    stream.gate.set()
    assert log.flush() is True
    assert "/a" in stream.getvalue()


def test_a_flush_with_nothing_handed_over_returns_at_once() -> None:
    log = RequestLog("text", io.StringIO())
    assert log.flush(0) is True and not log._running


def test_an_idle_writer_ends_and_the_next_line_starts_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "IDLE_SECONDS", 0.0)
    stream = io.StringIO()
    log = RequestLog("text", stream)
    log.write(_line("/a"))
    assert log.flush()
    first = log._writer
    assert first is not None
    assert first.name == "console-writer" and first.daemon, "no exit waits for an idle writer"
    first.join(10)
    assert not first.is_alive() and not log._running
    log.write(_line("/b"))
    assert log.flush() and log._writer is not first
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["/a", "/b"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_writes_its_lines_with_a_writer_of_its_own(tmp_path: Path) -> None:
    """granian forks its workers after the app (and its console) is built: the parent's writer
    thread is not in the child."""
    path = tmp_path / "console"
    with open(path, "w") as stream:
        log = RequestLog("text", stream)
        log.write(_line("/parent"))
        assert log.flush()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                log.write(_line("/child"))
                code = 0 if log.flush(5) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child's line was never written"
    assert [line.split()[2] for line in path.read_text().splitlines()] == ["/parent", "/child"]


EXITING = """
import sys
from mockserver.http.console import RequestLine, RequestLog
log = RequestLog("text", open(sys.argv[1], "w"))
for i in range(3000):
    log.write(RequestLine(0.0, "GET", f"/line/{i}", "p", 200, 1.0))
"""


def test_every_line_handed_over_is_written_before_the_process_exits(tmp_path: Path) -> None:
    path = tmp_path / "console"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", EXITING, str(path)], check=True, env=env, timeout=60)
    assert path.read_text().count("/line/") == 3000


def _worker(path: str) -> None:
    log = RequestLog("text", open(path, "w"))  # noqa: SIM115 - written until the process exits
    for i in range(3000):
        log.write(RequestLine(0.0, "GET", f"/line/{i}", "p", 200, 1.0))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_worker_process_writes_its_lines_before_it_exits(tmp_path: Path) -> None:
    """A multiprocessing child (a granian worker) runs no atexit calls, only threading's."""
    path = tmp_path / "console"
    child = multiprocessing.get_context("fork").Process(target=_worker, args=(str(path),))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert path.read_text().count("/line/") == 3000


@pytest.mark.parametrize("name", ["ascii", "€" * 30])
def test_a_write_is_filled_to_its_last_byte_and_no_further(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget counts bytes, not characters: two lines of exactly half of it are one
    write."""
    text = RequestLog("text", io.StringIO()).format_text(_line(f"/{name}")) + "\n"
    size = len(text.encode())
    monkeypatch.setattr(console, "NOTICE_BYTES", 0)
    monkeypatch.setattr(console, "WRITE_BYTES", 2 * size)
    stream = Gate()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    for _ in range(4):
        log.write(_line(f"/{name}"))
    stream.gate.set()
    assert log.flush()
    assert stream.writes[1:] == [text * 2, text * 2]


def test_lines_gone_both_ways_are_said_in_one_notice_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "MAX_WAITING", 2)
    stream = Gate()
    log = RequestLog("text", stream)
    room = iter([True, False, True])
    log._room = lambda s: next(room)  # type: ignore[method-assign]
    _blocked(log, stream)
    for name in ("a", "b", "c"):  # a and b wait; c is one too many
        log.write(_line(f"/{name}"))
    stream.gate.set()
    assert log.flush()  # a and b find the console full
    assert log.dropped == 3
    log.write(_line("/d"))
    assert log.flush()
    assert stream.getvalue().splitlines()[1:] == [
        "sora-mock: 2 console line(s) dropped: the console was not being read",
        "sora-mock: 1 console line(s) dropped: more than 2 were waiting to be written",
        RequestLog("text", io.StringIO()).format_text(_line("/d")),
    ]


class Ascii(Gate):
    """A console that cannot encode what is not ASCII (as an ASCII-only terminal)."""

    def write(self, text: str) -> int:
        text.encode("ascii")
        return super().write(text)


def test_a_line_the_console_cannot_encode_is_lost_alone() -> None:
    stream = Ascii()
    log = RequestLog("text", stream)
    _blocked(log, stream)
    for name in ("a", "é", "c"):
        log.write(_line(f"/{name}"))
    stream.gate.set()
    assert log.flush()
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["/first", "/a", "/c"]


def test_a_flush_starts_a_writer_for_lines_none_took() -> None:
    """A writer that ended, idle, just as a line was handed over: the flush starts one."""
    stream = io.StringIO()
    log = RequestLog("text", stream)
    log._queue.put(_line("/a"))  # handed over, and no writer runs
    assert not log._running
    assert log.flush()
    assert "/a" in stream.getvalue()


class Spy:
    """The writer's start lock, saying when a thread other than the test's waits for it (the
    test's own takes it again freely)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.waiting = threading.Event()
        self.test = threading.current_thread()

    def __enter__(self) -> None:
        if threading.current_thread() is not self.test:
            self.waiting.set()
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_line_handed_over_as_the_writer_ends_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "IDLE_SECONDS", 0.0)
    stream = io.StringIO()
    log = RequestLog("text", stream)
    spy = Spy()
    log._start_lock = spy  # type: ignore[assignment]
    with spy.lock:
        log.write(_line("/a"))  # starts the writer, which writes it, finds nothing more ...
        assert spy.waiting.wait(10), "the idle writer never came to end"
        log.write(_line("/b"))  # ... and while it waits to end, there is
    assert log.flush(5)
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["/a", "/b"]


def test_a_fork_leaves_the_child_a_console_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork hook, called here in the test's own process as in a forked child: the
    parent's queue, writer and locks (one may be held by a parent thread at the fork) are not
    the child's."""
    stream = io.StringIO()
    log = RequestLog("text", stream)
    log.write(_line("/parent"))
    assert log.flush()
    parents = log._queue, log._writer, log._start_lock, log._overflow_lock, log._hurry
    log._start_lock.acquire()  # held by a parent thread at the fork
    log._overflow_lock.acquire()
    monkeypatch.setattr(console, "_logs", console.weakref.WeakSet([log]))
    console._after_fork()
    assert log._queue.empty() and not log._running and log._writer is None
    for before, after in zip(
        parents,
        (log._queue, log._writer, log._start_lock, log._overflow_lock, log._hurry),
        strict=True,
    ):
        assert after is not before
    log.write(_line("/child"))
    assert log.flush()
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["/parent", "/child"]


class Draining:
    """A console as the exit drain sees it: running or not, and the time each flush got."""

    def __init__(self, running: bool) -> None:
        self._running = running
        self.timeouts: list[float] = []

    def flush(self, timeout: float) -> bool:
        self.timeouts.append(timeout)
        return True


def test_at_exit_every_running_console_is_drained_within_one_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([100.0, 100.25, 100.5, 102.0])
    monkeypatch.setattr(console, "time", type("Clock", (), {"monotonic": lambda: next(clock)}))
    running = [Draining(True) for _ in range(3)]
    idle = Draining(False)
    monkeypatch.setattr(console, "_logs", console.weakref.WeakSet([*running, idle]))
    console._drain()
    assert idle.timeouts == []
    # DRAIN_SECONDS (1 s) in all, from the first look at the clock; none below nothing
    assert sorted(t for log in running for t in log.timeouts) == [0.0, 0.5, 0.75]
