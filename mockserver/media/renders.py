"""Renders scheduled when a job is created, so its video is ready when the job completes.

A bounded pool of threads takes the render whose job completes first (a heap ordered by that
moment); identical inputs share one key, so they render once (``MediaCache`` renders a key
once, whoever asks). No read or list starts a render: a download of a video that is not ready
yet renders it in the foreground, and the pool then finds it done.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable

from mockserver.media import MediaCache, RenderCrashed
from mockserver.state.store_guard import StoreUnavailable

log = logging.getLogger("mockserver")


class RenderQueue:
    def __init__(
        self,
        cache: MediaCache,
        threads: int = 1,
        depth: Callable[[int], None] | None = None,
    ) -> None:
        self._cache = cache
        #: told the renders queued or under way at each change (mockserver.state.metrics' gauge)
        self._depth = depth
        self._threads = max(1, threads)
        self._heap: list[tuple[float, int, Hashable, Callable[[], bytes]]] = []
        self._queued: set[Hashable] = set()
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._pid = 0
        self._running = 0

    def __len__(self) -> int:
        """Renders queued or under way."""
        with self._ready:
            return len(self._heap) + self._running

    def join(self, timeout: float) -> bool:
        """Wait until every scheduled render is done; False on timeout."""
        with self._ready:
            return self._ready.wait_for(lambda: not self._heap and not self._running, timeout)

    def schedule(self, key: Hashable, due: float, render: Callable[[], bytes]) -> None:
        """Render ``key`` in the background, earliest ``due`` first; nothing if it is cached
        or already queued."""
        if key in self._cache:
            return
        with self._ready:
            if key in self._queued:
                return
            self._queued.add(key)
            heapq.heappush(self._heap, (due, next(self._order), key, render))
            self._changed()
            self._start()
            self._ready.notify_all()

    def _start(self) -> None:
        import os

        if self._pid != os.getpid():  # threads do not survive a fork: start this process's own
            self._pid = os.getpid()
            self._workers = []
        while len(self._workers) < self._threads:
            worker = threading.Thread(target=self._run, name="media-render", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._heap:
                    self._ready.wait()
                _, _, key, render = heapq.heappop(self._heap)
                self._queued.discard(key)
                self._running += 1
                self._changed()
            try:
                self._cache.get(key, render)
            except StoreUnavailable as exc:  # said once on the console already; no traceback
                log.warning("background render of %r skipped: %s", key, exc.reason)
            except RenderCrashed:
                pass  # its job failed, and the console said so (MockService.render_crashed)
            except Exception:  # noqa: BLE001 - a failed render is retried by its download
                log.exception("background render of %r failed", key)
            finally:
                with self._ready:
                    self._running -= 1
                    self._changed()
                    self._ready.notify_all()

    def _changed(self) -> None:
        """(lock held) The depth changed."""
        if self._depth is not None:
            self._depth(len(self._heap) + self._running)
