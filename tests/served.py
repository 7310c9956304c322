"""A real ``sora-mock serve`` process on a free loopback port, for tests that need the served
mock itself: its worker processes, sockets and signals."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests import processes

#: how long a server may take to answer its first request (a loaded CI machine is slow)
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    output: list[str] = field(default_factory=list)
    #: what the server printed so far, read as it comes (see :meth:`read_output`)
    _chunks: list[bytes] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def read_output(self) -> None:
        """Read the server's output as it comes, in a thread: a pipe nobody reads fills up
        (some 64 KiB of console lines), and a test of many requests would then measure a
        console that cannot be written, not the server."""

        def read() -> None:
            pipe = self.process.stdout
            assert pipe is not None
            fd = pipe.fileno()
            while chunk := os.read(fd, 65536):
                self._chunks.append(chunk)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    base = url

    def rss_kib(self) -> int:
        """Resident memory of the workers, in KiB (Linux)."""
        return sum(rss_kib(pid) for pid in self.children())

    def children(self) -> list[int]:
        """The worker processes (the server's direct children)."""
        return sorted(processes.children(self.process.pid))

    def client(self, prefix: str = "", api_key: str = "sk-test") -> httpx.Client:
        """A client for ``/<prefix>`` (a provider's base URL on the mock, or the root)."""
        return httpx.Client(
            base_url=f"{self.url}/{prefix}".rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30.0,
        )


def wait_until_served(url: str, process: subprocess.Popen[bytes]) -> None:
    """Retry until the server answers (its socket is bound before the workers start)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(f"sora-mock serve exited with {process.returncode}:\n{out}")
        try:
            httpx.get(url, timeout=5.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # a readiness retry, not a wait for the mock's clock


@contextmanager
def served(*args: str, workers: int = 2) -> Iterator[Served]:
    """``sora-mock serve --workers N ARGS`` on a free port; stopped (SIGTERM) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    server = Served(process, port)
    try:
        wait_until_served(server.url + "/", process)
        server.read_output()
        yield server
    finally:
        stop(server)


def stop(server: Served, sig: int = signal.SIGTERM) -> int:
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    pipe = server.process.stdout
    if server._reader is not None:
        # its end comes when the workers (which share the pipe) have gone as well
        server._reader.join(OUTPUT_TIMEOUT)
        server.output.append(b"".join(server._chunks).decode(errors="replace"))
        if not server._reader.is_alive() and pipe and not pipe.closed:
            pipe.close()
    elif pipe and not pipe.closed:
        server.output.append(_drain(pipe, OUTPUT_TIMEOUT).decode(errors="replace"))
        pipe.close()
    return server.process.returncode


#: how long the server's output may stay open once it has exited (its workers share the pipe:
#: a worker that outlives its server would otherwise block the test run; the tests that check
#: for such orphans then fail on their own)
OUTPUT_TIMEOUT = 20.0


def _drain(pipe: IO[bytes], timeout: float) -> bytes:
    """What is left in ``pipe`` up to its end, or up to ``timeout`` seconds."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    fd = pipe.fileno()
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")
