"""A sans-I/O decoder for server-sent events: feed it bytes, take complete events out.

Follows the WHATWG rules this client needs: ``\\n``, ``\\r\\n`` or ``\\r`` line ends, ``:``
comment lines (keep-alives) ignored, several ``data:`` lines joined with ``\\n``, an event
dispatched on a blank line (and at the end of the stream, if one is pending).

Buffering is linear: a chunk is searched for line ends once, and the unfinished line is kept
as a list of pieces, so a line split over many chunks costs what its bytes cost. A line (or an
event's data) longer than ``max_line`` raises :class:`LineTooLong` instead of growing without
end: an event stream is small JSON chunks, never megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the longest line (and event data) accepted: 1 MiB
MAX_LINE = 1 << 20


class LineTooLong(ValueError):
    """A line or an event of the stream is longer than the decoder's limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"an event-stream line or event exceeds {limit} bytes")


@dataclass(frozen=True)
class Event:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        #: the unfinished line, in pieces (joined once its end arrives)
        self._pieces: list[bytes] = []
        self._pending = 0
        #: the previous chunk ended with CR: a LF starting the next one belongs to it
        self._after_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        start = 0
        if self._after_cr and chunk[:1] == b"\n":
            start = 1
        self._after_cr = False
        end = len(chunk)
        while start < end:
            lf = chunk.find(b"\n", start)
            cr = chunk.find(b"\r", start, lf if lf >= 0 else end)
            index = cr if cr >= 0 else lf
            if index < 0:
                self._keep(chunk[start:])
                break
            self._keep(chunk[start:index])
            line = b"".join(self._pieces)
            self._pieces, self._pending = [], 0
            start = index + 1
            if index == cr:
                if start < end and chunk[start] == 0x0A:
                    start += 1
                elif start == end:
                    self._after_cr = True
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[Event]:
        """End of stream: flush a last line without its line end, and a pending event."""
        events: list[Event] = []
        if self._pieces:
            line = b"".join(self._pieces)
            self._pieces, self._pending = [], 0
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        pending = self._dispatch()
        if pending is not None:
            events.append(pending)
        return events

    def _keep(self, piece: bytes) -> None:
        if not piece:
            return
        self._pending += len(piece)
        if self._pending > self.max_line:
            raise LineTooLong(self.max_line)
        self._pieces.append(piece)

    def _line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_line:
                raise LineTooLong(self.max_line)
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._event = ""
            return None
        event = Event("\n".join(self._data), self._event or "message", self._id)
        self._data = []
        self._data_size = 0
        self._event = ""
        return event
