"""A real ``sora-mock serve`` process on a free loopback port, for tests that need one.

    with served("--clock", "virtual") as base:
        httpx.get(f"{base}/__mock/health")

Whatever server ``sora-mock serve`` runs, the tests run against it. The process is started
with this interpreter (``python -m mockserver.cli serve``), waited for until ``GET /``
answers, and terminated (then killed if it lingers) on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

#: real seconds a server may take to start answering
START_SECONDS = 20.0


def _serves_with_waitress() -> bool:
    import inspect

    from mockserver import cli

    return "waitress" in inspect.getsource(cli.serve)


#: whether `sora-mock serve` still runs waitress (its limits are known; see test_adversarial)
WAITRESS = _serves_with_waitress()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    base: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def served(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``sora-mock serve ARGS`` on 127.0.0.1; yield its base URL; stop it on exit."""
    with served_process(*args, env=env) as server:
        yield server.base


@contextlib.contextmanager
def served_process(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """As :func:`served`, yielding the process too (its pid, for memory checks)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mockserver.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    with tempfile.TemporaryDirectory(prefix="sora-mock-served-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=Path(__file__).resolve().parent.parent,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_until_up(process, base, log_path)
                yield Served(base, process)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sora-mock serve exited with {process.returncode}:\n{log_path.read_text()}"
            )
        try:
            if httpx.get(f"{base}/", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"sora-mock serve did not answer within {START_SECONDS:g} s")


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")
