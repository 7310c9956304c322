"""This process's children, for a test that starts one which may hang before its ``exec``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def children() -> set[int]:
    """The processes whose parent is this one (``/proc``)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # (the name may hold spaces)
        except OSError:  # (gone meanwhile)
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
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
