"""The render-once asset cache (:class:`MediaCache`): in memory within a byte budget, on disk
within another (shared by every process of a server), and through a shared Redis tier across
hosts; a background renderer for a job's assets, and nothing queued left to delay exit."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

log = logging.getLogger(__name__)

#: In-memory budget of :class:`MediaCache`.
DEFAULT_CACHE_BYTES: Final = 256 * 1024 * 1024
#: On-disk budget of :class:`MediaCache` (``--media-dir-bytes``; 0: no limit). Every distinct
#: reference image renders a new video, so without one a flood of distinct creates fills the
#: disk (issue 21); 1 GiB keeps some thousands of videos of a few hundred KB.
DEFAULT_DISK_BYTES: Final = 1 << 30


@dataclass
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


if TYPE_CHECKING:
    from mockserver.media.media_store import RedisMediaStore


class MediaCache:
    """Render-once store for media assets, keyed by any hashable (e.g. ``(job_id, variant)``).

    * ``get(key, render)`` returns the cached bytes or calls ``render()`` once, even when many
      threads ask for the same key at the same time (a lock per key).
    * ``prerender(key, render)`` renders in one background thread; a ``get`` for that key
      waits for it instead of rendering a second time.
    * With ``directory``, every asset is also written there (temp file + ``os.replace``) and a
      later cache on the same directory reads it back instead of rendering. File names are the
      SHA-256 of ``repr(key)``, so keys must have a stable repr (str/int/tuples of those).
    * The in-memory part keeps at most ``max_bytes`` (least recently used assets go first;
      an asset larger than the budget is returned but not kept in memory).
    * The directory keeps at most ``disk_max_bytes`` (0: no limit) of assets, whichever
      processes share it: after each write the least recently used files (by mtime, which a
      read from disk refreshes) are deleted until the rest fit. An evicted asset is rendered
      again when it is next asked for.
    * With ``shared`` (``media_store.RedisMediaStore``: several hosts, one Redis), an asset
      missing from memory and disk is taken from there, or rendered once for every host.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        disk_max_bytes: int = DEFAULT_DISK_BYTES,
        shared: RedisMediaStore | None = None,
        timed_render: Callable[[Hashable, Callable[[], bytes]], Callable[[], bytes]] | None = None,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if disk_max_bytes < 0:
            raise ValueError(f"disk_max_bytes must be >= 0, got {disk_max_bytes}")
        self._disk_max_bytes = disk_max_bytes
        self._directory = Path(directory) if directory is not None else None
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._shared = shared
        #: wraps each render that runs (mockserver.state.metrics: counted and timed)
        self._timed_render = timed_render
        self._lock = threading.Lock()
        self._memory: OrderedDict[Hashable, bytes] = OrderedDict()
        self._memory_bytes = 0
        self._key_locks: dict[Hashable, _KeyLock] = {}
        self._pending: dict[Hashable, Future[bytes]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        _live_caches.add(self)

    # -- introspection ------------------------------------------------------------------

    @property
    def directory(self) -> Path | None:
        return self._directory

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def disk_max_bytes(self) -> int:
        return self._disk_max_bytes

    @property
    def memory_bytes(self) -> int:
        """Bytes currently held in memory."""
        with self._lock:
            return self._memory_bytes

    def __contains__(self, key: Hashable) -> bool:
        """True if ``key`` is available without rendering (in memory or on disk)."""
        with self._lock:
            if key in self._memory:
                return True
        path = self._path(key)
        if path is not None and path.is_file():
            return True
        return self._shared is not None and self._name(key) in self._shared

    # -- main API -----------------------------------------------------------------------

    def get(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The bytes for ``key``, calling ``render()`` only if no one has rendered them yet."""
        with self._lock:
            data = self._memory_hit(key)
            pending = self._pending.get(key) if data is None else None
        if data is not None:
            return data
        if pending is not None:
            try:
                return pending.result()
            except (CancelledError, Exception):
                # Discarded or failed in the background: render here, so a persistent
                # error is raised in the caller's thread with its own traceback.
                pass
        return self._load_or_render(key, render, wanted=None)

    def prerender(self, key: Hashable, render: Callable[[], bytes]) -> Future[bytes]:
        """Render ``key`` in the background (one worker thread); returns its future.

        Does nothing new if the asset is in memory or already queued. Rendering errors are
        left in the future; a later ``get`` retries in the foreground.
        """
        holder: list[Future[bytes]] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("MediaCache is closed")
            data = self._memory.get(key)
            if data is not None:
                done: Future[bytes] = Future()
                done.set_result(data)
                return done
            pending = self._pending.get(key)
            if pending is not None:
                return pending
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="media-prerender"
                )
            future = self._executor.submit(self._prerender_job, key, render, holder)
            holder.append(future)  # the job reads it only under self._lock
            self._pending[key] = future
        future.add_done_callback(lambda f: self._forget_pending(key, f))
        return future

    def discard(self, key: Hashable) -> None:
        """Drop ``key`` from memory and disk, cancelling or outliving a render in progress
        (a shared Redis tier keeps it: other hosts may be serving it)."""
        with self._lock:
            pending = self._pending.pop(key, None)
            self._drop_from_memory(key)
        if pending is not None:
            pending.cancel()  # only succeeds while still queued; a running job won't store
        with self._key_lock(key):  # wait for a foreground render of this key to finish
            with self._lock:
                self._drop_from_memory(key)
            path = self._path(key)
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def close(self, *, wait: bool = False) -> None:
        """Cancel queued background renders and stop the worker (idempotent)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    def _prerender_job(
        self, key: Hashable, render: Callable[[], bytes], holder: list[Future[bytes]]
    ) -> bytes:
        def wanted() -> bool:
            with self._lock:
                return bool(holder) and self._pending.get(key) is holder[0]

        return self._load_or_render(key, render, wanted=wanted)

    def _forget_pending(self, key: Hashable, future: Future[bytes]) -> None:
        with self._lock:
            if self._pending.get(key) is future:
                del self._pending[key]

    def _load_or_render(
        self, key: Hashable, render: Callable[[], bytes], wanted: Callable[[], bool] | None
    ) -> bytes:
        with self._key_lock(key):
            with self._lock:
                data = self._memory_hit(key)
            if data is not None:
                return data
            data = self._read_disk(key)
            from_disk = data is not None
            if data is None:
                if self._timed_render is not None:
                    render = self._timed_render(key, render)
                shared = self._shared
                data = render() if shared is None else shared.get_or_render(self._name(key), render)
                if not isinstance(data, bytes):
                    raise TypeError(f"render() must return bytes, not {type(data).__name__}")
            if wanted is not None and not wanted():
                return data  # discarded while rendering: hand it out but keep nothing
            if not from_disk:
                self._write_disk(key, data)
            with self._lock:
                self._remember(key, data)
            return data

    @contextlib.contextmanager
    def _key_lock(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            entry = self._key_locks.get(key)
            if entry is None:
                entry = self._key_locks[key] = _KeyLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._lock:
                entry.users -= 1
                if entry.users == 0:
                    del self._key_locks[key]

    # The following four expect self._lock to be held.

    def _memory_hit(self, key: Hashable) -> bytes | None:
        data = self._memory.get(key)
        if data is not None:
            self._memory.move_to_end(key)
        return data

    def _remember(self, key: Hashable, data: bytes) -> None:
        self._drop_from_memory(key)
        if len(data) > self._max_bytes:
            return
        self._memory[key] = data
        self._memory_bytes += len(data)
        while self._memory_bytes > self._max_bytes:
            _, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= len(evicted)

    def _drop_from_memory(self, key: Hashable) -> None:
        data = self._memory.pop(key, None)
        if data is not None:
            self._memory_bytes -= len(data)

    @staticmethod
    def _name(key: Hashable) -> str:
        return hashlib.sha256(repr(key).encode("utf-8", "backslashreplace")).hexdigest()

    def _path(self, key: Hashable) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / f"{self._name(key)}.bin"

    def _read_disk(self, key: Hashable) -> bytes | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("media cache: cannot read %s: %s", path, exc)
            return None
        if self._disk_max_bytes:
            with contextlib.suppress(OSError):  # used now: the last the disk budget evicts
                os.utime(path)
        return data

    def _write_disk(self, key: Hashable, data: bytes) -> None:
        path = self._path(key)
        if path is None:
            return
        budget = self._disk_max_bytes
        if budget and len(data) > budget:
            return  # larger than the whole disk budget: served, not kept
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with self._disk_budget_lock(path.parent) if budget else contextlib.nullcontext():
                if budget:  # room first, then the file: the directory is never over budget
                    self._trim_disk(path.parent, budget - len(data), path)
                os.replace(tmp, path)
            tmp = None
        except OSError as exc:  # persistence is best effort: the bytes are still served
            log.warning("media cache: cannot write %s: %s", path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    @staticmethod
    @contextlib.contextmanager
    def _disk_budget_lock(directory: Path) -> Iterator[None]:
        """Every process sharing the directory makes room and adds its file under one lock
        (an flock on the directory itself: a write and its eviction are one step for all)."""
        import fcntl

        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor is closed
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _trim_disk(directory: Path, room: int, replacing: Path) -> None:
        """(budget lock held) Delete the least recently used assets (by mtime: a read from
        disk refreshes it) until the rest take at most ``room`` bytes; ``replacing`` is about
        to be written over, so it does not count."""
        files: list[tuple[float, int, str]] = []
        total = 0
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.endswith(".bin") or entry.path == str(replacing):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, entry.path))
                total += st.st_size
        if total <= room:
            return
        files.sort()
        for _, size, name in files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            total -= size
            if total <= room:
                break


# Interpreter exit joins ThreadPoolExecutor workers only after they drained their queue, which
# could mean minutes of queued renders. threading's own exit hooks run before that join (and in
# reverse order of registration, so after concurrent.futures' hook was registered at import,
# this one runs first): cancel whatever is still queued so exit waits for one render at most.
_live_caches: weakref.WeakSet[MediaCache] = weakref.WeakSet()


def _close_live_caches() -> None:
    for cache in list(_live_caches):
        cache.close()


_register_threading_atexit: Any = getattr(threading, "_register_atexit", None)
if _register_threading_atexit is not None:
    _register_threading_atexit(_close_live_caches)
