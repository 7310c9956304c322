"""In-process cost of one request, and start-up time (issue 8: the compiled hot path).

``python -m benchmarks bench_inprocess [--repeat N]`` prints two tables:

1. per request, the median (and p90) with Flask's test client, no server and no socket: a
   gpt.ge status poll, a gpt.ge multipart create with a 720x1280 PNG, a Vtrix JSON create;
   each with ``strict`` off and on (strict also validates the response against the contract);
2. start-up: ``import mockserver.app`` and "launch to the first answered request" (a fresh
   interpreter imports the app, builds it and answers ``GET /``), median of a few runs.

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

from mockserver.app import create_app
from mockserver.testing import test_config

AUTH = {"Authorization": "Bearer sk-bench"}

FIRST_REQUEST = (
    "import time; t=time.perf_counter(); "
    "from mockserver.app import create_app; app=create_app(); c=app.test_client(); "
    "r=c.get('/'); assert r.status_code == 200; "
    "print(time.perf_counter()-t)"
)
IMPORT_ONLY = (
    "import time; t=time.perf_counter(); import mockserver.app; print(time.perf_counter()-t)"
)


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def _time(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: validators, caches, lazy imports
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


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


def per_request(repeat: int) -> list[tuple[str, bool, float, float]]:
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
            samples = _time(call, n)
            p90 = statistics.quantiles(samples, n=10)[8]
            rows.append((name, strict, statistics.median(samples), p90))
        violations = app.extensions["sora_mock"].violations
        assert not violations, violations
    return rows


def _seconds(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_inprocess")
    parser.add_argument("--repeat", type=int, default=300, help="requests per row (default 300)")
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (default 5)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])

    print("| request (Flask test client, in-process) | strict | median ms | p90 ms |")
    print("|---|---|---:|---:|")
    for name, strict, median, p90 in per_request(args.repeat):
        print(f"| {name} | {strict} | {median:.3f} | {p90:.3f} |")
    print()
    print("| start-up (fresh interpreter) | median s |")
    print("|---|---:|")
    print(f"| import mockserver.app | {_seconds(IMPORT_ONLY, args.runs):.3f} |")
    print(f"| import + create_app() + first GET / | {_seconds(FIRST_REQUEST, args.runs):.3f} |")


if __name__ == "__main__":
    main()
