"""A server worker's render process runs ahead of the worker's request threads
(mockserver.media.render_process._favour_renders): a job's video is due when the job
completes, and under a saturating poll load an unfavoured render gets a third of a core
(bench_renders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from mockserver import media
from mockserver.media import RENDER_PRIORITY, render_video

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux nice values")


def _nice(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


#: run apart: without the right to lower a nice value, favouring raises this process's own
_FAVOURED = textwrap.dedent(
    """
    import json, os
    from mockserver import media
    media.isolate_renders(favour=True)
    media.render_video(None, 64, 48, 1)
    child = media.render_process._isolation.child
    print(json.dumps({"render": os.getpriority(os.PRIO_PROCESS, child.process.pid),
                      "worker": os.getpriority(os.PRIO_PROCESS, 0)}))
    media.isolate_renders(False)
    """
)


def test_a_favoured_render_process_runs_ahead_of_the_worker() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FAVOURED], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    # whichever side moved (the render down, or the worker's threads up), the gap is the same
    gap = seen["worker"] - seen["render"]
    assert gap == RENDER_PRIORITY or (seen["worker"] == 19 and gap > 0)


def test_without_favour_nothing_moves() -> None:
    before = _nice(0)
    media.isolate_renders()
    try:
        render_video(None, 64, 48, 1)
        child = media.render_process._isolation.child
        assert child is not None
        assert _nice(child.process.pid) == before
    finally:
        media.isolate_renders(False)
    assert _nice(0) == before


#: run apart: a process that may not lower another's nice raises every one of its own threads'
_UNPRIVILEGED = textwrap.dedent(
    """
    import json, os, subprocess, sys, threading
    from mockserver import media
    real = os.setpriority
    def refuse_lowering(which, who, value):
        if value < os.getpriority(which, who):
            raise PermissionError(1, "Operation not permitted")
        real(which, who, value)
    os.setpriority = refuse_lowering
    stop = threading.Event()
    started = threading.Thread(target=stop.wait)  # a request thread, already running
    started.start()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    moved = media.render_process._favour_renders(child.pid)
    later = []
    t = threading.Thread(target=lambda: later.append(os.getpriority(os.PRIO_PROCESS, 0)))
    t.start(); t.join()  # a thread started afterwards
    tasks = {int(t): os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")}
    print(json.dumps({"moved": moved, "render": os.getpriority(os.PRIO_PROCESS, child.pid),
                      "threads": sorted(set(tasks.values())), "later": later[0]}))
    stop.set(); started.join()
    child.communicate(b"")
    """
)


def test_without_the_right_to_lower_a_nice_value_the_worker_steps_back() -> None:
    base = _nice(0)
    out = subprocess.run(
        [sys.executable, "-c", _UNPRIVILEGED], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    expected = min(19, base + RENDER_PRIORITY)
    assert seen == {"moved": "workers", "render": base, "threads": [expected], "later": expected}


def test_a_worker_starts_its_render_process_at_its_first_request_not_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from werkzeug.test import EnvironBuilder

    from mockserver.http.serving import _PrewarmOnFirstRequest

    answered: list[str] = []
    starts: list[int] = []
    prewarm = media.prewarm_renders

    def counted() -> None:
        starts.append(1)
        prewarm()

    monkeypatch.setattr(media, "prewarm_renders", counted)

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        answered.append(str(environ["PATH_INFO"]))
        return [b"{}"]

    media.isolate_renders()
    try:
        worker = _PrewarmOnFirstRequest(app)
        assert media.render_process._isolation.child is None  # nothing at start-up
        for path in ("/a", "/b"):
            worker(EnvironBuilder(path=path).get_environ(), lambda *a: None)
            for thread in threading.enumerate():
                if thread.name == "render-prewarm":
                    thread.join(30)
        child = media.render_process._isolation.child
        assert child is not None and child.process.poll() is None
        assert answered == ["/a", "/b"]
        worker(EnvironBuilder(path="/c").get_environ(), lambda *a: None)
        for thread in threading.enumerate():
            if thread.name == "render-prewarm":
                thread.join(30)
        assert starts == [1]  # at the first request only
        assert media.render_process._isolation.child is child
        assert render_video(None, 64, 48, 1)[4:8] == b"ftyp"  # an MP4, from that process
        assert media.render_process._isolation.child is child  # the render used it
    finally:
        media.isolate_renders(False)
