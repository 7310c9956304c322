"""A sans-I/O decoder for server-sent events: feed it bytes, take complete events out.

Follows the WHATWG rules this client needs: ``\\n``, ``\\r\\n`` or ``\\r`` line ends, ``:``
comment lines (keep-alives) ignored, several ``data:`` lines joined with ``\\n``, an event
dispatched on a blank line (and at the end of the stream, if one is pending).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        while True:
            line, found = self._take_line()
            if not found:
                break
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[Event]:
        """End of stream: flush a last line without its line end, and a pending event."""
        events: list[Event] = []
        if self._buffer:
            line = self._buffer.rstrip(b"\r")
            self._buffer = b""
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        pending = self._dispatch()
        if pending is not None:
            events.append(pending)
        return events

    def _take_line(self) -> tuple[str, bool]:
        buf = self._buffer
        ends = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
        if not ends:
            return "", False
        index = min(ends)
        if buf[index] == 0x0D:
            if index + 1 == len(buf):
                return "", False  # a CR at the very end may be the first half of CRLF
            end = index + 2 if buf[index + 1] == 0x0A else index + 1
        else:
            end = index + 1
        self._buffer = buf[end:]
        return buf[:index].decode("utf-8", "replace"), True

    def _line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
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
        self._event = ""
        return event
