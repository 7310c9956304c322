"""A throw-away ``redis-server`` for tests and benchmarks (``mockserver.testing.redis_server``,
re-exported there): a free loopback port, no persistence, gone with the block, and with the
process that started it when that one is killed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Linux's ``prctl`` option: the signal a child gets when the thread that started it ends
_PR_SET_PDEATHSIG = 1


def _dies_with_parent() -> Any:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent ends, or None
    elsewhere: a test run killed mid-way (Ctrl-C twice, a CI timeout, ``kill -9``) never runs
    ``redis_server``'s ``finally``, and its servers outlived it (six still ran an hour later).
    libc is found here, before the fork: the child makes one C call and no Python import.
    Only where ``setpriv`` is missing (:func:`_launch`)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None).prctl  # this process's own symbols: libc's among them
    except (OSError, AttributeError):
        return None
    kill = int(signal.SIGKILL)

    def ask() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)

    return ask


def _launch(command: list[str]) -> tuple[list[str], Any]:
    """``command`` and the ``preexec_fn`` that start it to die with this process.

    util-linux's ``setpriv --pdeathsig KILL`` asks Linux for the signal and then runs the
    server in its place, so ``Popen`` runs no Python in the child: a ``preexec_fn`` makes the
    child run the interpreter's fork hooks first, in a copy of a process whose other threads
    are gone, and one that waits on such a thread hangs the child before its ``exec`` and
    ``Popen`` with it (a thread-local of PyAV's once did: ``tests/test_render_fork.py``).
    Without ``setpriv`` (not Linux, or a minimal image), :func:`_dies_with_parent`."""
    import shutil

    setpriv = shutil.which("setpriv")  # (util-linux: Linux only)
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *command], None
    return command, _dies_with_parent()


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away ``redis-server`` (no persistence) on a free loopback port, for a mock with
    ``--store redis://``: yields ``redis://127.0.0.1:PORT/0``; the server and its directory go
    away on exit. ``RuntimeError`` when Debian's ``redis-server`` is not installed."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="sora-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir]
    argv, preexec = _launch(command)
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec,  # noqa: PLW1509 - only without setpriv: one C call
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.01)  # a readiness retry
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
