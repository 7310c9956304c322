"""A process forked while a render thread lives starts and ends (CI hung 90 minutes on it).

PyAV's ``VideoFrame.reformat`` keeps a reformatter per thread, with swscale's slice threads.
A fork frees the other threads' thread-local values in the child, and freeing that reformatter
there waited for slice threads the child does not have: the child hung before running a line
of its own. A ``multiprocessing`` fork (a test's, a user's) never answered; a ``subprocess``
with a ``preexec_fn`` (``mockserver.testing.redis_server``'s) runs the same hooks before its
``exec``, so ``Popen`` itself never returned: the whole test run hung there."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from mockserver import media
from tests.processes import new_children_killed_after

#: seconds a child has to start and end (it does nothing; a hung one never ends)
WITHIN = 30


@pytest.fixture
def render_thread() -> Iterator[None]:
    """A thread that rendered a clip in this process and lives on (as a render pool's does)."""
    rendered, stop = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:  # (a caption of its own: no loop kept from another test, so this thread encodes)
            media.render_video(None, 96, 64, 0.5, caption=f"fork {uuid.uuid4()}")
        except BaseException as exc:  # noqa: BLE001 - reported by the fixture
            failed.append(exc)
        rendered.set()
        stop.wait()

    media.isolate_renders(False)  # rendered here, on this thread
    worker = threading.Thread(target=run, name="media-render", daemon=True)
    worker.start()
    assert rendered.wait(60) and not failed, failed
    try:
        with new_children_killed_after(WITHIN):
            yield
    finally:
        stop.set()
        worker.join()


def _answer(conn: Connection) -> None:
    conn.send(os.getpid())
    conn.close()


@pytest.mark.usefixtures("render_thread")
def test_a_multiprocessing_fork_after_a_render_starts_and_ends() -> None:
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_answer, args=(theirs,), daemon=True)
    child.start()
    assert mine.poll(WITHIN), "the forked child hung before running its target"
    assert mine.recv() == child.pid
    child.join(WITHIN)
    assert child.exitcode == 0


@pytest.mark.usefixtures("render_thread")
def test_a_subprocess_with_a_preexec_fn_after_a_render_is_started() -> None:
    # started from this thread, as the redis_server fixture did: a fork keeps the forking
    # thread's own values (and this one's may hold a reformatter of a test's decoding); a
    # child that hangs is killed by the fixture after a while, and Popen returns
    child = subprocess.Popen(["true"], preexec_fn=lambda: None)  # noqa: PLW1509
    assert child.wait() == 0, "the child hung before its exec (killed)"
