"""What a worker does when its render process dies, and how that process is run, without
rendering a video (the render itself and the child process are stand-ins): a child gone
before a render means rendering here; one that dies during a render is tried once more in a
fresh process, and a second death fails that job only; the child's loop answers each request,
a failure included, and ends when its parent closes the pipe; the encoded loops shared between
workers are encoded once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from mockserver import media
from mockserver.media import RenderCrashed
from mockserver.media.render_process import _ChildGone, _death, _Isolation


@pytest.fixture
def isolation(monkeypatch: pytest.MonkeyPatch) -> _Isolation:
    """Renders isolated, with a fresh record of the child (none yet)."""
    fresh = _Isolation(enabled=True)
    monkeypatch.setattr(media.render_process, "_isolation", fresh)
    return fresh


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Renders in this process, recorded instead of made."""
    calls: list[tuple[Any, ...]] = []

    def render(*args: Any) -> bytes:
        calls.append(args)
        return b"rendered here"

    monkeypatch.setattr(media.render_process, "_render_video", render)
    return calls


class FakeChild:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.requests: list[tuple[Any, ...]] = []

    def call(self, *request: Any) -> bytes:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[no-any-return]


# ------------------------------------------------------------------ render_video's retries


def test_without_isolation_the_video_is_rendered_here(here: list[Any]) -> None:
    assert media.render_process._isolation.enabled is False
    assert media.render_video(None, 64, 48, 1.5, fps=6, caption="c") == b"rendered here"
    assert here == [(None, 64, 48, 1.5, 6, "c")]


def test_an_isolated_render_is_the_childs_answer(
    isolation: _Isolation, here: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    child = FakeChild([b"from the child"])
    monkeypatch.setattr(media.render_process, "_render_child", lambda: child)
    assert media.render_video(b"img", 64, 48, 2, caption="a cat") == b"from the child"
    assert child.requests == [(b"img", 64, 48, 2, media.DEFAULT_FPS, "a cat")]
    assert here == []


def test_a_bad_argument_is_raised_here_before_any_child_is_asked(
    isolation: _Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        media.render_process, "_render_child", lambda: pytest.fail("a child was asked")
    )
    with pytest.raises(ValueError, match="width must be a positive even number"):
        media.render_video(None, 63, 48, 1)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        media.render_video(None, 64, 48, 0)
    with pytest.raises(ValueError, match="fps must be an int"):
        media.render_video(None, 64, 48, 1, fps=0)


def test_a_child_gone_before_the_render_means_rendering_here(
    isolation: _Isolation,
    here: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    child = FakeChild([_ChildGone("cannot start: no memory")])
    monkeypatch.setattr(media.render_process, "_render_child", lambda: child)
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        assert media.render_video(None, 64, 48, 1, fps=6) == b"rendered here"
    assert len(child.requests) == 1 and here == [(None, 64, 48, 1, 6, None)]
    assert [r.getMessage() for r in caplog.records] == [
        "the render process is gone (cannot start: no memory): rendering in this process"
    ]


def test_a_child_that_died_during_a_render_is_given_one_more_try(
    isolation: _Isolation, here: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    child = FakeChild([_ChildGone("killed by SIGKILL", crashed=True), b"second try"])
    monkeypatch.setattr(media.render_process, "_render_child", lambda: child)
    assert media.render_video(None, 64, 48, 1) == b"second try"
    assert len(child.requests) == 2 and here == []


def test_two_deaths_on_one_input_fail_that_render_only(
    isolation: _Isolation, here: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    child = FakeChild(
        [
            _ChildGone("killed by SIGSEGV", crashed=True),
            _ChildGone("killed by SIGKILL", crashed=True),
            b"never asked",
        ]
    )
    monkeypatch.setattr(media.render_process, "_render_child", lambda: child)
    with pytest.raises(RenderCrashed) as caught:
        media.render_video(None, 64, 48, 1)
    assert caught.value.reason == "killed by SIGKILL"
    assert str(caught.value) == "the render process died rendering it (killed by SIGKILL)"
    assert caught.value.__suppress_context__
    assert len(child.requests) == 2 and here == [], "never rendered in the worker"


def test_a_death_then_a_child_that_cannot_start_renders_here(
    isolation: _Isolation, here: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    child = FakeChild([_ChildGone("exit code 1", crashed=True), _ChildGone("cannot start")])
    monkeypatch.setattr(media.render_process, "_render_child", lambda: child)
    assert media.render_video(None, 64, 48, 1) == b"rendered here"
    assert len(child.requests) == 2


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (None, "its pipe closed"),
        (-9, "killed by SIGKILL"),
        (-11, "killed by SIGSEGV"),
        (-200, "killed by signal 200"),
        (0, "exit code 0"),
        (1, "exit code 1"),
    ],
)
def test_how_a_render_process_died(code: int | None, reason: str) -> None:
    assert _death(code) == reason


def test_a_child_gone_says_whether_it_crashed() -> None:
    assert _ChildGone("x").crashed is False
    assert _ChildGone("x", crashed=True).crashed is True
    assert str(_ChildGone("its pipe closed")) == "its pipe closed"


# ------------------------------------------------------------------ one call to the child


class FakeProcess:
    def __init__(self, polled: int | None = None, waited: Any = 0) -> None:
        self.polled = polled
        self.waited = waited
        self.returncode = polled
        self.waits: list[Any] = []
        self.killed = False
        self.pid = 4242

    def poll(self) -> int | None:
        return self.polled

    def wait(self, timeout: float | None = None) -> int:
        self.waits.append(timeout)
        if isinstance(self.waited, BaseException):
            waited, self.waited = self.waited, 0
            raise waited
        return self.waited  # type: ignore[no-any-return]

    def kill(self) -> None:
        self.killed = True


class FakePipe:
    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.sent: list[Any] = []
        self.closed = False

    def send(self, value: Any) -> None:
        if isinstance(self.answer, OSError):
            raise self.answer
        self.sent.append(value)

    def recv(self) -> Any:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def close(self) -> None:
        self.closed = True


def _child(process: FakeProcess, answer: Any) -> Any:
    child = media.render_process._RenderChild.__new__(media.render_process._RenderChild)
    child.process = process  # type: ignore[assignment]
    child._requests = FakePipe()  # type: ignore[assignment]
    child._answers = FakePipe(answer)  # type: ignore[assignment]
    child._lock = threading.Lock()
    child.alive = True
    return child


def test_a_call_sends_the_request_and_returns_the_bytes() -> None:
    child = _child(FakeProcess(), (True, bytearray(b"mp4")))
    answer = child.call(None, 64, 48, 1.0, 6, None)
    assert answer == b"mp4" and type(answer) is bytes
    assert child._requests.sent == [(None, 64, 48, 1.0, 6, None)]
    assert child.alive


def test_a_render_error_in_the_child_is_raised_in_the_caller() -> None:
    child = _child(FakeProcess(), (False, media.ImageError("not an image")))
    with pytest.raises(media.ImageError, match="not an image"):
        child.call(b"x", 64, 48, 1.0, 6, None)
    assert child.alive, "a render error is not a death"


def test_a_stopped_child_takes_no_request() -> None:
    child = _child(FakeProcess(), (True, b"x"))
    child.alive = False
    with pytest.raises(_ChildGone) as caught:
        child.call()
    assert str(caught.value) == "stopped" and caught.value.crashed is False
    assert child._requests.sent == []


def test_a_child_that_died_idle_is_not_this_renders_crash() -> None:
    child = _child(FakeProcess(polled=-9), (True, b"x"))
    with pytest.raises(_ChildGone) as caught:
        child.call()
    assert str(caught.value) == "killed by SIGKILL" and caught.value.crashed is False
    assert child.alive is False and child._requests.sent == []


@pytest.mark.parametrize("broken", [EOFError(), OSError(32, "Broken pipe")])
def test_a_child_that_dies_during_a_render_crashed(broken: BaseException) -> None:
    process = FakeProcess(waited=-11)
    child = _child(process, broken)
    with pytest.raises(_ChildGone) as caught:
        child.call()
    assert str(caught.value) == "killed by SIGSEGV" and caught.value.crashed is True
    assert caught.value.__cause__ is broken
    assert child.alive is False and process.waits == [5]


def test_a_dying_child_that_will_not_end_is_reported_by_its_poll() -> None:
    process = FakeProcess(waited=subprocess.TimeoutExpired("python", 5))
    child = _child(process, EOFError())
    process.polled = None
    with pytest.raises(_ChildGone) as caught:
        child.call()
    assert str(caught.value) == "its pipe closed" and caught.value.crashed is True


def test_stop_closes_the_pipes_and_waits_for_the_child() -> None:
    process = FakeProcess()
    child = _child(process, None)
    child.stop()
    assert child.alive is False and child._requests.closed and child._answers.closed
    assert process.waits == [10] and process.killed is False


def test_a_child_that_will_not_stop_is_killed() -> None:
    process = FakeProcess(waited=subprocess.TimeoutExpired("python", 10))
    child = _child(process, None)
    child.stop()
    assert process.killed is True and process.waits == [10, None]


# ------------------------------------------------------------------ the child's own loop


def _serve(
    monkeypatch: pytest.MonkeyPatch, render: Any, loops_dir: str = ""
) -> tuple[Connection, Connection, threading.Thread]:
    monkeypatch.setattr(media.render_process, "_render_video", render)
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    loop = threading.Thread(
        target=media.render_process._serve_renders,
        args=(str(down_r), str(up_w), loops_dir),
        daemon=True,
    )
    loop.start()
    return Connection(down_w, readable=False), Connection(up_r, writable=False), loop


def test_the_render_process_answers_each_request_until_its_parent_closes_the_pipe(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation
) -> None:
    def render(image: Any, width: int, height: int, *rest: Any) -> bytes:
        if width == 0:
            raise ValueError("width must be positive")
        return f"{width}x{height}".encode()

    requests, answers, loop = _serve(monkeypatch, render)
    requests.send((None, 64, 48, 1.0, 6, None))
    assert answers.recv() == (True, b"64x48")
    requests.send((None, 0, 48, 1.0, 6, None))
    ok, error = answers.recv()
    assert ok is False and isinstance(error, ValueError) and str(error) == "width must be positive"
    requests.send((None, 2, 2, 1.0, 6, None))
    assert answers.recv() == (True, b"2x2")
    requests.close()
    loop.join(10)
    assert not loop.is_alive()
    answers.close()


def test_an_error_that_cannot_be_sent_is_sent_as_its_repr(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation
) -> None:
    class Unpicklable(Exception):
        def __reduce__(self) -> Any:
            raise TypeError("no pickling")

    def render(*args: Any) -> bytes:
        raise Unpicklable("odd")

    requests, answers, loop = _serve(monkeypatch, render)
    requests.send((None, 2, 2, 1.0, 6, None))
    ok, error = answers.recv()
    assert ok is False and type(error) is RuntimeError
    assert str(error) == "render failed: Unpicklable('odd')"
    requests.close()
    loop.join(10)
    answers.close()


def test_the_render_process_ends_when_nobody_reads_its_answers(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation
) -> None:
    requests, answers, loop = _serve(monkeypatch, lambda *a: b"x")
    answers.close()  # the parent is gone
    requests.send((None, 2, 2, 1.0, 6, None))
    loop.join(10)
    assert not loop.is_alive()
    requests.close()


def test_the_render_process_shares_loops_where_it_is_told(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation, tmp_path: Path
) -> None:
    requests, answers, loop = _serve(
        monkeypatch,
        lambda *a: str(media.render_process._isolation.loops_dir).encode(),
        str(tmp_path),
    )
    requests.send(())
    assert answers.recv() == (True, str(tmp_path).encode())
    requests.close()
    loop.join(10)
    answers.close()
    requests, answers, loop = _serve(
        monkeypatch, lambda *a: repr(media.render_process._isolation.loops_dir).encode()
    )
    requests.send(())
    assert answers.recv() == (True, b"None")
    requests.close()
    loop.join(10)
    answers.close()


# ------------------------------------------------------------------ which child


class Spawned:
    made: list[Spawned] = []
    fail: OSError | None = None

    def __init__(self) -> None:
        if Spawned.fail is not None:
            raise Spawned.fail
        self.alive = True
        self.owner = os.getpid()
        self.process = FakeProcess()
        self.stopped = False
        Spawned.made.append(self)

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> type[Spawned]:
    Spawned.made = []
    Spawned.fail = None
    monkeypatch.setattr(media.render_process, "_RenderChild", Spawned)
    return Spawned


def test_one_child_serves_every_render_while_it_lives(
    isolation: _Isolation, spawned: type[Spawned]
) -> None:
    first = media.render_process._render_child()
    assert media.render_process._render_child() is first and isolation.child is first
    first.alive = False  # died
    second = media.render_process._render_child()
    assert second is not first and isolation.child is second
    second.owner = -1  # a forked copy: the pipes are its parent's
    third = media.render_process._render_child()
    assert third is not second and len(spawned.made) == 3


def test_a_child_that_cannot_start_is_gone(isolation: _Isolation, spawned: type[Spawned]) -> None:
    spawned.fail = OSError(11, "Resource temporarily unavailable")
    with pytest.raises(_ChildGone) as caught:
        media.render_process._render_child()
    assert str(caught.value) == "cannot start: [Errno 11] Resource temporarily unavailable"
    assert caught.value.crashed is False
    media.prewarm_renders()  # swallowed: the first render tries again
    assert isolation.child is None


def test_a_favoured_child_runs_ahead(
    isolation: _Isolation, spawned: type[Spawned], monkeypatch: pytest.MonkeyPatch
) -> None:
    favoured: list[int] = []
    monkeypatch.setattr(
        media.render_process, "_favour_renders", lambda pid: favoured.append(pid) or "render"
    )
    media.render_process._render_child()
    assert favoured == []
    isolation.favour = True
    isolation.child = None
    media.render_process._render_child()
    media.render_process._render_child()  # the same child: favoured once
    assert favoured == [4242]


def test_prewarm_starts_the_child_only_when_renders_are_isolated(
    isolation: _Isolation, spawned: type[Spawned]
) -> None:
    isolation.enabled = False
    media.prewarm_renders()
    assert spawned.made == []
    isolation.enabled = True
    media.prewarm_renders()
    assert len(spawned.made) == 1 and isolation.child is spawned.made[0]


def test_isolating_and_releasing_renders(isolation: _Isolation, spawned: type[Spawned]) -> None:
    media.isolate_renders(loops_dir=Path("/loops"), favour=True)
    assert (isolation.enabled, isolation.loops_dir, isolation.favour) == (
        True,
        Path("/loops"),
        True,
    )
    media.isolate_renders(loops_dir=Path("/loops"))
    assert isolation.favour is False
    child = media.render_process._render_child()
    media.isolate_renders(False, loops_dir=Path("/loops"), favour=True)
    assert (isolation.enabled, isolation.loops_dir, isolation.favour) == (False, None, False)
    assert child.stopped and isolation.child is None
    media.isolate_renders(False)  # no child: nothing to stop


# ------------------------------------------------------------------ favouring renders


def test_a_render_process_gets_a_higher_priority_where_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_: list[Any] = []
    got: list[Any] = []
    monkeypatch.setattr(os, "getpriority", lambda which, who: got.append((which, who)) or 5)
    monkeypatch.setattr(os, "setpriority", lambda which, who, nice: set_.append((which, who, nice)))
    assert media.render_process._favour_renders(77) == "render"
    assert got == [(os.PRIO_PROCESS, 77)]
    assert set_ == [(os.PRIO_PROCESS, 77, 5 - media.RENDER_PRIORITY)]


def test_otherwise_every_thread_of_the_worker_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    set_: list[Any] = []

    def setpriority(which: int, who: int, nice: int) -> None:
        if who == 77:
            raise PermissionError(1, "Operation not permitted")
        if who == 13:
            raise ProcessLookupError(3, "No such process")  # ended meanwhile
        set_.append((which, who, nice))

    got: list[Any] = []
    listed: list[str] = []

    def getpriority(which: int, who: int) -> int:
        got.append((which, who))
        return 15 if who == 12 else 0

    monkeypatch.setattr(os, "getpriority", getpriority)
    monkeypatch.setattr(os, "setpriority", setpriority)
    monkeypatch.setattr(os, "listdir", lambda path: listed.append(path) or ["11", "12", "13"])
    assert media.render_process._favour_renders(77) == "workers"
    assert listed == ["/proc/self/task"]
    assert got == [(os.PRIO_PROCESS, who) for who in (77, 11, 12, 13)]
    assert set_ == [(os.PRIO_PROCESS, 11, 10), (os.PRIO_PROCESS, 12, 19)]


def test_without_proc_the_calling_thread_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    set_: list[Any] = []

    def setpriority(which: int, who: int, nice: int) -> None:
        if who == 77:
            raise PermissionError(1, "Operation not permitted")
        set_.append(who)

    def no_proc(path: str) -> list[str]:
        raise FileNotFoundError(path)

    monkeypatch.setattr(os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(os, "setpriority", setpriority)
    monkeypatch.setattr(os, "listdir", no_proc)
    assert media.render_process._favour_renders(77) == "workers"
    assert set_ == [0]


def test_nothing_moves_when_nothing_may(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(which: int, who: int, nice: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "getpriority", lambda which, who: 0)
    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(os, "listdir", lambda path: ["11"])
    assert media.render_process._favour_renders(77) == "none"


def test_a_child_that_already_exited_is_not_favoured(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(which: int, who: int) -> int:
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(os, "getpriority", gone)
    monkeypatch.setattr(os, "listdir", lambda path: pytest.fail("the workers stepped back"))
    assert media.render_process._favour_renders(77) == "none"


# ------------------------------------------------------------------ loops shared by workers


def test_a_loop_is_encoded_once_for_every_worker(isolation: _Isolation, tmp_path: Path) -> None:
    isolation.loops_dir = tmp_path / "media" / "loops"  # made on first use, parents too
    encodes: list[str] = []
    assert (
        media.render_process._shared_loop(("k", 1), lambda: encodes.append("a") or b"loop")
        == b"loop"
    )
    assert (
        media.render_process._shared_loop(("k", 1), lambda: encodes.append("b") or b"other")
        == b"loop"
    )
    assert encodes == ["a"]
    import hashlib

    name = hashlib.sha256(repr(("k", 1)).encode()).hexdigest()
    assert sorted(p.name for p in (tmp_path / "media" / "loops").iterdir()) == [
        f"{name}.lock",
        f"{name}.mp4",
    ]


def test_without_a_shared_directory_a_loop_is_encoded_here(isolation: _Isolation) -> None:
    assert media.render_process._shared_loop("k", lambda: b"here") == b"here"
    assert media.render_process._shared_loop("k", lambda: b"again") == b"again"


def test_a_loop_made_while_this_worker_waited_is_read_not_encoded(
    isolation: _Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl
    import hashlib

    isolation.loops_dir = tmp_path
    name = hashlib.sha256(repr("k").encode()).hexdigest()
    real_flock = fcntl.flock

    def flock(fd: Any, op: int) -> None:  # another worker finishes while this one waits
        (tmp_path / f"{name}.mp4").write_bytes(b"theirs")
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    assert media.render_process._shared_loop("k", lambda: pytest.fail("encoded twice")) == b"theirs"


def test_an_unreadable_shared_loop_is_encoded_here(
    isolation: _Isolation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib

    isolation.loops_dir = tmp_path
    name = hashlib.sha256(repr("k").encode()).hexdigest()
    (tmp_path / f"{name}.mp4").mkdir()
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        assert media.render_process._shared_loop("k", lambda: b"here") == b"here"
    (record,) = caplog.records
    assert record.getMessage() == (
        f"loop cache: cannot read {tmp_path / name}.mp4: "
        f"[Errno 21] Is a directory: '{tmp_path / name}.mp4'"
    )


def test_a_loop_that_cannot_be_locked_is_encoded_here(
    isolation: _Isolation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib

    isolation.loops_dir = tmp_path
    name = hashlib.sha256(repr("k").encode()).hexdigest()
    (tmp_path / f"{name}.lock").mkdir()  # the lock file cannot be opened
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        assert media.render_process._shared_loop("k", lambda: b"here") == b"here"
    (record,) = caplog.records
    assert record.getMessage() == (
        f"loop cache: cannot lock in {tmp_path}: "
        f"[Errno 21] Is a directory: '{tmp_path / name}.lock'"
    )
    assert not (tmp_path / f"{name}.mp4").exists()


def test_a_loop_that_cannot_be_shared_is_still_used_and_leaves_no_part_file(
    isolation: _Isolation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    isolation.loops_dir = tmp_path

    def full(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(media.render_process.os, "replace", full)
    with caplog.at_level(logging.WARNING, logger="mockserver.media"):
        assert media.render_process._shared_loop("k", lambda: b"here") == b"here"
    assert [p.suffix for p in tmp_path.iterdir()] == [".lock"]
    (record,) = caplog.records
    import hashlib

    name = hashlib.sha256(repr("k").encode()).hexdigest()
    assert record.getMessage() == (
        f"loop cache: cannot write {tmp_path / name}.mp4: [Errno 28] No space left on device"
    )


# ------------------------------------------------------------------ loops kept in memory


def test_a_loop_exactly_the_budget_is_kept() -> None:
    loops = media.render_process._Loops(4)
    made: list[str] = []
    loops.get("a", lambda: made.append("a") or b"aaaa")
    loops.get("a", lambda: made.append("a") or b"aaaa")
    assert made == ["a"]


def test_loops_in_memory_keep_the_most_recently_used_within_their_budget() -> None:
    loops = media.render_process._Loops(10)
    made: list[str] = []
    assert loops.get("a", lambda: made.append("a") or b"aaaa") == b"aaaa"
    loops.get("b", lambda: made.append("b") or b"bbbb")
    loops.get("a", lambda: made.append("a") or b"aaaa")
    loops.get("c", lambda: made.append("c") or b"cc")  # exactly 10: all kept
    loops.get("d", lambda: made.append("d") or b"d")  # b, least recently used, goes
    loops.get("a", lambda: made.append("a") or b"aaaa")
    loops.get("b", lambda: made.append("b") or b"bbbb")
    assert made == ["a", "b", "c", "d", "b"]
    loops.get("big", lambda: made.append("big") or b"x" * 11)  # larger than all: not kept
    loops.get("big", lambda: made.append("big") or b"x" * 11)
    assert made[-2:] == ["big", "big"]
    loops.clear()
    loops.get("a", lambda: made.append("a") or b"aaaa")
    assert made[-1] == "a" and loops._bytes == 4


def test_a_loop_is_encoded_once_however_many_ask_at_once() -> None:
    loops = media.render_process._Loops(100)
    started, release = threading.Event(), threading.Event()
    made: list[int] = []

    def slow() -> bytes:
        made.append(1)
        started.set()
        assert release.wait(10)
        return b"loop"

    got: list[bytes] = []
    first = threading.Thread(target=lambda: got.append(loops.get("k", slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: got.append(loops.get("k", slow)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert got == [b"loop", b"loop"] and made == [1] and loops._making == {}


def test_a_failed_encode_lets_the_next_caller_try(monkeypatch: pytest.MonkeyPatch) -> None:
    loops = media.render_process._Loops(100)
    with pytest.raises(RuntimeError):
        loops.get("k", lambda: (_ for _ in ()).throw(RuntimeError("x264 failed")))
    assert loops._making == {}
    assert loops.get("k", lambda: b"ok") == b"ok"


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("width", "height", "error", "message"),
    [
        (63, 48, ValueError, "width must be a positive even number of pixels up to 4096, got 63"),
        (64, 0, ValueError, "height must be a positive even number of pixels up to 4096, got 0"),
        (-2, 48, ValueError, "width must be a positive even number of pixels up to 4096, got -2"),
        (4098, 48, ValueError, "width must be a positive even number of pixels up to 4096, got"),
        (64.0, 48, TypeError, "width must be an int, not float"),
        (True, 48, TypeError, "width must be an int, not bool"),
        (64, "48", TypeError, "height must be an int, not str"),
    ],
)
def test_a_size_a_video_cannot_have(width: Any, height: Any, error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        media.encoding._check_size(width, height)
    assert str(caught.value).startswith(message)


def test_the_largest_size_is_accepted() -> None:
    media.encoding._check_size(4096, 2)
    media.encoding._check_size(2, 4096)


@pytest.mark.parametrize(
    ("seconds", "fps", "frames"),
    [(1, 12, 12), (0.01, 12, 1), (2.5, 6, 15), (120, 1, 120), (0.5, 120, 60), (1.04, 12, 12)],
)
def test_a_clip_has_round_seconds_times_fps_frames(seconds: float, fps: int, frames: int) -> None:
    assert media.encoding._frame_count(seconds, fps) == frames


@pytest.mark.parametrize(
    ("seconds", "fps", "error", "message"),
    [
        (1, 0, ValueError, "fps must be an int from 1 to 120, got 0"),
        (1, 121, ValueError, "fps must be an int from 1 to 120, got 121"),
        (1, 12.0, ValueError, "fps must be an int from 1 to 120, got 12.0"),
        (1, True, ValueError, "fps must be an int from 1 to 120, got True"),
        ("1", 12, TypeError, "seconds must be a number, not str"),
        (True, 12, TypeError, "seconds must be a number, not bool"),
        (0, 12, ValueError, "seconds must be > 0 and <= 120, got 0"),
        (-1, 12, ValueError, "seconds must be > 0 and <= 120, got -1"),
        (120.5, 12, ValueError, "seconds must be > 0 and <= 120, got 120.5"),
        (float("inf"), 12, ValueError, "seconds must be > 0 and <= 120, got inf"),
        (float("nan"), 12, ValueError, "seconds must be > 0 and <= 120, got nan"),
    ],
)
def test_a_length_a_clip_cannot_have(seconds: Any, fps: Any, error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        media.encoding._frame_count(seconds, fps)
    assert str(caught.value) == message


def test_signal_names_come_from_the_platform() -> None:
    assert _death(-signal.SIGTERM) == "killed by SIGTERM"


def test_the_render_process_shares_no_loops_unless_told(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation, tmp_path: Path
) -> None:
    isolation.loops_dir = tmp_path  # as inherited: the child decides from its arguments
    monkeypatch.setattr(
        media.render_process,
        "_render_video",
        lambda *a: repr(media.render_process._isolation.loops_dir).encode(),
    )
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    loop = threading.Thread(
        target=media.render_process._serve_renders, args=(str(down_r), str(up_w)), daemon=True
    )
    loop.start()
    requests, answers = Connection(down_w, readable=False), Connection(up_r, writable=False)
    requests.send(())
    assert answers.recv() == (True, b"None")
    requests.close()
    loop.join(10)
    answers.close()


def test_the_render_process_is_this_python_on_this_code_with_its_loops(
    monkeypatch: pytest.MonkeyPatch, isolation: _Isolation, tmp_path: Path
) -> None:
    started: list[Any] = []

    class Popen:
        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            started.append((argv, kwargs))
            self.pid = 99

    root = str(Path(media.__file__).resolve().parent.parent.parent)  # media/__init__.py
    monkeypatch.setattr(subprocess, "Popen", Popen)
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    isolation.loops_dir = tmp_path
    child = media.render_process._RenderChild()
    for fd in started[0][0][3:5]:  # the child's ends are closed here
        with pytest.raises(OSError):
            os.fstat(int(fd))
    monkeypatch.delenv("PYTHONPATH")
    isolation.loops_dir = None
    bare = media.render_process._RenderChild()
    for made in (child, bare):
        made._requests.close()
        made._answers.close()
    (argv, kwargs), (bare_argv, bare_kwargs) = started
    import sys

    assert argv[:3] == [
        sys.executable,
        "-c",
        "import sys, mockserver.media as m; m._serve_renders(*sys.argv[1:])",
    ]
    assert argv[5] == str(tmp_path) and bare_argv[5] == ""
    assert kwargs["pass_fds"] == (int(argv[3]), int(argv[4]))
    assert kwargs["stdin"] == subprocess.DEVNULL
    assert kwargs["env"]["PYTHONPATH"] == f"{root}{os.pathsep}/elsewhere"
    assert bare_kwargs["env"]["PYTHONPATH"] == root
    assert kwargs["env"]["HOME"] == os.environ["HOME"], "the rest of the environment too"
    assert child.alive and child.owner == os.getpid() and child.process.pid == 99


def test_a_dying_child_slow_to_end_is_reported_by_what_its_poll_then_says() -> None:
    class Slow(FakeProcess):
        def __init__(self) -> None:
            super().__init__(waited=subprocess.TimeoutExpired("python", 5))
            self.polls = [None, -6]

        def poll(self) -> int | None:
            return self.polls.pop(0)

    child = _child(Slow(), EOFError())
    with pytest.raises(_ChildGone) as caught:
        child.call()
    assert str(caught.value) == "killed by SIGABRT" and caught.value.crashed is True


def test_a_failed_encode_with_another_caller_waiting_lets_that_one_encode() -> None:
    loops = media.render_process._Loops(100)
    started, release = threading.Event(), threading.Event()

    def failing() -> bytes:
        started.set()
        assert release.wait(10)
        raise RuntimeError("x264 failed")

    errors: list[BaseException] = []
    got: list[bytes] = []

    def first() -> None:
        try:
            loops.get("k", failing)
        except RuntimeError as exc:
            errors.append(exc)

    def second() -> None:
        got.append(loops.get("k", lambda: b"loop"))

    one = threading.Thread(target=first)
    one.start()
    assert started.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.05)  # waiting behind the first encode
    release.set()
    one.join(10)
    two.join(10)
    assert len(errors) == 1 and got == [b"loop"] and loops._making == {}


def test_a_loop_whose_part_file_was_never_made_is_still_used(
    isolation: _Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolation.loops_dir = tmp_path

    def full(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    assert media.render_process._shared_loop("k", lambda: b"here") == b"here"


def test_loops_evicted_free_their_bytes_for_the_next() -> None:
    loops = media.render_process._Loops(10)
    made: list[str] = []
    for key in ("a", "b", "c", "d"):  # c pushes a out, d pushes b out
        loops.get(key, lambda key=key: made.append(key) or b"1234")
    loops.get("b", lambda: made.append("b") or b"1234")
    assert made == ["a", "b", "c", "d", "b"]
    assert loops._bytes == 8
