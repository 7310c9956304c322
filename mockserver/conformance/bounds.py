"""The proxy's bounds: every input it reads has a limit (contracts/README.md, "The proxy,
cassettes and replay: choices").

* a request body is read as it arrives and counted (:func:`read_body`);
* an answer's content codings come off layer by layer, a chunk at a time (:class:`Decoder`);
* an event stream is cut into blocks in linear time, holding only the unfinished one
  (:class:`EventBlocks`);
* what the proxy holds back has a deadline, not only each read (:class:`Deadline`, fired by
  one :class:`Watchdog` thread per proxy, which shuts the upstream socket);
* the client's side knows whether the answer began, whether the client is still there, and
  how to end an answer without its end (:class:`Answer`);
* a request path never climbs out of the upstream's base path (:func:`contained_target`).
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
from werkzeug.exceptions import ClientDisconnected

#: the size of one read or one inflating step
CHUNK = 64 * 1024


class BodyRefused(Exception):
    """A request body the proxy will not forward (too large, or cut by the client)."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class ClientGone(Exception):
    """The client closed its connection while the proxy was still reading the upstream."""


def read_body(
    environ: dict[str, Any], declared: int | None, limit: int, held: list[bytes]
) -> Iterator[bytes]:
    """The request body as it arrives, counted as it streams (a chunked body declares no
    length); every chunk is also kept in ``held`` (at most ``limit`` bytes). With a declared
    length each read returns what the socket has (``read1``), so the upstream gets the body
    as the client sends it; a chunked body comes in Werkzeug's blocks of ``CHUNK``."""
    stream = environ["wsgi.input"]
    terminated = bool(environ.get("wsgi.input_terminated"))
    remaining = -1 if terminated else (declared or 0)
    read = getattr(stream, "read1", None) if not terminated else None
    read = read or stream.read
    total = 0
    while remaining != 0:
        try:
            chunk = read(CHUNK if remaining < 0 else min(CHUNK, remaining))
        except (OSError, ClientDisconnected) as exc:
            raise BodyRefused(400, _CUT_BODY, "bad_request") from exc
        if not chunk:
            if remaining > 0:
                raise BodyRefused(400, _CUT_BODY, "bad_request")
            return
        if remaining > 0:
            remaining -= len(chunk)
        total += len(chunk)
        if total > limit:
            raise BodyRefused(
                413,
                f"the request body is larger than the proxy's limit of {limit} bytes "
                "(counted as it streamed): not forwarded whole",
                "request_too_large",
            )
        held.append(chunk)
        yield chunk


_CUT_BODY = "the request body ended before its declared end: not forwarded whole"


def then(chunks: Iterator[bytes], done: Callable[[], None]) -> Iterator[bytes]:
    yield from chunks
    done()


class Watchdog:
    """One thread per proxy that fires each armed :class:`Deadline` when its time comes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Deadline, float] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, deadline: Deadline, at: float) -> None:
        with self._cond:
            self._due[deadline] = at
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="sora-mock-proxy-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def disarm(self, deadline: Deadline) -> None:
        with self._cond:
            self._due.pop(deadline, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                fired = [d for d, at in self._due.items() if at <= now]
                for deadline in fired:
                    del self._due[deadline]
                if not fired:
                    soonest = min(self._due.values(), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
            for deadline in fired:
                deadline.expire()


class Deadline:
    """--timeout for what the proxy holds back, not only for each read: when it passes, the
    upstream socket is shut down, which wakes a read blocked on it (a dripping upstream)."""

    def __init__(self, watchdog: Watchdog, seconds: float) -> None:
        self._watchdog = watchdog
        self.seconds = seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        """(Re)start the clock: what is held now must arrive within ``seconds``."""
        self._watchdog.arm(self, time.monotonic() + self.seconds)

    def disarm(self) -> None:
        self._watchdog.disarm(self)

    def release(self) -> None:
        """Before the connection goes back to the pool: never touch its socket again."""
        self.disarm()
        with self._lock:
            self._sock = None

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension: the socket of a connection opened for this request
        (so the deadline also covers an upstream that drips its status line)."""
        if name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            if stream is not None:
                self.watch(stream.get_extra_info("socket"))
        elif name == "http11.response_closed.started":
            # the answer is over and its connection about to go back to the pool, where
            # another request may take it: this deadline must never shut it from now on
            self.release()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            if self.expired:
                shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                shut(self._sock)


def shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def socket_of(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    return sock if isinstance(sock, socket.socket) else None


class Answer:
    """The client's side of one answer: whether it has begun, whether the client is still
    there, and how to end it without a clean ending (so a cut answer never looks whole)."""

    def __init__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        self.environ = environ
        self.start_response = start_response
        self.started = False

    def start(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.started = True
        self.start_response(status, headers)

    def check_client(self) -> None:
        """Raise :class:`ClientGone` if the client has closed its connection (checked while
        the proxy holds an answer back, so it stops reading the upstream)."""
        sock = self.environ.get("werkzeug.socket")
        if not isinstance(sock, socket.socket):
            return
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            gone = bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            gone = True
        if gone:
            raise ClientGone

    def cut(self) -> None:
        """Close the client's connection without the answer's end (no last chunk, a short
        Content-Length): its HTTP library raises rather than taking a part for the whole."""
        sock = self.environ.get("werkzeug.socket")
        if not isinstance(sock, socket.socket):
            raise ConnectionAbortedError("sora-mock proxy: answer cut short")
        if not self.started:  # the server needs a status to try to send
            self.start("502 Bad Gateway", [("Content-Length", "1")])
        shut(sock)


_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")


class EventBlocks:
    """An event stream cut into blocks (an event, or comments) at each blank line, in linear
    time: each byte is searched once, and what is held is only the unfinished block."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0

    @property
    def held(self) -> int:
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        blocks: list[bytes] = []
        start = 0
        found: dict[bytes, int] = {}
        while True:
            since = max(start, self._scanned - 3)
            ends = []
            for sep in _SEPARATORS:
                at = found.get(sep)
                if at is None or (at >= 0 and at < since):
                    at = found[sep] = self._buffer.find(sep, since)
                if at >= 0:
                    ends.append(at + len(sep))
            if not ends:
                break
            cut = min(ends)
            blocks.append(bytes(self._buffer[start:cut]))
            start = self._scanned = cut
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        return blocks

    def take(self) -> bytes:
        """The unfinished block (a stream cut mid-event, or one passed through unjudged)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        return rest


#: the content codings the proxy decodes to judge an answer (RFC 9110 section 8.4.1)
_ZLIB_CODINGS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}


def decoder_for(headers: httpx.Headers) -> Decoder | None:
    value = ",".join(headers.get_list("content-encoding"))
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    return Decoder(codings) if codings else None


class Decoder:
    """A body's content codings undone layer by layer, a bounded piece at a time: each layer
    inflates at most ``CHUNK`` bytes per step into the next, so a reader that stops asking
    (at its limit) has held at most a chunk per layer, whatever the ratio (a gzip bomb)."""

    def __init__(self, codings: list[str]) -> None:
        self.codings = codings
        self.failed = ""
        unknown = [c for c in codings if c not in _ZLIB_CODINGS]
        if unknown:
            self.failed = (
                f"Content-Encoding {', '.join(codings)}: the proxy cannot decode "
                f"{', '.join(unknown)} (it asked for identity), so the body was not judged"
            )
        # the last coding listed was applied last: it comes off first
        self._order = list(reversed(codings)) if not unknown else []
        self._layers = [zlib.decompressobj(_ZLIB_CODINGS[c]) for c in self._order]

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.failed:
            return
        try:
            yield from self._through(0, data)
        except zlib.error as exc:
            self.failed = (
                f"Content-Encoding {', '.join(self.codings)}: could not be decoded ({exc})"
            )

    def end(self) -> Iterator[bytes]:
        """What the layers still hold, then a check that every layer reached its end."""
        for level in range(len(self._layers)):
            if self.failed:
                return
            try:
                yield from self._through(level, b"")
            except zlib.error as exc:
                self.failed = (
                    f"Content-Encoding {', '.join(self.codings)}: could not be decoded ({exc})"
                )
                return
        if not self.failed and not all(layer.eof for layer in self._layers):
            self.failed = f"Content-Encoding {', '.join(self.codings)}: the encoded body ends early"

    def _through(self, level: int, data: bytes) -> Iterator[bytes]:
        if level == len(self._layers):
            if data:
                yield data
            return
        while True:
            layer = self._layers[level]
            if layer.eof:
                # after a layer's end only another member may follow (gzip allows several;
                # anything else fails its header check)
                if not data.strip(b"\0"):
                    return
                layer = self._layers[level] = zlib.decompressobj(_ZLIB_CODINGS[self._order[level]])
            piece = layer.decompress(data, CHUNK)
            data = layer.unconsumed_tail or (layer.unused_data if layer.eof else b"")
            if piece:
                yield from self._through(level + 1, piece)
            if not data and len(piece) < CHUNK:
                return


def contained_target(raw: str) -> str | None:
    """The request target with its dot segments resolved (RFC 3986 section 5.2.4), or None
    when it would climb out of the upstream's base path: a `..` above the root, or one the
    upstream might see only after decoding (``..%2f``, ``%252e%252e``)."""
    path, sep, query = raw.partition("?")
    kept: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        decoded = unquote(segment)
        if decoded in (".", ".."):
            if decoded == "..":
                if not kept:
                    return None
                kept.pop()
            if i == len(segments) - 1:
                kept.append("")  # "/a/b/.." is "/a/"
            continue
        if _hides_a_dot_segment(decoded):
            return None
        kept.append(segment)
    return "/" + "/".join(kept) + sep + query


def _hides_a_dot_segment(decoded: str) -> bool:
    for _ in range(3):
        if any(part in (".", "..") for part in re.split(r"[/\\]", decoded)):
            return True
        again = unquote(decoded)
        if again == decoded:
            return False
        decoded = again
    return True
