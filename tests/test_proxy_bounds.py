"""``sora-mock proxy`` with every input bounded: answer size, request body, content coding,
event size, time, headers and paths (every server and client on loopback).

The upstream here is a raw socket server (:class:`RawUpstream`): each answer is generated as
it is sent, never held, and the server counts the bytes it managed to send and notes when the
proxy closed the connection. Figures that need a process of their own (peak RSS, CPU time)
come from a real ``sora-mock proxy`` process (:func:`served_proxy`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_helpers import CANARY, proxy_in_front
from hypothesis import given
from hypothesis import strategies as st
from providers import data_url, png

from mockserver.conformance.bounds import Decoder, EventBlocks, contained_target
from mockserver.conformance.proxy_config import MAX_DOCUMENT_BYTES, MAX_EVENT_BYTES
from mockserver.conformance.validation import _block_end

MiB = 1024 * 1024
HEADERS = {"Authorization": f"Bearer {CANARY}"}
WAIT = 20.0  # the bound on every wait for a condition (never a duration slept)
CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1767225601,
    "model": "sora-2",
    "choices": [{"index": 0, "delta": {"content": "> Generating... 13%"}, "finish_reason": None}],
}


def sse(document: Any) -> bytes:
    return f"data: {json.dumps(document)}\n\n".encode()


def chat_body() -> dict[str, Any]:
    image = {"type": "image_url", "image_url": {"url": data_url(png(720, 1280))}}
    content = [{"type": "text", "text": "A cat"}, image]
    return {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": content}]}


# --------------------------------------------------------------------------- the upstream


@dataclass
class Seen:
    """One connection as the upstream saw it."""

    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body_bytes: int = 0
    body: bytearray = field(default_factory=bytearray)
    sent: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    closed: threading.Event = field(default_factory=threading.Event)  # by the proxy
    done: threading.Event = field(default_factory=threading.Event)  # the script ended
    first_body_chunk: threading.Event = field(default_factory=threading.Event)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


Script = Callable[[socket.socket, Seen], None]


class RawUpstream:
    """A loopback HTTP/1.1 server speaking through scripts: ``scripts[path]`` writes the
    answer for a request whose path (without the query) ends with ``path``."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.seen: list[Seen] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        # wake the accept first and close after: a descriptor closed under a thread about to
        # accept on it could be reused by the next test's server, whose clients it would serve
        self._closing = True
        self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(WAIT)
        self._sock.close()

    def last(self, path: str) -> Seen:
        return next(s for s in reversed(self.seen) if s.target.split("?")[0].endswith(path))

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self._closing:
                conn.close()
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        seen = Seen()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            seen.method, seen.target, _ = lines[0].split(" ", 2)
            seen.headers = [
                (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])
            ]
            seen.body.extend(rest)
            seen.body_bytes = len(rest)
            self.seen.append(seen)
            path = seen.target.split("?")[0]
            script = next((s for p, s in self.scripts.items() if path.endswith(p)), None)
            try:
                (script or _json_ok)(conn, seen)
            except OSError:
                seen.closed.set()
            finally:
                seen.done.set()


def send(conn: socket.socket, seen: Seen, data: bytes) -> None:
    conn.sendall(data)
    seen.sent += len(data)
    seen.digest.update(data)


def head(status: str = "200 OK", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_ok(conn: socket.socket, seen: Seen) -> None:
    _read_request_body(conn, seen)
    body = json.dumps({"ok": True, "received": seen.body_bytes}).encode()
    conn.sendall(
        head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}") + body
    )


def _read_request_body(conn: socket.socket, seen: Seen) -> None:
    """Read the request body to its end (declared length, or the chunked terminator)."""
    length = int((seen.header("Content-Length") or ["0"])[0])
    chunked = any("chunked" in v.lower() for v in seen.header("Transfer-Encoding"))
    while (seen.body_bytes < length) if not chunked else not seen.body.endswith(b"0\r\n\r\n"):
        if seen.body_bytes:
            seen.first_body_chunk.set()
        data = conn.recv(65536)
        if not data:
            seen.closed.set()
            return
        seen.body.extend(data)
        seen.body_bytes += len(data)
        if len(seen.body) > 4 * MiB:  # keep only the tail (for the terminator)
            del seen.body[:-8]


def pattern(size: int) -> Iterator[bytes]:
    """``size`` bytes of a JSON-looking document, generated a MiB at a time."""
    block = b"x" * MiB
    yield b'{"pad": "'
    left = size - len(b'{"pad": "') - 2
    while left > 0:
        piece = block[: min(left, MiB)]
        left -= len(piece)
        yield piece
    yield b'"}'


def big_document(size: int, chunked: bool = False) -> Script:
    def script(conn: socket.socket, seen: Seen) -> None:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        conn.sendall(head("200 OK", "Content-Type: application/json", length))
        for piece in pattern(size):
            if chunked:
                conn.sendall(f"{len(piece):x}\r\n".encode())
            send(conn, seen, piece)
            if chunked:
                conn.sendall(b"\r\n")
        if chunked:
            conn.sendall(b"0\r\n\r\n")

    return script


def endless(content_type: str, first: bytes = b"") -> Script:
    """An answer that never ends (no length: it would end with the connection)."""

    def script(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(head("200 OK", f"Content-Type: {content_type}", "Connection: close"))
        send(conn, seen, first)
        block = b"x" * (64 * 1024)
        while True:
            send(conn, seen, block)

    return script


def drip(prelude: bytes, byte: bytes, count: int, every: float) -> Script:
    """``prelude``, then ``byte`` every ``every`` seconds, ``count`` times."""

    def script(conn: socket.socket, seen: Seen) -> None:
        send(conn, seen, prelude)
        pause = threading.Event()
        for _ in range(count):
            pause.wait(every)
            send(conn, seen, byte)

    return script


# --------------------------------------------------------------------------- the proxies


@dataclass
class Served:
    """A ``sora-mock proxy`` process."""

    process: subprocess.Popen[str]
    base: str
    console: list[str]

    def status(self, field_name: str) -> int:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M).group(1)) * 1024  # type: ignore[union-attr]

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text(
            "5"
        )  # VmHWM starts again from the current RSS

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served_proxy(upstream: str, *options: str) -> Iterator[Served]:
    command = [
        sys.executable,
        "-m",
        "mockserver.cli",
        "proxy",
        "--provider",
        "gptge",
        "--upstream",
        upstream,
        "--port",
        "0",
        *options,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    console: list[str] = []
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+)", first)
    assert match, first + process.stdout.read()
    threading.Thread(target=lambda: console.extend(process.stdout), daemon=True).start()  # type: ignore[arg-type]
    try:
        yield Served(process, match.group(1), console)
    finally:
        process.terminate()
        process.wait(WAIT)
        process.stdout.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[RawUpstream]:
    server = RawUpstream()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(upstream: RawUpstream) -> Iterator[Served]:
    with served_proxy(upstream.base, "--timeout", "30", "--max-body", "1") as proxy:
        # warm: a first answer builds validators and buffers each later figure should not count
        upstream.scripts["/v1/videos/warm-sse"] = lambda conn, seen: conn.sendall(
            head("200 OK", "Content-Type: text/event-stream", "Content-Length: 10")
            + b"data: x\n\n\n"
        )
        for path in ("/v1/videos/warm", "/v1/videos/warm-sse"):
            assert httpx.get(proxy.base + path, headers=HEADERS, timeout=WAIT).status_code == 200
        yield proxy


@contextmanager
def in_process(upstream: RawUpstream, **options: Any) -> Iterator[tuple[str, Any]]:
    with proxy_in_front("gptge", upstream.base, out=io.StringIO(), **options) as (base, proxy):
        yield base, proxy


def read_through(answer: httpx.Response) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    for chunk in answer.iter_raw():
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def get_raw(url: str) -> tuple[httpx.Response, bytes]:
    """A GET whose body is read as sent (httpx would inflate a gzip body)."""
    with httpx.stream("GET", url, headers=HEADERS, timeout=WAIT) as answer:
        return answer, b"".join(answer.iter_raw())


def raw_request(base: str, request: bytes) -> bytes:
    """Send bytes as they are (httpx would normalise the path) and read the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        sock.sendall(request)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


def split_answer(answer: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    head_text, _, body = answer.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return int(lines[0].split()[1]), headers, body


# --------------------------------------------------------------------------- answer size


@pytest.mark.parametrize("size_mib", [17, 100])
def test_an_answer_past_the_document_limit_passes_through_whole_in_transparent_mode(
    upstream: RawUpstream, served: Served, size_mib: int
) -> None:
    size = size_mib * MiB
    upstream.scripts[f"/v1/videos/big{size_mib}"] = big_document(size)
    served.reset_peak()
    before = served.status("VmRSS")
    with httpx.stream("GET", served.base + f"/v1/videos/big{size_mib}", headers=HEADERS) as answer:
        got, digest = read_through(answer)
    seen = upstream.last(f"/v1/videos/big{size_mib}")
    assert answer.status_code == 200
    assert got == size == int(answer.headers["Content-Length"]), served.console[-3:]
    assert digest == seen.digest.hexdigest()  # byte for byte as the upstream sent it
    violation = answer.headers["X-Contract-Violations"]
    assert f"larger than the {MAX_DOCUMENT_BYTES} bytes the proxy judges" in violation
    assert f"{MAX_DOCUMENT_BYTES} bytes judged" in violation
    # held: the judged prefix and a chunk, never the answer (the process's peak RSS)
    grown = served.status("VmHWM") - before
    assert grown < MAX_DOCUMENT_BYTES + 32 * MiB, f"peak RSS grew {grown / MiB:.1f} MiB"


def test_strict_answers_502_for_an_answer_past_the_document_limit(upstream: RawUpstream) -> None:
    upstream.scripts["/v1/videos/big-strict"] = big_document(100 * MiB, chunked=True)
    with in_process(upstream, mode="strict") as (base, _):
        answer = httpx.get(base + "/v1/videos/big-strict", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "unjudged_answer" and "could not be judged" in error["message"]
    assert f"larger than the {MAX_DOCUMENT_BYTES} bytes the proxy judges" in error["message"]
    seen = upstream.last("/v1/videos/big-strict")
    assert seen.done.wait(WAIT) and seen.closed.is_set()  # the proxy stopped reading
    assert seen.sent < 100 * MiB


def test_an_endless_answer_is_no_longer_read_once_the_client_leaves(
    upstream: RawUpstream, served: Served
) -> None:
    upstream.scripts["/v1/videos/endless"] = endless("application/json", b'{"pad": "')
    served.reset_peak()
    before = served.status("VmRSS")
    read = 0
    with httpx.stream("GET", served.base + "/v1/videos/endless", headers=HEADERS) as answer:
        assert answer.status_code == 200
        assert "bytes judged" in answer.headers["X-Contract-Violations"]
        for chunk in answer.iter_raw():
            read += len(chunk)
            if read > MAX_DOCUMENT_BYTES + 8 * MiB:
                break
    seen = upstream.last("/v1/videos/endless")
    assert seen.done.wait(WAIT) and seen.closed.is_set()
    # what the upstream managed to send past what the client read: socket buffers only
    assert seen.sent - read < 32 * MiB
    assert served.status("VmHWM") - before < MAX_DOCUMENT_BYTES + 16 * MiB


# --------------------------------------------------------------------------- request bodies


def test_a_declared_body_over_the_limit_is_a_413_before_a_byte_is_read(
    upstream: RawUpstream,
) -> None:
    with in_process(upstream, max_body=1 * MiB) as (base, proxy):
        answer = raw_request(
            base,
            b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1572864000\r\n\r\n{",
        )
    status, headers, body = split_answer(answer)
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    assert "1572864000 bytes" in error["message"] and f"{MiB} bytes" in error["message"]
    assert not [s for s in upstream.seen if s.target == "/v1/videos"]  # nothing went upstream
    assert proxy.journal[-1]["status"] == 413


def test_max_body_sets_the_limit_on_the_command_line(upstream: RawUpstream, served: Served) -> None:
    declared = MiB + 1
    answer = raw_request(
        served.base,
        b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode(),
    )
    status, _, body = split_answer(answer)
    assert status == 413
    assert f"larger than the proxy's limit of {MiB} bytes" in json.loads(body)["error"]["message"]


def test_a_chunked_body_over_the_limit_is_counted_as_it_streams(upstream: RawUpstream) -> None:
    produced = 0

    def body() -> Iterator[bytes]:
        nonlocal produced
        for _ in range(64):  # 4 MiB, no declared length
            produced += 64 * 1024
            yield b"y" * (64 * 1024)

    with in_process(upstream, max_body=1 * MiB) as (base, _):
        answer = httpx.post(base + "/v1/chunked", content=body(), headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 413
    assert "counted as it streamed" in answer.json()["error"]["message"]
    seen = upstream.last("/v1/chunked")
    assert seen.done.wait(WAIT)
    # the upstream had the first MiB at most, then a broken chunked body: never the whole
    assert seen.body_bytes <= 1 * MiB + 64 * 1024 < produced


def test_a_body_is_streamed_to_the_upstream_before_the_client_has_sent_it_all(
    upstream: RawUpstream,
) -> None:
    upstream.scripts["/v1/streamed"] = _json_ok
    sent: list[bytes] = []

    def body() -> Iterator[bytes]:
        sent.append(b"a" * 1000)
        yield sent[-1]
        # the proxy must have passed the first part on before it gets the second
        assert _wait(lambda: any(s.target == "/v1/streamed" for s in upstream.seen))
        seen = upstream.last("/v1/streamed")
        assert seen.first_body_chunk.wait(WAIT) or seen.body_bytes >= 1000
        sent.append(b"b" * 1000)
        yield sent[-1]

    with in_process(upstream) as (base, _):
        answer = httpx.post(
            base + "/v1/streamed",
            content=body(),
            headers={**HEADERS, "Content-Length": "2000"},
            timeout=WAIT,
        )
    assert answer.status_code == 200, answer.text
    seen = upstream.last("/v1/streamed")
    assert answer.json()["received"] == 2000
    assert seen.header("Content-Length") == ["2000"] and not seen.header("Transfer-Encoding")
    assert bytes(seen.body) == b"".join(sent)


def _wait(condition: Callable[[], bool]) -> bool:
    pause = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        pause.wait(0.01)
    return False


# --------------------------------------------------------------------------- content codings


#: CRC-32 of 1 GiB of zeros (``zlib.crc32`` over it, computed once: 1 s of CPU per run saved)
ZEROS_GIB_CRC = 0x5B64C2B0


def _zeros_gzip(size_mib: int) -> bytes:
    """A gzip member of ``size_mib`` MiB of zeros, built from one compressed MiB repeated
    (after a full flush a deflate block does not look back), in milliseconds."""
    zeros = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH) == block
    crc = ZEROS_GIB_CRC if size_mib == 1024 else 0
    for _ in range(size_mib if size_mib != 1024 else 0):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (size_mib * MiB) & 0xFFFFFFFF)
    return header + block * size_mib + deflate.flush() + trailer


def _gib_of_zeros_gzip() -> bytes:
    return _zeros_gzip(1024)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """``Content-Encoding: gzip, gzip``: about 2 kB that inflate to 1 GiB."""
    outer = gzip.compress(_gib_of_zeros_gzip(), 9)
    assert len(outer) < 4096
    return outer


def encoded(body: bytes, coding: str, content_type: str = "application/json") -> Script:
    def script(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(
            head(
                "200 OK",
                f"Content-Type: {content_type}",
                f"Content-Encoding: {coding}",
                f"Content-Length: {len(body)}",
            )
        )
        send(conn, seen, body)

    return script


def test_a_gzip_gzip_bomb_is_judged_within_the_limit_and_forwarded_as_sent(
    upstream: RawUpstream, served: Served, bomb: bytes
) -> None:
    upstream.scripts["/v1/videos/bomb"] = encoded(bomb, "gzip, gzip")
    served.reset_peak()
    before = served.status("VmRSS")
    cpu = served.cpu_seconds()
    answer, body = get_raw(served.base + "/v1/videos/bomb")
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "gzip, gzip"
    assert body == bomb  # untouched: the client decides whether to inflate it
    assert int(answer.headers["Content-Length"]) == len(bomb)
    violation = answer.headers["X-Contract-Violations"]
    assert f"larger than the {MAX_DOCUMENT_BYTES} bytes the proxy judges (decoded)" in violation
    assert f"{MAX_DOCUMENT_BYTES} bytes judged" in violation
    assert served.status("VmHWM") - before < MAX_DOCUMENT_BYTES + 16 * MiB  # not 1 GiB
    assert served.cpu_seconds() - cpu < 5  # 16 MiB inflated, not 1 GiB


def test_strict_answers_502_for_a_gzip_gzip_bomb(upstream: RawUpstream, bomb: bytes) -> None:
    upstream.scripts["/v1/videos/bomb-strict"] = encoded(bomb, "gzip, gzip")
    with in_process(upstream, mode="strict") as (base, _):
        answer = httpx.get(base + "/v1/videos/bomb-strict", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 502  # (a 502 of the proxy's own: JSON, not encoded)
    assert answer.json()["error"]["code"] == "unjudged_answer"
    assert "bytes the proxy judges (decoded)" in answer.json()["error"]["message"]


def test_one_gzip_layer_inflating_past_the_limit_is_judged_within_it(
    upstream: RawUpstream, served: Served
) -> None:
    # one layer (two gzip members): 4 MiB that do not compress, then 30 MiB of zeros in 30 kB
    body = gzip.compress(random_bytes(4 * MiB), 1) + _zeros_gzip(30)
    assert 4 * MiB < len(body) < 4.1 * MiB
    upstream.scripts["/v1/videos/one-layer"] = encoded(body, "gzip")
    served.reset_peak()
    before = served.status("VmRSS")
    answer, got = get_raw(served.base + "/v1/videos/one-layer")
    assert answer.status_code == 200 and got == body
    assert f"{MAX_DOCUMENT_BYTES} bytes judged" in answer.headers["X-Contract-Violations"]
    grown = served.status("VmHWM") - before
    assert grown < MAX_DOCUMENT_BYTES + 16 * MiB, f"peak RSS grew {grown / MiB:.1f} MiB"


def random_bytes(size: int) -> bytes:
    return hashlib.shake_256(b"sora-mock").digest(size)


def test_a_gzip_answer_is_judged_on_its_decoded_body(upstream: RawUpstream) -> None:
    document = {"id": "video_1", "object": "video", "state": "queued"}  # `status` renamed
    body = gzip.compress(json.dumps(document).encode())
    upstream.scripts["/v1/videos/video_1"] = encoded(body, "gzip")
    with in_process(upstream) as (base, _):
        answer, got = get_raw(base + "/v1/videos/video_1")
    assert answer.status_code == 200
    assert got == body and answer.headers["Content-Encoding"] == "gzip"  # as sent
    assert json.loads(gzip.decompress(got)) == document
    assert "'status' is a required property" in answer.headers["X-Contract-Violations"]


def test_an_encoding_the_proxy_cannot_decode_is_forwarded_unjudged(upstream: RawUpstream) -> None:
    upstream.scripts["/v1/videos/brotli"] = encoded(b"\x0b\x02\x80{}\x03", "br")
    with in_process(upstream) as (base, _):
        answer, body = get_raw(base + "/v1/videos/brotli")
    assert body == b"\x0b\x02\x80{}\x03"
    assert "cannot decode br" in answer.headers["X-Contract-Violations"]


def test_strict_answers_502_for_an_encoding_the_proxy_cannot_decode(
    upstream: RawUpstream,
) -> None:
    upstream.scripts["/v1/videos/brotli-strict"] = encoded(b"\x0b\x02\x80{}\x03", "br")
    with in_process(upstream, mode="strict") as (base, _):
        answer = httpx.get(base + "/v1/videos/brotli-strict", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "unjudged_answer" and "cannot decode br" in error["message"]


# --------------------------------------------------------------------------- event streams


def test_an_endless_event_is_held_at_most_the_event_limit_then_passes_through(
    upstream: RawUpstream, served: Served
) -> None:
    upstream.scripts["/v1/videos/sse-endless"] = endless("text/event-stream", b"data: ")
    served.reset_peak()
    before = served.status("VmRSS")
    cpu = served.cpu_seconds()
    read = 0
    with httpx.stream("GET", served.base + "/v1/videos/sse-endless", headers=HEADERS) as answer:
        violation = answer.headers["X-Contract-Violations"]
        first = b""
        for chunk in answer.iter_raw():
            first = first or chunk
            read += len(chunk)
            if read > 16 * MiB:
                break  # the client leaves
    assert first.startswith(b"data: xxxx")
    assert violation.startswith("2; ")  # the Content-Type gpt.ge never streams, and this:
    limit = f"an event larger than the {MAX_EVENT_BYTES} bytes the proxy judges"
    assert _wait(lambda: any(limit in line for line in served.console))
    seen = upstream.last("/v1/videos/sse-endless")
    assert seen.done.wait(WAIT) and seen.closed.is_set()  # the proxy let go of the upstream
    assert seen.sent - read < 32 * MiB
    assert served.status("VmHWM") - before < 16 * MiB  # an event's worth, not the stream
    assert served.cpu_seconds() - cpu < 5  # linear: about 0.1 s for the 16 MiB here


def test_a_long_stream_of_small_events_holds_none_of_them(
    upstream: RawUpstream, served: Served
) -> None:
    event = sse({"id": "chatcmpl-1", "pad": "x" * 1000})

    def events(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(head("200 OK", "Content-Type: text/event-stream", "Connection: close"))
        block = event * 64
        while True:
            send(conn, seen, block)

    upstream.scripts["/v1/videos/sse-many"] = events
    served.reset_peak()
    before = served.status("VmRSS")
    read = 0
    with httpx.stream("GET", served.base + "/v1/videos/sse-many", headers=HEADERS) as answer:
        for chunk in answer.iter_raw():
            read += len(chunk)
            if read > 12 * MiB:
                break
    assert upstream.last("/v1/videos/sse-many").done.wait(WAIT)
    grown = served.status("VmHWM") - before
    assert grown < 8 * MiB, f"peak RSS grew {grown / MiB:.1f} MiB over {read / MiB:.0f} MiB"


def test_a_client_leaving_while_an_event_is_held_lets_go_of_the_upstream(
    upstream: RawUpstream,
) -> None:
    """Before a byte is forwarded the proxy watches the client's socket between reads."""
    prelude = head("200 OK", "Content-Type: text/event-stream") + b"data: "
    upstream.scripts["/v1/videos/sse-slow"] = drip(prelude, b"x", 400, 0.05)  # 20 s in all
    with in_process(upstream, timeout=30) as (base, proxy):
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=WAIT) as client:
            client.sendall(b"GET /v1/videos/sse-slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _wait(lambda: any(s.target == "/v1/videos/sse-slow" for s in upstream.seen))
        seen = upstream.last("/v1/videos/sse-slow")
        assert seen.done.wait(WAIT) and seen.closed.is_set()
        assert seen.sent < len(prelude) + 400  # let go before the upstream was done
        assert _wait(lambda: bool(proxy.journal) and "went away" in str(proxy.journal[-1]))


def test_strict_ends_a_stream_at_an_event_past_the_event_limit(upstream: RawUpstream) -> None:
    good = sse(CHUNK)
    upstream.scripts["/v1/chat/completions"] = endless("text/event-stream", good + b"data: ")
    with proxy_in_front("gptproto-chat", upstream.base, mode="strict", out=io.StringIO()) as (
        base,
        _,
    ):
        with httpx.stream(
            "POST", base + "/v1/chat/completions", json=chat_body(), headers=HEADERS, timeout=WAIT
        ) as answer:
            body = answer.read()
    assert answer.status_code == 200, body[:300]
    assert body.startswith(good)
    error = json.loads(body[len(good) :].removeprefix(b"data: "))["error"]
    assert error["code"] == "unjudged_answer"
    assert f"larger than the {MAX_EVENT_BYTES} bytes the proxy judges" in error["message"]
    seen = upstream.last("/v1/chat/completions")
    assert seen.done.wait(WAIT) and seen.closed.is_set()


# --------------------------------------------------------------------------- time


def test_a_dripping_upstream_is_cut_at_the_timeout(upstream: RawUpstream) -> None:
    prelude = head("200 OK", "Content-Type: application/json", "Content-Length: 400")
    upstream.scripts["/v1/videos/drip"] = drip(prelude, b" ", 400, 0.05)  # 20 s in all
    with in_process(upstream, timeout=0.5) as (base, proxy):
        answer = httpx.get(base + "/v1/videos/drip", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 504
    error = answer.json()["error"]
    assert error["code"] == "upstream_timeout"
    assert "did not finish its answer within --timeout 0.5 s" in error["message"]
    seen = upstream.last("/v1/videos/drip")
    assert seen.done.wait(WAIT) and seen.closed.is_set()
    assert seen.sent < len(prelude) + 400  # cut before the upstream was done
    assert proxy.journal[-1]["status"] == 504


def test_a_dripping_status_line_is_cut_at_the_timeout(upstream: RawUpstream) -> None:
    upstream.scripts["/v1/videos/drip-head"] = drip(b"HTTP/1.1 200", b" ", 400, 0.05)
    with in_process(upstream, timeout=0.5) as (base, _):
        answer = httpx.get(base + "/v1/videos/drip-head", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 504
    assert upstream.last("/v1/videos/drip-head").done.wait(WAIT)


def test_a_stream_whose_next_event_drips_is_cut_not_ended(upstream: RawUpstream) -> None:
    """After the first event the status line is gone: the client sees a broken stream,
    never a clean end it could take for the whole answer."""
    prelude = head("200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked")
    event = b'data: {"id": "chatcmpl-1"}\n\n'
    first = f"{len(event):x}\r\n".encode() + event + b"\r\n"
    upstream.scripts["/v1/videos/drip-sse"] = drip(prelude + first, b"1\r\nx\r\n", 400, 0.05)
    got = b""
    with in_process(upstream, timeout=0.5) as (base, _):
        with httpx.stream("GET", base + "/v1/videos/drip-sse", headers=HEADERS) as answer:
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in answer.iter_raw():
                    got += chunk
    assert got == event
    assert upstream.last("/v1/videos/drip-sse").done.wait(WAIT)


# --------------------------------------------------------------------------- headers, paths


def _hop_answer(conn: socket.socket, seen: Seen) -> None:
    body = b'{"ok": true}'
    conn.sendall(
        head(
            "200 OK",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: keep-alive, X-Upstream-Hop",
            "X-Upstream-Hop: secret-route",
            "Keep-Alive: timeout=5",
            "Proxy-Connection: keep-alive",
            "Upgrade: h2c",
            "Trailer: X-Checksum",
            "X-End-To-End: kept",
            "Server: upstream/1.0",
            "Date: Mon, 07 Dec 2026 00:00:00 GMT",
        )
        + body
    )


def test_hop_by_hop_headers_are_dropped_both_ways(upstream: RawUpstream) -> None:
    upstream.scripts["/v1/hops"] = _hop_answer
    with in_process(upstream) as (base, _):
        answer = raw_request(
            base,
            b"GET /v1/hops HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Connection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\n"
            b"Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\n"
            b"Trailer: X-Sum\r\nX-End-To-End: kept\r\n\r\n",
        )
    sent = {k.lower() for k, _ in upstream.last("/v1/hops").headers}
    hop = {"x-client-hop", "keep-alive", "proxy-connection", "te", "upgrade", "trailer"}
    assert not sent & hop and "x-end-to-end" in sent
    status, headers, _ = split_answer(answer)
    names = [k.lower() for k, _ in headers]
    assert status == 200 and "x-end-to-end" in names
    assert not set(names) & {
        "x-upstream-hop",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "trailer",
    }
    assert dict(headers)["Connection"] == "close"  # the proxy's own, not the upstream's
    # one Server and one Date: the upstream's (its answer, forwarded)
    assert [v for k, v in headers if k.lower() == "server"] == ["upstream/1.0"]
    assert [v for k, v in headers if k.lower() == "date"] == ["Mon, 07 Dec 2026 00:00:00 GMT"]


def test_the_proxys_own_answers_carry_one_server_and_one_date(upstream: RawUpstream) -> None:
    with in_process(upstream) as (base, _):
        answer = raw_request(base, b"GET /__proxy/journal HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _ = split_answer(answer)
    assert status == 200
    assert sum(k.lower() == "server" for k, _ in headers) == 1
    assert sum(k.lower() == "date" for k, _ in headers) == 1


CLIMBS = [
    "/../__mock/reset",
    "/v1/../../__mock/reset",
    "/%2e%2e/__mock/reset",
    "/v1/%2E%2E/%2e./__mock/reset",
    "/v1/..%2f..%2f__mock/reset",
    "/v1/..%5c..%5c__mock/reset",
    "/%252e%252e/__mock/reset",
]


@pytest.mark.parametrize("target", CLIMBS)
def test_a_path_that_climbs_out_of_the_upstream_prefix_is_refused(
    upstream: RawUpstream, target: str
) -> None:
    before = len(upstream.seen)
    with in_process(upstream) as (base, proxy):
        proxy.upstream = upstream.base + "/gptge"
        answer = raw_request(
            base, f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
    status, _, body = split_answer(answer)
    assert status == 400
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_path" and "climbs out" in error["message"]
    assert len(upstream.seen) == before  # not forwarded


def test_dot_segments_within_the_prefix_are_resolved_before_forwarding(
    upstream: RawUpstream,
) -> None:
    with in_process(upstream) as (base, proxy):
        proxy.upstream = upstream.base + "/gptge"
        answer = raw_request(
            base, b"GET /v1/./videos/../videos/%2e/abc?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
    assert split_answer(answer)[0] == 200
    assert upstream.seen[-1].target == "/gptge/v1/videos/abc?x=1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/v1/videos/abc", "/v1/videos/abc"),
        ("/v1/videos/", "/v1/videos/"),
        ("/v1/videos/..", "/v1/"),
        ("/v1/%2e%2e/x/%2E", "/x/"),  # encoded dot segments are dot segments too
        ("/v1/%41bc/./x", "/v1/%41bc/x"),  # other escapes stay as sent
        ("/a/..?q=/../..", "/?q=/../.."),  # the query is not a path
        ("/..", None),
        ("/a/%2e%2e/%2E%2E", None),
        ("/a%2f..%2f..", None),
        ("/%25252e%25252e", None),
    ],
)
def test_contained_target(raw: str, expected: str | None) -> None:
    assert contained_target(raw) == expected


# --------------------------------------------------------------------------- the pieces


def _reference_blocks(stream: bytes) -> tuple[list[bytes], bytes]:
    """SSE blocks as ``StreamCheck`` cuts them, the whole stream at once."""
    blocks = []
    while (cut := _block_end(stream)) is not None:
        blocks.append(stream[:cut])
        stream = stream[cut:]
    return blocks, stream


@given(
    st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"data: x"]), max_size=60),
    st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_event_blocks_cut_a_stream_where_the_stream_check_does(
    pieces: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(pieces)
    blocks = EventBlocks()
    got: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:  # the same bytes, in arbitrary chunks
        got += blocks.feed(stream[start:cut] if cut >= start else b"")
        start = max(start, cut)
    assert (got, blocks.take()) == _reference_blocks(stream)


class CountingBuffer(bytearray):
    """A buffer that counts the bytes its searches look at."""

    searched = 0

    def find(self, sub: Any, start: Any = 0, *rest: Any) -> int:
        self.searched += len(self) - (start or 0)
        return super().find(sub, start, *rest)


def test_event_blocks_look_at_each_byte_once_however_long_the_event() -> None:
    blocks = EventBlocks()
    buffer = blocks._buffer = CountingBuffer()
    for _ in range(2000):
        assert blocks.feed(b"x" * 64) == []
    assert blocks.held == 128_000
    # three separators, each searched over the new bytes (and 3 before): about 400 kB;
    # searching the whole held event at every feed would be about 384 MB
    assert buffer.searched < 3 * (64 + 3) * 2000
    assert blocks.feed(b"\n\ndata: y") == [b"x" * 128_000 + b"\n\n"]
    assert blocks.held == len(b"data: y")


def _decode(decoder: Decoder, data: bytes, step: int = 7) -> bytes:
    out = b"".join(p for i in range(0, len(data), step) for p in decoder.feed(data[i : i + step]))
    return out + b"".join(decoder.end())


def test_a_decoder_takes_the_codings_off_in_reverse_order() -> None:
    body = b"hello " * 1000
    data = gzip.compress(zlib.compress(body))  # deflate first, then gzip
    decoder = Decoder(["deflate", "gzip"])
    assert _decode(decoder, data) == body and not decoder.failed


def test_a_decoder_reads_every_gzip_member() -> None:
    decoder = Decoder(["gzip"])
    assert _decode(decoder, gzip.compress(b"one ") + gzip.compress(b"two")) == b"one two"
    assert not decoder.failed


@pytest.mark.parametrize(
    ("codings", "data", "problem"),
    [
        (["gzip"], gzip.compress(b"x" * 1000)[:-12], "ends early"),
        (["gzip"], b"not gzip at all", "could not be decoded"),
        (["deflate"], zlib.compress(b"x") + b"more", "could not be decoded"),
        (["gzip", "br"], b"", "cannot decode br"),
    ],
    ids=["truncated", "not-gzip", "deflate-then-garbage", "br"],
)
def test_a_decoder_says_what_it_could_not_do(codings: list[str], data: bytes, problem: str) -> None:
    decoder = Decoder(codings)
    _decode(decoder, data)
    assert problem in decoder.failed


def test_a_decoder_hands_out_a_chunk_at_a_time_whatever_the_ratio() -> None:
    decoder = Decoder(["gzip", "gzip"])
    pieces = decoder.feed(gzip.compress(_gib_of_zeros_gzip(), 9))
    taken = [len(next(pieces)) for _ in range(4)]  # 1 GiB inside: only what is asked for
    assert taken == [64 * 1024] * 4
