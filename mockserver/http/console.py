"""The server console: one line per request, as text for people or JSON for machines.

    10:02:11 POST    /gptge/v1/videos                         gptge     200   121.4 ms
    10:02:12 GET     /gptge/v1/videos/video_68f0821…6de64dc5  gptge     429     0.5 ms  [slow]

(the path column is 40 wide: a longer path loses the middle of its longest segments, the ids,
then its own middle, so the columns after it stay in line; the last field is the error
message as a JSON string)

A line carries the time, method, path (never the query string), provider, status, latency,
the scenario that applied and, for a 4xx/5xx, the error message. Keys never appear: a request's
key is not logged at all (the journal keeps only its fingerprint), and one sent where it does
not belong (in the path, as a scenario name) is masked (``exchange.finish``). The dashboard's
own requests are left out, or its polling would drown everything else: successful GETs under
``/__mock/``, and whatever it sends marked ``X-Mock-Client: dashboard`` (a job page's status
read from the provider API), unless ``show_dashboard`` (``--log-dashboard``): then they show,
tagged ``(dashboard)``.

A request thread only hands its line over (a queue put: no system call, and no lock another
request thread holds, which 32-47 % of requests found taken when each wrote its own line under
one: benchmarks/README.md); one writer thread per worker process formats the lines and writes
them in batches. Each write is whole lines and at most PIPE_BUF bytes, so the lines of several
workers sharing a pipe never interleave, and it is made only when the console has room: a
console nobody reads drops lines (said once it is read again), never blocks a request. Lines
handed over beyond :data:`MAX_WAITING` are dropped too, and said. The writer is started by the
first line of the process that writes (a granian worker is forked after the app is built),
and the lines handed over are written before the process exits (:data:`DRAIN_SECONDS` at
most); :meth:`RequestLog.flush` waits for them.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import IO, Any

FORMATS = ("text", "json")
#: the width of the text format's path column
PATH_WIDTH = 40
#: the longest line written: a pipe takes a line this long in one write once it has room
#: (POSIX's PIPE_BUF is at least 512 bytes; Linux's 4096), so a write never waits midway
MAX_LINE_BYTES = 3800
#: what stands for the characters a long path loses
ELLIPSIS = "…"
#: the shortest a shortened segment gets: enough of an id's both ends to tell it apart
SEGMENT_KEEP = 9
#: the ``X-Mock-Client`` value of the dashboard's own requests
DASHBOARD = "dashboard"
#: the most bytes one write carries: POSIX keeps a pipe write of at most PIPE_BUF bytes whole
#: (Linux: 4096), so the lines of several workers sharing one pipe never interleave, and a
#: pipe that says it has room takes the write at once
WRITE_BYTES = getattr(select, "PIPE_BUF", 4096)
#: the part of a write kept for the notice of dropped lines that goes before its lines
NOTICE_BYTES = 256
#: lines handed over and not yet taken by the writer, at most: more are dropped (counted in
#: ``dropped``, said on the console). The writer falls behind only while it is starved of the
#: GIL (a full pipe is no reason: it drops those lines); 10,000 lines is more than a second of
#: a worker's fastest polling, and a few MB at most (a line is a few hundred bytes)
MAX_WAITING = 10_000
#: how long :meth:`RequestLog.flush` waits by default, and a process's exit for its lines in
#: all (granian kills a worker that has not stopped 3 s after being asked)
DRAIN_SECONDS = 1.0
#: paths the text format keeps fitted to their column (then it starts again), each at most
#: FITTED_PATH_LENGTH characters long: some 300 kB in all
FITTED_PATHS = 1024
FITTED_PATH_LENGTH = 256
#: a writer thread with nothing to write for this long ends (the next line starts another)
IDLE_SECONDS = 10.0
#: after each batch the writer lets lines gather this long: under load a request thread's
#: hand-over is then a list append (no thread waits to be woken), and one write takes many
#: lines; an idle console still shows a line at once (the writer waits for it)
GATHER_SECONDS = 0.01

_RESET = "\033[0m"
_COLOURS = {2: "\033[32m", 3: "\033[36m", 4: "\033[33m", 5: "\033[31m"}
_DIM = "\033[2m"


def _bounded(text: str) -> str:
    """``text`` cut to :data:`MAX_LINE_BYTES` bytes of UTF-8, ending in an ellipsis when cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_LINE_BYTES:
        return text
    return data[: MAX_LINE_BYTES - 3].decode("utf-8", "ignore") + ELLIPSIS


def fit(path: str, width: int) -> str:
    """``path`` in at most ``width`` characters: its longest segments (the ids) lose their
    middle first, each down to :data:`SEGMENT_KEEP` characters, then the path its own middle.
    Both ends of an id stay readable, and a path that fits is left as it is."""
    if len(path) <= width:
        return path
    segments = path.split("/")

    def rank(i: int) -> tuple[bool, int]:  # ids (they hold digits) first, then the longest
        return (any(c.isdigit() for c in segments[i]), len(segments[i]))

    while len(path) > width:
        candidates = [i for i in range(len(segments)) if len(segments[i]) > SEGMENT_KEEP]
        if not candidates:
            break
        longest = max(candidates, key=rank)
        segment = segments[longest]
        keep = max(SEGMENT_KEEP, len(segment) - (len(path) - width))
        head = keep // 2
        segments[longest] = segment[:head] + ELLIPSIS + segment[len(segment) - (keep - 1 - head) :]
        path = "/".join(segments)
    if len(path) > width:
        head = (width - 1) // 2
        path = path[:head] + ELLIPSIS + path[len(path) - (width - 1 - head) :]
    return path


@dataclass
class RequestLine:
    time: float
    method: str
    path: str
    provider: str | None
    status: int
    latency_ms: float
    scenario: str | None = None
    error: str | None = None
    job_id: str | None = None
    #: who sent it, by its ``X-Mock-Client`` header (``dashboard``)
    client: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.time))
            + f".{int(self.time * 1000) % 1000:03d}Z",
            "method": self.method,
            "path": self.path,
            "provider": self.provider,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "scenario": self.scenario,
            "error": self.error,
            "job_id": self.job_id,
            "client": self.client,
        }


class RequestLog:
    """Request lines to a stream (stdout by default). A request thread only hands its line
    over (a queue put: no system call, no lock another request thread holds); one writer
    thread per process formats the lines and writes them in batches, each batch in writes of
    at most :data:`WRITE_BYTES`, so lines never interleave, from several threads or several
    worker processes, and one process's lines keep their order. :meth:`flush` waits for what
    was handed over; at exit what waits is written (:data:`DRAIN_SECONDS` at most)."""

    def __init__(
        self, fmt: str = "text", stream: IO[str] | None = None, *, show_dashboard: bool = False
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown log format {fmt!r}: use {' or '.join(FORMATS)}")
        self.format = fmt
        self.show_dashboard = show_dashboard
        self._stream = stream
        self._colour: bool | None = None
        self._clock: tuple[int | None, str] = (None, "")  # a second, as the text format shows it
        self._paths: dict[str, str] = {}  # a path, fitted to its column
        self._queue: queue.SimpleQueue[RequestLine | threading.Event] = queue.SimpleQueue()
        self._running = False  # a writer thread of this process takes what is handed over
        self._start_lock = threading.Lock()
        self._hurry = threading.Event()  # a flush waits: the writer gathers no longer
        self._writer: threading.Thread | None = None
        #: lines the writer dropped (the console was not being read), not said yet
        self._unread = 0
        #: lines not handed over (more than MAX_WAITING were waiting), not said yet
        self._overflow = 0
        self._overflow_lock = threading.Lock()
        _logs.add(self)

    @property
    def stream(self) -> IO[str]:
        return self._stream if self._stream is not None else sys.stdout

    @property
    def dropped(self) -> int:
        """Lines dropped and not said yet: the console was not read, or a burst was more than
        :data:`MAX_WAITING` lines ahead of the writer."""
        return self._unread + self._overflow

    def wanted(self, method: str, path: str, status: int, client: str | None = None) -> bool:
        """Everything but the dashboard's own successful reads, and (unless
        ``show_dashboard``) whatever the dashboard marked as its own."""
        if client == DASHBOARD and not self.show_dashboard:
            return False
        dashboard_read = method in ("GET", "HEAD") and (
            path == "/" or path.startswith("/__mock/") or path == "/favicon.ico"
        )
        return not (dashboard_read and status < 400)

    def write(self, line: RequestLine) -> None:
        """Hand ``line`` to the writer thread; never waits, never fails."""
        if self._stream is None and sys.stdout is None:
            return  # started with stdout closed (`sora-mock serve >&-`): no console
        if self._queue.qsize() >= MAX_WAITING:
            with self._overflow_lock:  # (only ever taken in a burst the writer cannot keep up with)
                self._overflow += 1
            return
        self._queue.put(line)
        if not self._running:
            self._start()

    def flush(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every line handed over before this call is written (or dropped, if the
        console is not read), ``timeout`` seconds at most: whether it was."""
        if not self._running and self._queue.empty():
            return True  # nothing handed over in this process waits
        done = threading.Event()
        self._queue.put(done)
        self._hurry.set()
        if not self._running:  # the writer ended, idle, since the test above
            self._start()
        return done.wait(timeout)

    def _start(self) -> None:
        """Start this process's writer thread, unless one runs (threads do not survive a fork:
        a forked worker starts its own, on its first line)."""
        with self._start_lock:
            if self._running:
                return
            self._running = True
            self._writer = threading.Thread(target=self._run, name="console-writer", daemon=True)
            self._writer.start()

    def _forked(self) -> None:
        """(in a forked child, before any other thread runs) The parent's writer is not here,
        nor are the parent's lines: the parent writes them."""
        self._queue = queue.SimpleQueue()
        self._running = False
        self._writer = None
        self._hurry = threading.Event()
        self._start_lock = threading.Lock()
        self._overflow_lock = threading.Lock()

    def _run(self) -> None:
        """The writer thread: take whatever waits, write it, and stop after
        :data:`IDLE_SECONDS` without a line (the next line starts another)."""
        waiting = self._queue
        while True:
            try:
                first = waiting.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._start_lock:
                    if waiting.empty():
                        self._running = False
                        return
                continue
            batch = [first]
            try:
                while len(batch) < MAX_WAITING:
                    batch.append(waiting.get_nowait())
            except queue.Empty:
                pass
            lines = [item for item in batch if isinstance(item, RequestLine)]
            try:
                if lines:
                    self._emit(lines)
            except Exception:  # noqa: BLE001 - a console that fails loses lines, never the writer
                pass
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            self._hurry.wait(GATHER_SECONDS)
            self._hurry.clear()

    def _emit(self, lines: list[RequestLine]) -> None:
        """Format ``lines`` and write them in as few writes as :data:`WRITE_BYTES` allows."""
        stream = self.stream
        if stream is None:
            return
        form = self.format_json if self.format == "json" else self.format_text
        chunk: list[str] = []
        size = 0
        for line in lines:
            text = _bounded(form(line)) + "\n"
            length = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
            if chunk and size + length > WRITE_BYTES - NOTICE_BYTES:
                self._put(stream, chunk)
                chunk, size = [], 0
            chunk.append(text)
            size += length
        if chunk:
            self._put(stream, chunk)

    def _put(self, stream: IO[str], chunk: list[str]) -> None:
        """One write and one flush of ``chunk``'s lines, after the notice of the lines dropped
        before them; none if the console has no room (a pipe nobody reads): they are dropped."""
        if not self._room(stream):
            self._unread += len(chunk)  # nobody reads the console: the lines go, not the requests
            return
        with self._overflow_lock:
            overflow, self._overflow = self._overflow, 0
        notice = ""
        if self._unread:
            notice += (
                f"sora-mock: {self._unread} console line(s) dropped: the console was not being "
                "read\n"
            )
        if overflow:
            notice += (
                f"sora-mock: {overflow} console line(s) dropped: more than {MAX_WAITING} were "
                "waiting to be written\n"
            )
        try:
            try:
                stream.write(notice + "".join(chunk))
            except UnicodeError:  # a line the stream cannot encode: the others are written
                for text in [notice, *chunk]:
                    try:
                        stream.write(text)
                    except UnicodeError:
                        pass
            stream.flush()
        except (OSError, ValueError):
            return  # a closed or broken console loses its lines, and says nothing
        finally:
            self._unread = 0

    @staticmethod
    def _room(stream: IO[str]) -> bool:
        """Whether a line can be written without waiting: a pipe nobody reads fills up, and a
        write to a full pipe blocks the request thread (and every other, on this lock) for
        ever. An OS pipe or terminal is asked (poll); anything else (a file, a StringIO)
        always has room."""
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            return True
        try:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    @staticmethod
    def format_json(line: RequestLine) -> str:
        return json.dumps(line.to_dict(), ensure_ascii=False)

    def format_text(self, line: RequestLine) -> str:
        colour = self._use_colour()
        second = int(line.time)
        cached = self._clock
        if cached[0] != second:  # lines come many a second: the clock is worked out once
            cached = self._clock = (second, time.strftime("%H:%M:%S", time.localtime(second)))
        clock = cached[1]
        path = self._paths.get(line.path)
        if path is None:  # a client polls the same few paths: each is fitted once
            path = fit(line.path, PATH_WIDTH).ljust(PATH_WIDTH)
            if len(line.path) <= FITTED_PATH_LENGTH:  # (a path may be as long as a header)
                if len(self._paths) >= FITTED_PATHS:
                    self._paths.clear()
                self._paths[line.path] = path
        status = str(line.status)
        if colour:
            status = _COLOURS.get(line.status // 100, "") + status + _RESET
        text = (
            f"{clock} {line.method:<7} {path} "
            f"{line.provider or '-':<9} "
            f"{status} {line.latency_ms:7.1f} ms"
        )
        if line.client:
            text += f"  ({line.client})"
        if line.scenario:
            text += f"  [{line.scenario}]"
        if line.error and line.status >= 400:
            message = json.dumps(line.error, ensure_ascii=False)
            text += f"  {_DIM}{message}{_RESET}" if colour else f"  {message}"
        return text

    def _use_colour(self) -> bool:
        if self._colour is None:
            isatty = getattr(self.stream, "isatty", None)
            self._colour = bool(
                isatty is not None
                and isatty()
                and "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb"
            )
        return self._colour


#: every live console of this process: a fork resets them, an exit drains them
_logs: weakref.WeakSet[RequestLog] = weakref.WeakSet()


def _after_fork() -> None:
    for log in list(_logs):
        log._forked()


def _drain() -> None:
    """At exit (the CLI's, a test run's, a granian worker's after SIGTERM: its process runs
    ``threading``'s exit calls), the lines handed over are written, within DRAIN_SECONDS."""
    deadline = time.monotonic() + DRAIN_SECONDS
    for log in list(_logs):
        if log._running:
            log.flush(max(0.0, deadline - time.monotonic()))


os.register_at_fork(after_in_child=_after_fork)
# before the threads are joined, and also in a multiprocessing child (a granian worker),
# which runs no atexit calls
getattr(threading, "_register_atexit", atexit.register)(_drain)
