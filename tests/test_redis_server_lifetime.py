"""A test's ``redis-server`` (``mockserver.testing.redis_server``) ends with the process that
started it, even when that process is killed and never runs its clean-up: a test run stopped
mid-way (a CI timeout, Ctrl-C twice, ``kill -9``) used to leave its servers running."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import redis

from tests.processes import new_children_killed_after

CHILD = """
import sys
import redis
from mockserver.testing import redis_server

server = redis_server()  # held: a context manager collected would stop it
url = server.__enter__()
print(redis.Redis.from_url(url).info("server")["process_id"], flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_a_redis_server_dies_with_the_killed_process_that_started_it() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make test` installs it (Debian package)")
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        server = int(child.stdout.readline())
        gone = os.pidfd_open(server)  # readable once the server has ended: no polling, no sleep
        try:
            child.kill()  # SIGKILL: redis_server's `finally` never runs
            child.wait(10)
            ended, _, _ = select.select([gone], [], [], 10)
            assert ended, f"redis-server {server} outlived the process that started it"
        finally:
            os.close(gone)
            try:
                os.kill(server, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_the_child_asks_linux_for_sigkill_at_its_parents_end() -> None:
    """What ``redis_server`` hands ``Popen`` as ``preexec_fn``, run in a forked child of this
    process, which then reads its parent-death signal back (``PR_GET_PDEATHSIG``)."""
    import ctypes

    from mockserver.plugin.redis_server import _dies_with_parent

    ask = _dies_with_parent()
    assert callable(ask)
    pid = os.fork()
    if pid == 0:  # the child: one C call each way, then out without Python's clean-up
        try:
            ask()
            got = ctypes.c_int(-1)
            ctypes.CDLL(None).prctl(2, ctypes.byref(got))  # PR_GET_PDEATHSIG
            os._exit(got.value)
        except BaseException:  # noqa: BLE001 - any failure is the status the parent reads
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == signal.SIGKILL


def test_no_parent_death_signal_where_it_cannot_be_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Elsewhere than Linux, or without a C library to ask, the server is started plainly."""
    import ctypes

    from mockserver.plugin import redis_server

    monkeypatch.setattr(sys, "platform", "darwin")
    assert redis_server._dies_with_parent() is None
    monkeypatch.setattr(sys, "platform", "linux")

    def missing(*_: object, **__: object) -> object:
        raise OSError("no libc here")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert redis_server._dies_with_parent() is None


class _BlocksWhenFreedInAChild:
    """A value whose freeing in a forked copy of this process waits, as a native object
    waiting there for its threads (for a minute: past the test's 30 s)."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __del__(self) -> None:
        if os.getpid() != self.pid:  # the copy waits, then ends without its exec: a copy
            threading.Event().wait(60)  # whose test was killed first is no orphan for ever
            os._exit(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_a_server_starts_however_a_forked_copy_of_this_process_would_hang() -> None:
    """A fork frees the other threads' thread-locals in the child: a ``preexec_fn`` ran that in
    the child before its ``exec``, and a value that blocks when freed held ``Popen`` for ever
    (PyAV's reformatter did, in CI). ``setpriv`` starts the server with no Python in the child.
    A child that hangs all the same is killed after a while, and the start fails."""
    from mockserver.testing import redis_server

    local, ready, stop = threading.local(), threading.Event(), threading.Event()

    def hold() -> None:
        local.value = _BlocksWhenFreedInAChild()
        ready.set()
        stop.wait()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    ready.wait()
    try:
        with new_children_killed_after(30), redis_server() as url:
            assert redis.Redis.from_url(url).ping()
    finally:
        stop.set()
        holder.join()


def test_without_setpriv_the_server_asks_for_the_signal_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockserver.plugin import redis_server

    monkeypatch.setattr(shutil, "which", lambda name: None)
    argv, preexec = redis_server._launch(["redis-server", "--port", "1"])
    assert argv == ["redis-server", "--port", "1"]
    assert callable(preexec) == sys.platform.startswith("linux")
