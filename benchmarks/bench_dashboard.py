"""What the dashboard costs the server: one poll (clock, jobs, journal, scenarios) with N jobs.

The dashboard polls once a second while its tab is visible, so a poll's server time is the
share of one core it takes. Measured in-process (WSGI, no sockets), memory and SQLite stores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import httpx

from mockserver.http.app import create_app
from mockserver.testing import test_config

POLL = ("/__mock/clock", "/__mock/jobs?limit=100", "/__mock/journal?limit=50", "/__mock/scenarios")


def poll_ms(jobs: int, store: str, repeat: int) -> float:
    app = create_app(test_config(store=store, strict=False))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://mock",
        headers={"Authorization": "Bearer sk-bench"},
    )
    for i in range(jobs):
        client.post(
            "/vtrix/model/v1/generation",
            json={"model": "sora_2_pro_i2v", "prompt": f"job {i}", "size": "720x1280"},
        )
        if i % 50 == 0:
            client.post("/__mock/clock/advance", json={"seconds": 1})
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for path in POLL:
            client.get(path).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print("| jobs | store | one dashboard poll (4 requests), median |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (0, 100, 1000):
            for store in ("memory", f"sqlite:{tmp}/bench-{jobs}.db"):
                ms = poll_ms(jobs, store, args.repeat)
                print(f"| {jobs} | {store.split(':')[0]} | {ms:.1f} ms |")


if __name__ == "__main__":
    main()
