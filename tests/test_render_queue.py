"""The background render pool (mockserver.media.renders.RenderQueue) on its own: what it counts as
waiting, when it reports done, what it leaves alone (a cached or queued key), how many renders
run at once, and that a failed render neither stops the pool nor loses its count."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import pytest

from mockserver.media import MediaCache
from mockserver.media.renders import RenderQueue


def _gate() -> tuple[threading.Event, threading.Event, Callable[[], bytes]]:
    """A render that says when it starts and ends only once released."""
    started, release = threading.Event(), threading.Event()

    def render() -> bytes:
        started.set()
        assert release.wait(10)
        return b"gated"

    return started, release, render


def test_an_empty_queue_is_done_at_once() -> None:
    queue = RenderQueue(MediaCache())
    assert len(queue) == 0
    assert queue.join(0) is True


def test_a_render_under_way_and_those_waiting_are_counted_until_done() -> None:
    cache = MediaCache()
    queue = RenderQueue(cache, threads=1)
    started, release, gated = _gate()
    queue.schedule("a", 0.0, gated)
    assert started.wait(10)
    assert len(queue) == 1, "the render under way"
    queue.schedule("b", 1.0, lambda: b"b")
    assert len(queue) == 2
    assert queue.join(0) is False, "not done while one runs and one waits"
    release.set()
    assert queue.join(10) is True
    assert len(queue) == 0
    assert cache.get("a", lambda: b"again") == b"gated"
    assert cache.get("b", lambda: b"again") == b"b"


def test_a_cached_or_queued_key_is_not_scheduled_again() -> None:
    cache = MediaCache()
    assert cache.get("done", lambda: b"cached") == b"cached"
    queue = RenderQueue(cache, threads=1)
    calls: list[str] = []
    queue.schedule("done", 0.0, lambda: calls.append("done") or b"x")  # type: ignore[func-returns-value]
    assert len(queue) == 0
    assert queue.join(10)
    started, release, gated = _gate()
    queue.schedule("busy", 0.0, gated)
    assert started.wait(10)
    queue.schedule("later", 1.0, lambda: calls.append("later") or b"1")  # type: ignore[func-returns-value]
    queue.schedule("later", 0.5, lambda: calls.append("twice") or b"2")  # type: ignore[func-returns-value]
    assert len(queue) == 2
    release.set()
    assert queue.join(10)
    assert calls == ["later"]
    # once rendered (no longer queued), the key is the cache's: still not scheduled again
    queue.schedule("later", 2.0, lambda: calls.append("thrice") or b"3")  # type: ignore[func-returns-value]
    assert queue.join(10)
    assert calls == ["later"]


@pytest.mark.parametrize("threads", [0, 1])
def test_a_pool_has_at_least_one_thread_and_renders_one_at_a_time(threads: int) -> None:
    queue = RenderQueue(MediaCache(), threads=threads)
    started, release, gated = _gate()
    queue.schedule("a", 0.0, gated)
    assert started.wait(10), "no thread took the render"
    second = threading.Event()
    queue.schedule("b", 0.0, lambda: second.set() or b"b")  # type: ignore[func-returns-value]
    assert not second.is_set()
    assert len(queue) == 2, "the second waits for the only thread"
    release.set()
    assert queue.join(10)
    assert second.is_set()


def test_a_pool_of_two_threads_runs_two_renders_at_once() -> None:
    queue = RenderQueue(MediaCache(), threads=2)
    first, release_first, gated_first = _gate()
    second, release_second, gated_second = _gate()
    queue.schedule("a", 0.0, gated_first)
    queue.schedule("b", 1.0, gated_second)
    assert first.wait(10)
    assert second.wait(10), "the second render waited for the first"
    assert len(queue) == 2, "two under way"
    release_first.set()
    release_second.set()
    assert queue.join(10)
    assert len(queue) == 0
    assert [t.name for t in _threads(queue)] == ["media-render"] * 2


def _threads(queue: RenderQueue) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if getattr(t, "_target", None) == queue._run]


@pytest.mark.parametrize(("threads", "expected"), [(None, 1), (0, 1), (1, 1), (3, 3)])
def test_a_pool_starts_its_daemon_threads_at_its_first_render(
    threads: int | None, expected: int
) -> None:
    queue = RenderQueue(MediaCache()) if threads is None else RenderQueue(MediaCache(), threads)
    assert _threads(queue) == [], "no thread before there is work"
    for n in range(4):
        queue.schedule(f"key-{n}", float(n), lambda: b"x")
    assert queue.join(10)
    workers = _threads(queue)
    assert len(workers) == expected
    assert all(t.name == "media-render" and t.daemon for t in workers)


def test_a_key_whose_render_failed_can_be_scheduled_again() -> None:
    queue = RenderQueue(MediaCache(), threads=1)

    def broken() -> bytes:
        raise OSError("encoder gone")

    queue.schedule("k", 0.0, broken)
    assert queue.join(10)
    queue.schedule("k", 0.0, lambda: b"rendered")
    assert queue.join(10)
    assert "k" in queue._cache


def test_a_forked_process_renders_with_threads_of_its_own() -> None:
    queue = RenderQueue(MediaCache(), threads=1)
    queue.schedule("parent", 0.0, lambda: b"p")
    assert queue.join(10)
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread did not come along
        code = 3
        try:
            queue.schedule("child", 0.0, lambda: b"c")
            code = 0 if queue.join(20) and "child" in queue._cache else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_failed_render_is_logged_and_the_pool_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = RenderQueue(MediaCache(), threads=1)

    def broken() -> bytes:
        raise OSError("encoder gone")

    with caplog.at_level(logging.ERROR, logger="mockserver"):
        queue.schedule("broken", 0.0, broken)
        assert queue.join(10), "a failed render still counts as done"
    assert len(queue) == 0
    assert [r.getMessage() for r in caplog.records] == ["background render of 'broken' failed"]
    assert "encoder gone" in caplog.text
    done = threading.Event()
    queue.schedule("next", 0.0, lambda: done.set() or b"ok")  # type: ignore[func-returns-value]
    assert queue.join(10)
    assert done.is_set(), "the pool's thread survived the failure"
