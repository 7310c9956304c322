"""How fast the mock answers: in-process (Flask test client) and over loopback HTTP.

``python -m benchmarks bench_mock`` prints two tables:
1. per operation, median and p95 latency in-process, with and without strict response
   validation (request validation is always on);
2. status polls per second over loopback with N concurrent clients, memory vs SQLite store.
Only loopback; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from providers import APIS, png  # noqa: E402

from mockserver.app import create_app  # noqa: E402
from mockserver.testing import SoraMock, test_config  # noqa: E402

HEADERS = {"Authorization": "Bearer sk-bench"}


def _time(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def in_process(repeat: int) -> None:
    print("| operation | strict | median ms | p95 ms |")
    print("|---|---|---:|---:|")
    for strict in (False, True):
        mock = SoraMock(create_app(test_config(strict=strict)))
        for api_id in ("gptge-videos", "gptproto-v3", "vtrix-generation"):
            api = APIS[api_id]
            with mock.client(api.provider) as client:
                job_id = api.job_id(api.create(client, HEADERS).json())
                creates = _time(
                    lambda api=api, client=client: api.create(client, HEADERS), max(5, repeat // 10)
                )
                path = api.status_path(job_id)
                polls = _time(lambda client=client, path=path: client.get(path), repeat)
            for name, samples in ((f"{api_id} create", creates), (f"{api_id} status", polls)):
                p95 = statistics.quantiles(samples, n=20)[18]
                print(f"| {name} | {strict} | {statistics.median(samples):.2f} | {p95:.2f} |")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback(clients: int, seconds: float, store: str) -> tuple[float, float]:
    """`sora-mock serve` in its own process (as users run it), loaded from this one."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockserver.cli",
            "serve",
            "--port",
            str(port),
            "--store",
            store,
            "--clock",
            "virtual",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/gptge"
    try:
        with httpx.Client(base_url=base, headers=HEADERS) as client:
            for _ in range(200):  # up to ~20 s for the server to come up
                try:
                    client.get(f"http://127.0.0.1:{port}/__mock/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            job_id = client.post(
                "/v1/videos",
                data={"prompt": "p"},
                files={"input_reference": ("a.png", png(720, 1280), "image/png")},
            ).json()["id"]
        deadline = time.monotonic() + seconds

        def worker() -> list[float]:
            samples = []
            with httpx.Client(base_url=base, headers=HEADERS) as client:
                while time.monotonic() < deadline and len(samples) < 20_000:
                    start = time.perf_counter()
                    client.get(f"/v1/videos/{job_id}").raise_for_status()
                    samples.append((time.perf_counter() - start) * 1000)
            return samples

        started = time.monotonic()
        with cf.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(worker) for _ in range(clients)]
            results = [s for f in futures for s in f.result()]
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    return len(results) / elapsed, statistics.median(results)


def main(argv: list[str] | None = None) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    in_process(args.repeat)
    print()
    print("| store | clients | polls/s | median ms |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("memory", f"sqlite:{tmp}/bench.db"):
            for clients in (1, 8):
                rate, median = loopback(clients, args.seconds, store)
                label = store.split(":")[0]
                print(f"| {label} | {clients} | {rate:.0f} | {median:.2f} |")


if __name__ == "__main__":
    main()
