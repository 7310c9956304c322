"""``sora-mock proxy`` with every input bounded: answer size, request body, content coding,
event size, time, headers and paths (every server and client on loopback).

The upstream here is a raw socket server (:class:`RawUpstream`): each answer is generated as
it is sent, never held, and the server counts the bytes it managed to send and notes when the
proxy closed the connection. Figures that need a process of their own (peak RSS, CPU time)
come from a real ``sora-mock proxy`` process (:func:`served_proxy`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conformance_helpers import CANARY, proxy_in_front

from mockserver.conformance.proxy import (
    MAX_DOCUMENT_BYTES,
)

MiB = 1024 * 1024
HEADERS = {"Authorization": f"Bearer {CANARY}"}
WAIT = 20.0  # the bound on every wait for a condition (never a duration slept)


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
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._sock.close()

    def last(self, path: str) -> Seen:
        return next(s for s in reversed(self.seen) if s.target.split("?")[0].endswith(path))

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
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
    with served_proxy(upstream.base, "--timeout", "5") as proxy:
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
    assert got == size == int(answer.headers["Content-Length"])
    assert digest == seen.digest.hexdigest()  # byte for byte as the upstream sent it
    violation = answer.headers["X-Contract-Violations"]
    assert f"larger than the {MAX_DOCUMENT_BYTES} bytes the proxy judges" in violation
    assert f"{MAX_DOCUMENT_BYTES} bytes judged" in violation
    # held: the judged prefix and a chunk, never the answer (the process's peak RSS)
    assert served.status("VmHWM") - before < MAX_DOCUMENT_BYTES + 16 * MiB


def test_strict_answers_502_for_an_answer_past_the_document_limit(upstream: RawUpstream) -> None:
    upstream.scripts["/v1/videos/big-strict"] = big_document(100 * MiB, chunked=True)
    with in_process(upstream, mode="strict") as (base, _):
        answer = httpx.get(base + "/v1/videos/big-strict", headers=HEADERS, timeout=WAIT)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "contract_violation"
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
