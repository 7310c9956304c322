"""This process's children, for a test that starts one which may hang before its ``exec``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def children(pid: int | str = "self") -> set[int]:
    """The processes ``pid`` (this one by default) started, from any of its threads (Linux's
    ``/proc/PID/task/TID/children``; none once ``pid`` is gone)."""
    found: set[int] = set()
    for listed in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in listed.read_text().split())
        except OSError:  # (the thread ended meanwhile)
            continue
    return found


@contextmanager
def new_children_killed_after(seconds: float) -> Iterator[None]:
    """Children started in the block that still live ``seconds`` after it began, or when it
    ends, are killed: a child hung before its ``exec`` holds ``Popen`` until then, and none
    is left behind (their owners reap them: ``Popen.wait``, ``Process.join``)."""
    before = children()

    def kill() -> None:
        for pid in children() - before:
            os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(seconds, kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        kill()
