"""The mock at 1k, 10k and 100k jobs: memory, status polls, list pages and admin pages.

Jobs are made through the service (what a create stores, without the HTTP parsing), every one
from the same small PNG; polls and pages go through the app (routing, validation, the
dialect, the journal) with the Flask test client. The question is whether a request's cost
stays flat as jobs pile up, and whether memory stays bounded (the image is stored once).

``python -m benchmarks bench_scale [--store memory|sqlite] [--sizes 1000,10000,100000]``
"""

from __future__ import annotations

import argparse
import gc
import io
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from mockserver.http.app import create_app, service_of
from mockserver.state.lifecycle import key_fingerprint
from mockserver.testing import test_config

KEY = "sk-bench"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_scale")
    parser.add_argument("--store", default="memory", choices=["memory", "sqlite"])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (200, 40, 40)).save(buf, "PNG")
    png = buf.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        store = "memory" if args.store == "memory" else f"sqlite:{tmp}/scale.sqlite"
        app = create_app(test_config(store=store, strict=False))
        svc = service_of(app)
        client = app.test_client()
        owner = key_fingerprint(KEY)
        gc.collect()
        base = rss_mb()
        print(
            f"store: {args.store}; one {len(png):,}-byte PNG for every job; RSS at start "
            f"{base:.0f} MB"
        )
        print()
        print(
            "| jobs | RSS MB | MB per 1k jobs | poll p50 ms | poll p99 ms | list page p50 ms "
            "| list page p99 ms | admin page p50 ms | admin status page p50 ms |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ids: list[str] = []
        for size in sizes:
            while len(ids) < size:
                job = svc.create_job(
                    api="gptge-videos",
                    id_prefix="video_",
                    model="sora-2",
                    prompt="a cat",
                    width=720,
                    height=1280,
                    seconds=4,
                    owner=owner,
                    image=png,
                    params={},
                    scenario=None,
                    failure=("failed", "failed"),
                )
                ids.append(job.id)
            gc.collect()
            rss = rss_mb()
            rng = random.Random(size)

            def poll_one(rng: random.Random = rng) -> object:
                return client.get(f"/gptge/v1/videos/{rng.choice(ids)}", headers=HEADERS)

            def list_page(rng: random.Random = rng) -> object:
                after = {"limit": 100, "after": rng.choice(ids)}
                return client.get("/gptge/v1/videos", query_string=after, headers=HEADERS)

            poll = percentiles(poll_one, args.repeat)
            page = percentiles(list_page, max(20, args.repeat // 10))
            admin = percentiles(
                lambda: client.get("/__mock/jobs", query_string={"limit": 100}),
                max(20, args.repeat // 10),
            )
            status = percentiles(
                lambda: client.get("/__mock/jobs", query_string={"limit": 100, "status": "queued"}),
                max(20, args.repeat // 10),
            )
            print(
                f"| {size:,} | {rss:.0f} | {(rss - base) / size * 1000:.1f} | {poll[0]:.2f} | "
                f"{poll[1]:.2f} | {page[0]:.2f} | {page[1]:.2f} | {admin[0]:.2f} | "
                f"{status[0]:.2f} |"
            )
        print()
        print(f"images stored: {svc.store.stats()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
