"""Render time per contract size and duration, and how fast a completed job's video starts.

Two parts, in one run:

- **render**: ``mockserver.media.render_video`` for every size and duration some contract
  allows (read from ``contracts/*.yaml``: the ``size``/``seconds``/``duration`` enums, the
  v3 dialect's size table and the chat dialect's 1..15 s), each from a reference image of its
  own (a photo-like 2048x1536 JPEG, so every render is cold), beside the budget: how long a
  job of that duration runs at ``--speed 20`` at the least (``mockserver/state/lifecycle.py``, the
  default timings with their jitter at its least favourable). A render within its budget is
  ready when its job completes. Then the same image and size at another duration ("warm":
  the encoded loop is reused, only the packets are laid out again).
- **download**: ``sora-mock serve --workers 2 --speed 20`` (real clock); wrk polls one job's
  status at 16 connections the whole time; meanwhile jobs of mixed sizes and durations are
  created (gpt.ge ``/v1/videos`` up to 12 s, GPTProto v3 for 10/15/25 s), each is polled until
  it completes and its video downloaded at once; reported: time to the first byte of the video
  (p50/p95/max; the target is p95 <= 100 ms) and the poll load's requests/s and p99.

``--quick`` (``make bench QUICK=1``, part of ``make test``) renders one case and downloads two
jobs under two seconds of load, so the benchmark cannot rot; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_serving import (
    AUTH,
    LUA,
    ROOT,
    Sample,
    Server,
    Workload,
    free_port,
    launched,
    run_wrk,
)

SPEED = 20.0
#: jobs in the download part: sizes and durations a client would mix (api, model, size, seconds)
JOB_MIX = (
    ("gptge", "sora-2", "720x1280", 4),
    ("gptge", "sora-2-pro", "1792x1024", 12),
    ("v3", "sora-2-pro", "large/landscape", 25),
    ("gptge", "sora-2", "1280x720", 8),
    ("v3", "sora-2", "small/portrait", 15),
    ("gptge", "sora-2-pro", "1024x1792", 4),
    ("v3", "sora-2-pro", "large/portrait", 10),
    ("gptge", "sora-2-pro", "1792x1024", 8),
)


# ---------------------------------------------------------------------------------- the matrix


def _enums(node: Any, names: set[str]) -> Iterator[tuple[str, list[Any]]]:
    """Every ``enum`` under a property called one of ``names``, anywhere in a contract."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in names and isinstance(value, dict) and isinstance(value.get("enum"), list):
                yield key, value["enum"]
            yield from _enums(value, names)
    elif isinstance(node, list):
        for item in node:
            yield from _enums(item, names)


def contract_cases() -> list[tuple[int, int, list[int]]]:
    """(width, height, durations) for every size any contract allows, with every duration
    any contract allows (a superset: a few combinations need a pro model or another API)."""
    from contracts import load_all
    from contracts._declaration import declarations
    from contracts._named_sizes import pixels
    from mockserver.providers import gptproto_chat

    sizes: set[tuple[int, int]] = {
        pixels(size) for d in declarations() for size in d.answers.size_fields
    }
    durations: set[int] = {1, gptproto_chat.MAX_SECONDS}  # the chat's prompt-given 1..15 s
    for contract in load_all().values():
        for key, values in _enums(contract.spec, {"size", "seconds", "duration"}):
            for value in values:
                if key == "size" and re.fullmatch(r"\d+x\d+", str(value)):
                    width, height = (int(v) for v in str(value).split("x"))
                    sizes.add((width, height))
                elif key != "size" and str(value).isdigit():
                    durations.add(int(value))
    chat_sizes = {(720, 1280), (1280, 720)}  # the chat dialect renders 1..15 s at these only
    return [
        (w, h, [d for d in sorted(durations) if d >= 4 or (w, h) in chat_sizes])
        for w, h in sorted(sizes)
    ]


def budget_seconds(seconds: int, speed: float = SPEED) -> float:
    """The shortest time from create to completed for a job of ``seconds`` at ``speed``."""
    from mockserver.settings.config import Timings

    t = Timings()
    return min(
        (
            t.queue_seconds * (1 + s)
            + (t.render_base_seconds + t.render_seconds_per_video_second * seconds) * (1 - s / 2)
        )
        / speed
        for s in (-t.jitter, t.jitter)
    )


_base_image: list[Any] = []


def reference_jpeg(n: int, size: tuple[int, int]) -> bytes:
    """bench_media's photo-like JPEG (gradient, shapes, grain) at ``size`` (gpt.ge wants the
    video's size), with a mark of its own: ``n`` picks it, so no two are the same content."""
    from PIL import Image, ImageDraw

    from benchmarks.bench_media import reference_image

    if not _base_image:
        _base_image.append(Image.open(io.BytesIO(reference_image(2048, 2048))).convert("RGB"))
    im = _base_image[0].resize(size)
    x, y = (n * 8) % (size[0] - 8), 8 + (n * 8) // (size[0] - 8) * 8 % (size[1] - 16)
    ImageDraw.Draw(im).rectangle((x, y, x + 7, y + 7), fill=(n % 256, 255 - n % 256, 0))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def render_table(cases: list[tuple[int, int, list[int]]], seed: int) -> tuple[str, list[dict]]:
    from mockserver.media import render_video

    durations = sorted({d for _, _, ds in cases for d in ds})
    head = "| size | " + " | ".join(f"{d} s" for d in durations) + " | warm | MB at longest |"
    lines = [head, "|---|" + "---:|" * (len(durations) + 2)]
    lines.append(
        "| budget at --speed 20 | "
        + " | ".join(f"{budget_seconds(d) * 1000:.0f}" for d in durations)
        + " | | |"
    )
    raw: list[dict] = []
    n = seed
    render_video(reference_jpeg(n, (64, 64)), 64, 64, 1)  # imports PyAV and numpy: not timed
    for width, height, allowed in cases:
        cells, size_mb, image = [], 0.0, b""
        for seconds in durations:
            if seconds not in allowed:
                cells.append("-")
                continue
            n += 1
            image = reference_jpeg(n, (width, height))
            started = time.perf_counter()
            video = render_video(image, width, height, seconds)
            ms = (time.perf_counter() - started) * 1000
            over = ms > budget_seconds(seconds) * 1000
            cells.append(f"**{ms:.0f}**" if over else f"{ms:.0f}")
            size_mb = len(video) / 1e6
            raw.append(
                {"size": f"{width}x{height}", "seconds": seconds, "ms": ms, "bytes": len(video)}
            )
        started = time.perf_counter()
        render_video(image, width, height, allowed[-1] + 1)  # same image and size: warm
        warm = (time.perf_counter() - started) * 1000
        lines.append(
            f"| {width}x{height} | " + " | ".join(cells) + f" | {warm:.0f} | {size_mb:.1f} |"
        )
    return "\n".join(lines), raw


# -------------------------------------------------------------------------------- the download


@dataclass
class Download:
    api: str
    size: str
    seconds: int
    #: create to completed, as the polls saw it
    job_s: float
    #: request sent to the first byte of the video's body
    first_byte_ms: float
    bytes: int


def _pixels(size: str) -> tuple[int, int]:
    if "/" in size:  # the v3 dialect's size/orientation
        from mockserver.providers.declared_answers import named_pixels

        scale, orientation = size.split("/")
        found = named_pixels({"size": scale, "orientation": orientation})
        assert found is not None, f"no declared size is {size}"
        return found
    width, height = size.split("x")
    return int(width), int(height)


def _create(
    client: httpx.Client, api: str, model: str, size: str, seconds: int, image: bytes
) -> tuple[str, str]:
    """Create a job; returns (status path, how to find its video: a path or 'outputs')."""
    if api == "gptge":
        answer = client.post(
            "/gptge/v1/videos",
            data={
                "prompt": "A cat in a hat",
                "model": model,
                "seconds": str(seconds),
                "size": size,
            },
            files={"input_reference": ("ref.jpg", image, "image/jpeg")},
        )
        answer.raise_for_status()
        job = answer.json()["id"]
        return f"/gptge/v1/videos/{job}", f"/gptge/v1/videos/{job}/content"
    import base64

    scale, orientation = size.split("/")
    answer = client.post(
        "/gptproto/api/v3/openai/reverse/sora-2/image-to-video",
        json={
            "prompt": "She turns around and smiles",
            "images": ["data:image/jpeg;base64," + base64.b64encode(image).decode()],
            "size": scale,
            "orientation": orientation,
            "duration": seconds,
            "model": model,
        },
    )
    answer.raise_for_status()
    job = answer.json()["data"]["id"]
    return f"/gptproto/api/v3/predictions/{job}/result", "outputs"


def _completed(body: dict[str, Any]) -> bool:
    status = body.get("status") or (body.get("data") or {}).get("status")
    if status == "failed":
        raise RuntimeError(f"a benchmark job failed: {body}")
    return status == "completed"


def download_one(base: str, spec: tuple[str, str, str, int], image: bytes) -> Download:
    api, model, size, seconds = spec
    with httpx.Client(base_url=base, headers={"Authorization": AUTH}, timeout=60) as client:
        started = time.perf_counter()
        status_path, video = _create(client, api, model, size, seconds, image)
        while True:
            body = client.get(status_path).json()
            if _completed(body):
                break
            time.sleep(0.01)  # a client polling every 10 ms: at most 10 ms after completion
        job_s = time.perf_counter() - started
        if video == "outputs":
            video = body["data"]["outputs"][0]
        sent = time.perf_counter()
        with client.stream("GET", video) as answer:
            answer.raise_for_status()
            chunks = answer.iter_raw()
            first = next(chunks)
            first_byte_ms = (time.perf_counter() - sent) * 1000
            total = len(first) + sum(len(c) for c in chunks)
    return Download(api, size, seconds, job_s, first_byte_ms, total)


def download_run(
    jobs: int, interval: float, seed: int, fresh: bool, warm_up: bool
) -> tuple[list[Download], Sample]:
    """Jobs under the poll load. ``fresh``: every job an image of its own (every render
    cold); otherwise one image per size, as a client's fixtures are. ``warm_up``: one round
    of the mix first, not measured (with fixtures: the renders a suite's first run pays)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    mix = [JOB_MIX[i % len(JOB_MIX)] for i in range(jobs)]
    if fresh:
        images = [reference_jpeg(seed + 1 + i, _pixels(spec[2])) for i, spec in enumerate(mix)]
    else:
        fixtures = {size: reference_jpeg(seed, _pixels(size)) for _, _, size, _ in JOB_MIX}
        images = [fixtures[spec[2]] for spec in mix]
    with tempfile.TemporaryDirectory(prefix="sora-bench-renders-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        port = free_port()
        command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port)]
        command += ["--workers", "2", "--speed", f"{SPEED:g}"]
        server: Server = stack.enter_context(launched("mock", command, port, "/__mock/clock", ROOT))
        server.prefix = "/gptge"
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": AUTH}) as client:
            image = reference_jpeg(seed - 1, (720, 1280))
            server.job_path, _ = _create(client, "gptge", "sora-2", "720x1280", 4, image)
        if warm_up:
            with ThreadPoolExecutor(max_workers=len(JOB_MIX)) as pool:
                list(pool.map(download_one, [base] * len(JOB_MIX), JOB_MIX, images))
        script = workdir / "load.lua"
        script.write_text(LUA)
        body_file = workdir / "unused.body"
        body_file.write_bytes(b"")
        load: list[Sample] = []
        load_seconds = max(2, round(jobs * interval + 2))
        poller = threading.Thread(
            target=lambda: load.append(
                run_wrk(server, Workload("poll", 16, 0), load_seconds, script, body_file)
            ),
            daemon=True,
        )
        poller.start()
        time.sleep(0.5)  # the load is on before the first create
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = []
            for i in range(jobs):
                futures.append(pool.submit(download_one, base, mix[i], images[i]))
                time.sleep(interval)
            downloads = [f.result() for f in futures]
        poller.join()
    return downloads, load[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def download_table(runs: dict[str, tuple[list[Download], Sample]]) -> str:
    lines = [
        "| images | jobs | first byte p50 ms | p95 ms | max ms | create to completed p50 s "
        "| poll load requests/s | poll p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (downloads, load) in runs.items():
        firsts = [d.first_byte_ms for d in downloads]
        lines.append(
            f"| {name} | {len(downloads)} | {statistics.median(firsts):.1f} | "
            f"{percentile(firsts, 0.95):.1f} | {max(firsts):.1f} | "
            f"{statistics.median(d.job_s for d in downloads):.2f} | {load.rps:,.0f} | "
            f"{load.p99_ms:.1f} |"
        )
    for name, (downloads, _) in runs.items():
        lines += [
            "",
            f"{name}, job by job:",
            "",
            "| api | size | seconds | create to completed s | first byte ms | MB |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {d.api} | {d.size} | {d.seconds} | {d.job_s:.2f} | {d.first_byte_ms:.1f} | "
            f"{d.bytes / 1e6:.1f} |"
            for d in downloads
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_renders")
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("QUICK")))
    parser.add_argument("--jobs", type=int, default=24, help="jobs downloaded under load, per run")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between creates")
    parser.add_argument("--skip-render", action="store_true", help="only the download part")
    parser.add_argument(
        "--no-fresh", action="store_true", help="skip the run where every job has a new image"
    )
    parser.add_argument(
        "--fresh-interval", type=float, default=1.5, help="seconds between creates, new images"
    )
    args = parser.parse_args(argv)
    seed = int(time.time()) % 100_000  # images the server has not seen (its media dir is new)
    cases = contract_cases()
    if args.quick:  # every step once, as briefly as it goes (part of `make test`)
        args.jobs, args.interval, args.no_fresh = 2, 0.2, True
        cases = [(cases[0][0], cases[0][1], cases[0][2][:1])]
    header = (
        f"{dt.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at start"
    )
    print(header + ("  (QUICK: a smoke run, figures mean nothing)" if args.quick else ""))
    raw: dict[str, Any] = {"header": header}
    if not args.skip_render:
        table, raw["renders"] = render_table(cases, seed)
        print("\nrender_video, ms (cold: an image of its own each; **bold**: over its budget)\n")
        print(table)
    fixtures = "one per size (fixtures)" + ("" if args.quick else ", after a warm-up round")
    runs = {
        fixtures: download_run(
            args.jobs, args.interval, seed + 1000, fresh=False, warm_up=not args.quick
        )
    }
    if not args.no_fresh:
        runs[
            f"a new one every job (every render cold), a create every {args.fresh_interval:g} s"
        ] = download_run(args.jobs, args.fresh_interval, seed + 2000, fresh=True, warm_up=False)
    print(
        f"\nfirst byte of a completed job's video, `serve --workers 2 --speed {SPEED:g}`, "
        f"wrk polling one status at 16 connections (fixtures: a create every {args.interval:g} s)\n"
    )
    print(download_table(runs))
    raw["downloads"] = {
        name: {"jobs": [d.__dict__ for d in downloads], "load": load.__dict__}
        for name, (downloads, load) in runs.items()
    }
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "bench-renders.json").write_text(json.dumps(raw, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
