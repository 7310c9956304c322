"""In-process cost of one request, and start-up time (issue 8: the compiled hot path).

``python -m benchmarks bench_inprocess [--repeat N]`` prints two tables:

1. per request with Flask's test client, no server and no socket: a gpt.ge status poll, a
   gpt.ge multipart create with a 720x1280 PNG, a Vtrix JSON create; each with ``strict`` off
   and on (strict also validates the response against the contract). Wall-clock median and
   minimum, and the median of the thread's CPU time (on a shared machine the wall clock also
   counts the time other processes hold the cores);
2. start-up: ``import mockserver.http.app``, and "launch to the first answered request" (a fresh
   interpreter imports the app, builds it, answers ``GET /`` and a gpt.ge status poll),
   median of a few runs, wall and CPU seconds.

Only in-process and subprocesses of this interpreter; nothing listens on a port.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from mockserver.http.app import create_app
from mockserver.testing import test_config

AUTH = {"Authorization": "Bearer sk-bench"}

FIRST_REQUEST = (
    "import resource, time; t=time.perf_counter(); "
    "from mockserver.http.app import create_app; app=create_app(); c=app.test_client(); "
    "assert c.get('/').status_code == 200; "
    "r=c.get('/gptge/v1/videos/video_1', headers={'Authorization': 'Bearer k'}); "
    "assert r.status_code == 404; u=resource.getrusage(resource.RUSAGE_SELF); "
    "print(time.perf_counter()-t, u.ru_utime+u.ru_stime)"
)
IMPORT_ONLY = (
    "import resource, time; t=time.perf_counter(); import mockserver.http.app; "
    "u=resource.getrusage(resource.RUSAGE_SELF); "
    "print(time.perf_counter()-t, u.ru_utime+u.ru_stime)"
)


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def _time(call: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per call. On a shared machine the wall clock also counts the
    time other processes hold the cores; this thread's CPU time does not."""
    call()  # warm: validators, caches, lazy imports
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def _calls(client: Any, image: bytes) -> tuple[Callable[[], str], Callable[[], None], Any]:
    def gptge_create() -> str:
        form = {"prompt": "a cat", "input_reference": (io.BytesIO(image), "a.png", "image/png")}
        response = client.post(
            "/gptge/v1/videos", headers=AUTH, data=form, content_type="multipart/form-data"
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return str(response.json["id"])

    def vtrix_create() -> None:
        response = client.post(
            "/vtrix/model/v1/generation",
            headers=AUTH,
            json={"model": "sora_2_pro_i2v", "prompt": "a cat"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    job_id = gptge_create()

    def poll() -> None:
        response = client.get(f"/gptge/v1/videos/{job_id}", headers=AUTH)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    return gptge_create, vtrix_create, poll


def per_request(repeat: int) -> list[tuple[str, bool, float, float, float]]:
    image = _png(720, 1280)
    rows = []
    for strict in (False, True):
        app = create_app(test_config(strict=strict))
        gptge_create, vtrix_create, poll = _calls(app.test_client(), image)
        for name, call, n in (
            ("gpt.ge status poll (GET)", poll, repeat),
            ("gpt.ge create (multipart, 720x1280 PNG)", gptge_create, max(20, repeat // 3)),
            ("Vtrix create (JSON)", vtrix_create, repeat),
        ):
            wall, cpu = _time(call, n)
            rows.append((name, strict, statistics.median(wall), min(wall), statistics.median(cpu)))
        violations = app.extensions["sora_mock"].violations
        assert not violations, violations
    return rows


def _seconds(code: str, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``code`` in a fresh interpreter."""
    wall, cpu = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        w, c = out.strip().splitlines()[-1].split()
        wall.append(float(w))
        cpu.append(float(c))
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_inprocess")
    parser.add_argument("--repeat", type=int, default=300, help="requests per row (default 300)")
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (default 5)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])

    print(
        "| request (Flask test client, in-process) | strict | wall median ms | wall min ms |"
        " CPU median ms |"
    )
    print("|---|---|---:|---:|---:|")
    for name, strict, median, fastest, cpu in per_request(args.repeat):
        print(f"| {name} | {strict} | {median:.3f} | {fastest:.3f} | {cpu:.3f} |")
    print()
    print("| start-up (fresh interpreter) | wall median s | CPU median s |")
    print("|---|---:|---:|")
    for name, code in (
        ("import mockserver.http.app", IMPORT_ONLY),
        ("import + create_app() + GET / + first status poll", FIRST_REQUEST),
    ):
        wall, cpu = _seconds(code, args.runs)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
