"""Where a video is rendered: :func:`render_video` makes a clip from one encoded loop, kept in
memory (:class:`_Loops`) and in a directory the workers of one server share
(:func:`_shared_loop`); after :func:`isolate_renders` (what a ``sora-mock serve`` worker does)
it renders in a child process of its own (:class:`_RenderChild`), one that dies is replaced,
and an input that kills it twice fails its job (:class:`RenderCrashed`)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from mockserver.media.encoding import (
    DEFAULT_FPS,
    _check_size,
    _encode_loop,
    _frame_count,
    _repeat,
)
from mockserver.media.pictures import _loop_frames

log = logging.getLogger(__name__)


def render_video(
    image: bytes | None,
    width: int,
    height: int,
    seconds: float,
    *,
    fps: int = DEFAULT_FPS,
    caption: str | None = None,
) -> bytes:
    """Render an H.264 MP4 (yuv420p, BT.709, ``+faststart``) of ``width`` x ``height``.

    The clip has ``round(seconds * fps)`` frames (at least one), so its duration is
    ``seconds`` to within half a frame. ``image`` (JPEG/PNG/WEBP bytes) is cover-fitted and
    the view drifts gently across it and back once every ``LOOP_SECONDS``; with ``image=None``
    a placeholder showing "sora-mock placeholder" and ``caption`` is used. Raises
    :class:`ImageError` for a bad image and ``ValueError`` for odd or non-positive sizes or a
    non-positive duration.

    One loop is encoded (a closed GOP starting on a key frame) and its packets are repeated
    with shifted timestamps, so the cost hardly depends on the duration; the loop is kept
    (:data:`_LOOP_CACHE_BYTES`) for other durations of the same image and size. After
    :func:`isolate_renders`, the work is done in a child process.
    """
    _check_size(width, height)
    _frame_count(seconds, fps)  # a bad argument is raised here, in the caller's process
    if _isolation.enabled:
        crashes: list[str] = []
        for _ in range(3):
            try:
                return _render_child().call(image, width, height, seconds, fps, caption)
            except _ChildGone as exc:
                if not exc.crashed:  # it could not start, or had died before this render
                    log.warning("the render process is gone (%s): rendering in this process", exc)
                    break
                crashes.append(str(exc))
                if len(crashes) == 2:
                    # twice, each time in a fresh process: this input crashes the encoder, and
                    # rendering it here would take the worker (and its requests) down with it
                    raise RenderCrashed(crashes[-1]) from None
    return _render_video(image, width, height, seconds, fps, caption)


def _render_video(
    image: bytes | None, width: int, height: int, seconds: float, fps: int, caption: str | None
) -> bytes:
    frames = _frame_count(seconds, fps)
    count = min(frames, _loop_frames(fps))  # a clip shorter than a loop encodes what it shows
    digest = hashlib.sha256(image).digest() if image is not None else None
    key = (digest, caption if image is None else None, width, height, fps, count)
    loop = _loops.get(
        key,
        lambda: _shared_loop(key, lambda: _encode_loop(image, width, height, fps, count, caption)),
    )
    return _repeat(loop, frames, fps)


def _shared_loop(key: Hashable, encode: Callable[[], bytes]) -> bytes:
    """The encoded loop from the shared loop directory (:func:`isolate_renders`), or encoded
    here and put there. One process encodes a key while the others wait for it (an exclusive
    ``flock`` on a lock file per key), so the workers of one server encode each loop once: a
    download that reaches another worker before its render is done waits for that render
    instead of making the same video a second time. Without a directory: ``encode()``."""
    directory = _isolation.loops_dir
    if directory is None:
        return encode()
    import fcntl

    name = hashlib.sha256(repr(key).encode()).hexdigest()
    path = directory / f"{name}.mp4"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("loop cache: cannot read %s: %s", path, exc)
        return encode()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = open(directory / f"{name}.lock", "a+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        log.warning("loop cache: cannot lock in %s: %s", directory, exc)
        return encode()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        try:
            return path.read_bytes()  # made while this process waited
        except FileNotFoundError:
            pass
        data = encode()
        tmp = path.with_name(f".{name}.{os.getpid()}.part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:  # sharing is best effort: the loop is still used here
            log.warning("loop cache: cannot write %s: %s", path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
        return data


# --------------------------------------------------------------------------------------------
# A render process


class _ChildGone(Exception):
    """The render process died or could not start; ``crashed``: it died during a render."""

    def __init__(self, reason: str, *, crashed: bool = False) -> None:
        super().__init__(reason)
        self.crashed = crashed


class RenderCrashed(Exception):
    """The render process died rendering this input, twice (a crash in the encoder, the OOM
    killer): the video cannot be made. Its job fails; the server goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the render process died rendering it ({reason})")
        self.reason = reason


def _death(returncode: int | None) -> str:
    if returncode is None:
        return "its pipe closed"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class _RenderChild:
    """A child Python that renders videos: a request (the arguments of :func:`_render_video`)
    goes down one pipe, the answer (the MP4, or the exception) comes back up another; one
    render at a time. A plain ``python -c`` child, not ``multiprocessing``: that would import
    the server's main module (and with it Flask and the app) into the child first."""

    def __init__(self) -> None:
        import subprocess
        from multiprocessing.connection import Connection

        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        root = str(Path(__file__).resolve().parent.parent.parent)  # where mockserver/ lives
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        code = "import sys, mockserver.media as m; m._serve_renders(*sys.argv[1:])"
        loops = str(_isolation.loops_dir or "")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(down_r), str(up_w), loops],
                pass_fds=(down_r, up_w),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(down_r)
            os.close(up_w)
        self._requests = Connection(down_w, readable=False)
        self._answers = Connection(up_r, writable=False)
        self._lock = threading.Lock()
        self.alive = True
        self.owner = os.getpid()  # a forked copy of this object must not use its pipes

    def call(self, *request: Any) -> bytes:
        with self._lock:
            if not self.alive:
                raise _ChildGone("stopped")
            if self.process.poll() is not None:  # died idle (not this render's doing)
                self.alive = False
                raise _ChildGone(_death(self.process.returncode))
            try:
                self._requests.send(request)
                ok, answer = self._answers.recv()
            except (EOFError, OSError) as exc:
                self.alive = False
                try:
                    returncode: int | None = self.process.wait(5)
                except Exception:  # noqa: BLE001 - the reason is only for the console
                    returncode = self.process.poll()
                raise _ChildGone(_death(returncode), crashed=True) from exc
        if not ok:
            raise answer
        return bytes(answer)

    def stop(self) -> None:
        with self._lock:
            self.alive = False
            self._requests.close()  # the child sees EOF and exits
            self._answers.close()
        try:
            self.process.wait(10)
        except Exception:  # noqa: BLE001 - it must not outlive us
            self.process.kill()
            self.process.wait()


def _serve_renders(requests_fd: str, answers_fd: str, loops_dir: str = "") -> None:
    """The render process's loop, until the parent closes its end of the pipe (it does so
    when it exits, however it exits: then this process ends after the render under way).
    No PR_SET_PDEATHSIG: it fires when the parent *thread* that started this ends."""
    from multiprocessing.connection import Connection

    _isolation.loops_dir = Path(loops_dir) if loops_dir else None
    requests = Connection(int(requests_fd), writable=False)
    answers = Connection(int(answers_fd), readable=False)
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Any] = (True, _render_video(*request))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, raised there
            answer = (False, exc)
        try:
            try:
                answers.send(answer)
            except (TypeError, AttributeError, pickle.PicklingError):
                answers.send((False, RuntimeError(f"render failed: {answer[1]!r}")))
        except OSError:
            return


@dataclass
class _Isolation:
    enabled: bool = False
    child: _RenderChild | None = None
    #: where the workers of one server share their encoded loops (see _shared_loop)
    loops_dir: Path | None = None
    #: renders run before request threads (see _favour_renders)
    favour: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


#: how many nice steps a render process runs ahead of its worker's request threads. A job's
#: video is due when the job completes; a poll can wait a few milliseconds. Ten steps weigh
#: about 9 to 1 in Linux's scheduler: under a saturating poll load a cold render still gets
#: most of a core, and polls the rest of the machine (bench_renders measures both)
RENDER_PRIORITY = 10


def _favour_renders(pid: int) -> str:
    """Let the render process ``pid`` run ahead of this process's threads: lower its nice value
    where that is allowed (root, CAP_SYS_NICE, RLIMIT_NICE), otherwise raise this process's own
    (every thread's: on Linux a nice value belongs to a thread, and threads started later
    inherit their starter's). Returns which one moved, or "none" (a system without either)."""
    try:
        base = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, base - RENDER_PRIORITY)
        return "render"
    except PermissionError:
        pass
    except OSError:  # the child already exited: its replacement will be favoured
        return "none"
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # no /proc: the calling thread, the one that serves renders' callers
    moved = "none"
    for tid in threads:
        try:
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + RENDER_PRIORITY))
            moved = "workers"
        except OSError:
            pass  # a thread that ended meanwhile
    return moved


_isolation = _Isolation()


def isolate_renders(
    enabled: bool = True, *, loops_dir: Path | None = None, favour: bool = False
) -> None:
    """Render videos in a child process from now on (what a ``sora-mock serve`` worker does).

    In a server process, request threads and the render thread share one GIL, and PyAV
    gives it up and takes it back at every frame and packet: measured, a 1792x1024 render
    took 6x as long beside four busy Python threads. A child process has no GIL to share.
    It starts at the first render, not before (a server that never renders, as most test
    servers, spends nothing on it; the first render waits for the child's imports, ~0.5 s);
    it ends with this process and keeps the encoded loops of its renders (~70 MB of RSS).
    If it dies, renders go on in this process and the next one starts a new child.
    With ``loops_dir`` (a directory every worker of the server sees), the workers encode each
    loop once between them (:func:`_shared_loop`). With ``favour`` (a server's worker), the
    render process runs ahead of this process's request threads (:func:`_favour_renders`):
    otherwise a saturating poll load leaves a cold render a third of a core, and a job
    completes before its video is ready.
    """
    _isolation.enabled = enabled
    _isolation.loops_dir = loops_dir if enabled else None
    _isolation.favour = enabled and favour
    if not enabled:
        with _isolation.lock:
            child, _isolation.child = _isolation.child, None
        if child is not None:
            child.stop()


def prewarm_renders() -> None:
    """Start the render process now, if renders are isolated and it is not running: its
    imports (PyAV, numpy, Pillow: ~0.5 s) would otherwise delay the first render, and with it
    the video of a server's first job."""
    if not _isolation.enabled:
        return
    try:
        _render_child()
    except _ChildGone:
        pass  # the first render tries again, or renders here


def _render_child() -> _RenderChild:
    with _isolation.lock:
        child = _isolation.child
        if child is None or not child.alive or child.owner != os.getpid():
            try:
                child = _isolation.child = _RenderChild()
            except OSError as exc:
                raise _ChildGone(f"cannot start: {exc}") from exc
            if _isolation.favour:
                _favour_renders(child.process.pid)
        return child


class _Loops:
    """Encoded loops by (image digest, caption, size, fps, frames): least recently used go
    first past ``max_bytes``; one encode per key however many threads ask at once."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            data = self._hit(key)
            if data is not None:
                return data
            gate = self._making.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                data = self._hit(key)
            if data is not None:
                return data
            try:
                data = make()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            with self._lock:
                if len(data) <= self._max_bytes:
                    self._items[key] = data
                    self._bytes += len(data)
                    while self._bytes > self._max_bytes:
                        self._bytes -= len(self._items.popitem(last=False)[1])
            return data

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _hit(self, key: Hashable) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data


#: Bytes of encoded loops kept in memory (a 1792x1024 loop of a photo: about 0.5 MB).
_LOOP_CACHE_BYTES: Final = 32 * 1024 * 1024
_loops = _Loops(_LOOP_CACHE_BYTES)
