"""What ``/metrics`` costs a status poll: CPU time per poll with metrics on and off.

``python -m benchmarks.bench_metrics [--rounds 15] [--polls 400] [--multiprocess]``

Two apps (``metrics=True`` and ``--no-metrics``), one job each; rounds interleave them (the
order alternates), each round timing ``--polls`` gpt.ge status polls with the process's CPU
time (on a shared machine the wall clock also counts other processes). Prints the median
microseconds per poll of each, their ratio, and the load average. ``--multiprocess`` writes
the metrics to prometheus-client's multiprocess files, as ``sora-mock serve`` does.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_metrics")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--polls", type=int, default=400)
    parser.add_argument("--multiprocess", action="store_true")
    parser.add_argument(
        "--control", action="store_true", help="both apps without metrics: the noise floor"
    )
    args = parser.parse_args(argv)
    if args.multiprocess:
        from mockserver.state.metrics import prepare_multiprocess

        prepare_multiprocess(tempfile.mkdtemp(prefix="bench-metrics-"))

    from PIL import Image

    from mockserver.http.app import create_app
    from mockserver.testing import test_config

    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (200, 40, 40)).save(buf, "PNG")
    image = buf.getvalue()
    auth = {"Authorization": "Bearer sk-bench"}
    polls = {}
    for on in (True, False):
        config = test_config(strict=False, metrics=on and not args.control)
        client = create_app(config).test_client()
        created = client.post(
            "/gptge/v1/videos",
            data={
                "prompt": "p",
                "model": "sora-2",
                "seconds": "4",
                "size": "720x1280",
                "input_reference": (io.BytesIO(image), "a.png", "image/png"),
            },
            headers=auth,
        )
        assert created.status_code == 200, created.get_data(as_text=True)
        path = f"/gptge/v1/videos/{created.get_json()['id']}"

        def poll(client: object = client, path: str = path) -> None:
            assert client.get(path, headers=auth).status_code == 200  # type: ignore[attr-defined]

        for _ in range(50):  # warm
            poll()
        polls[on] = poll

    per_poll: dict[bool, list[float]] = {True: [], False: []}
    for r in range(args.rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            started = time.process_time()
            for _ in range(args.polls):
                polls[on]()
            per_poll[on].append((time.process_time() - started) / args.polls * 1e6)
    with_m, without = statistics.median(per_poll[True]), statistics.median(per_poll[False])
    mode = "multiprocess files" if args.multiprocess else "in-process registry"
    print(f"metrics ({mode}), {args.rounds} rounds x {args.polls} polls, CPU us per poll:")
    print(f"  on:  median {with_m:.1f}  (min {min(per_poll[True]):.1f})")
    print(f"  off: median {without:.1f}  (min {min(per_poll[False]):.1f})")
    print(f"  on/off: {with_m / without:.4f}  (+{(with_m / without - 1) * 100:.2f} %)")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
