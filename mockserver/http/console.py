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
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import time
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
    """Writes request lines to a stream (stdout by default), one ``write`` call per line, so
    lines from several threads or worker processes never interleave."""

    def __init__(
        self, fmt: str = "text", stream: IO[str] | None = None, *, show_dashboard: bool = False
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown log format {fmt!r}: use {' or '.join(FORMATS)}")
        self.format = fmt
        self.show_dashboard = show_dashboard
        self._stream = stream
        self._lock = threading.Lock()
        self._colour: bool | None = None
        #: lines not written since the console stopped being read (said once it is read again)
        self.dropped = 0

    @property
    def stream(self) -> IO[str]:
        return self._stream if self._stream is not None else sys.stdout

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
        stream = self.stream
        if stream is None:  # started with stdout closed (`sora-mock serve >&-`): no console
            return
        with self._lock:
            try:
                text = self.format_json(line) if self.format == "json" else self.format_text(line)
                if not self._room(stream):
                    self.dropped += 1  # nobody reads the console: the line goes, not the request
                    return
                if self.dropped:
                    stream.write(
                        f"sora-mock: {self.dropped} console line(s) dropped: the console was "
                        "not being read\n"
                    )
                    self.dropped = 0
                stream.write(_bounded(text) + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken console never fails a request

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
        clock = time.strftime("%H:%M:%S", time.localtime(line.time))
        status = str(line.status)
        if colour:
            status = _COLOURS.get(line.status // 100, "") + status + _RESET
        text = (
            f"{clock} {line.method:<7} {fit(line.path, PATH_WIDTH):<{PATH_WIDTH}} "
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
