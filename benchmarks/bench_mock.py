"""How fast the mock answers in-process (Flask test client): the cost of the app itself.

``python -m benchmarks bench_mock`` prints, per operation, median and p95 latency, with and
without strict response validation (request validation is always on). Served over loopback,
beside Prism and the framework's floor: ``bench_serving``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from providers import APIS  # noqa: E402

from mockserver.http.app import create_app  # noqa: E402
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


def main(argv: list[str] | None = None) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    in_process(args.repeat)


if __name__ == "__main__":
    main()
