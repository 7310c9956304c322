"""Content-Encoding, decoded with a bound on every step.

httpx decodes a body with one ``decompress()`` call per network chunk: 1,838 bytes labelled
``Content-Encoding: gzip, gzip`` inflate to 1 GiB in that one call, before any size check of
the caller can run. Here every layer inflates at most :data:`STEP` bytes per call (zlib's
``max_length``), and hands them to the next layer, so the caller sees the body in pieces of at
most :data:`STEP` bytes and its own limit (an answer's size, a download's size) stops the
reading at most one piece late.

The client asks for what it can decode this way (:data:`ACCEPTED` on API calls, ``identity``
for media); an answer in another coding (``br``, ``zstd``, ``compress``) was not asked for and
is refused as a malformed answer rather than saved or parsed as if it were plain.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator

import httpx

#: the Accept-Encoding of API calls: only codings inflated here, step by step
ACCEPTED = "gzip, deflate"
#: the largest piece one decompression step produces
STEP = 64 * 1024

_GZIP = ("gzip", "x-gzip")


class _Layer:
    """One coding: zlib inflating at most STEP bytes per call."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding in _GZIP else zlib.MAX_WBITS)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self.started and data:
            self.started = True
            if self.coding == "deflate" and (data[0] & 0x0F) != 8:
                # "deflate" sent as a raw stream, without its zlib header (as some servers do)
                self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            while data:
                out = self.obj.decompress(data, STEP)
                data = self.obj.unconsumed_tail
                if out:
                    yield out
                elif not data:
                    break
        except zlib.error as exc:
            raise httpx.DecodingError(f"the {self.coding} body is corrupt: {exc}") from None

    def flush(self) -> Iterator[bytes]:
        # what zlib still holds is at most its window (32 KiB): flushing it is bounded
        try:
            rest = self.obj.flush()
        except zlib.error as exc:  # pragma: no cover - flush of a valid object never fails
            raise httpx.DecodingError(f"the {self.coding} body is corrupt: {exc}") from None
        if rest:
            yield rest


def codings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied, identity
    left out. Raises httpx.DecodingError for a coding the client did not ask for."""
    found = [c.strip().lower() for c in (header or "").split(",")]
    found = [c for c in found if c and c != "identity"]
    for coding in found:
        if coding not in (*_GZIP, "deflate"):
            raise httpx.DecodingError(
                f"the answer is encoded with {coding!r}, which the client did not ask for "
                f"(it asks for {ACCEPTED} or identity)"
            )
    return found


class Inflater:
    """Decodes a body of the given Content-Encoding, layer by layer, in bounded pieces."""

    def __init__(self, content_encoding: str | None) -> None:
        # applied first, so removed last
        self.layers = [_Layer(c) for c in reversed(codings(content_encoding))]

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield from self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for i, layer in enumerate(self.layers):
            for piece in layer.flush():
                yield from self._through(i + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.layers):
            # pieces of the last layer are at most STEP; raw input is cut to STEP as well
            for start in range(0, len(data), STEP):
                yield data[start : start + STEP]
            return
        for piece in self.layers[index].feed(data):
            yield from self._through(index + 1, piece)


def decoded(response: httpx.Response, raw: Iterable[bytes]) -> Iterator[bytes]:
    """The decoded body of ``response`` from its raw chunks, in pieces of at most STEP."""
    inflater = Inflater(response.headers.get("content-encoding"))
    for chunk in raw:
        yield from inflater.feed(chunk)
    yield from inflater.flush()


async def adecoded(response: httpx.Response, raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The asynchronous twin of :func:`decoded`."""
    inflater = Inflater(response.headers.get("content-encoding"))
    async for chunk in raw:
        for piece in inflater.feed(chunk):
            yield piece
    for piece in inflater.flush():
        yield piece
