"""The served mock beside what a user would pick instead, under the same load, in one run.

Servers, started side by side on loopback and measured alternately (the order rotates every
round, so drift on a shared machine falls on all of them alike):

- ``mock``:  ``sora-mock serve --workers N`` (the real thing: contract validation, shared
  SQLite state, journal), virtual clock so the polled job stays in one state;
- ``mock (redis)``: the same on ``--store redis://`` (a ``redis-server`` of the run's own);
- ``prism`` and ``prism -m``: Prism 5 mocking the same gpt.ge contract (static answers), at
  its default and at ``--multiprocess`` (its fastest setting), from ``.cache/prism``
  (``make bench`` installs it; never ``make test``);
- ``floor``: a bare Flask JSON endpoint on the same WSGI server and worker count: the most any
  Flask app can do here.

Workloads (wrk): GET status at 16 and 64 connections, multipart create (a 720x1280 PNG) at 16,
and a 90/10 poll/create mix at 16. Reported: requests/s, p50, p99, non-2xx, the ratios to Prism
and to the floor (median over rounds), start-up time to the first answered request, and issue
25's targets (creates, tails, Redis, Prism), each marked met or not.
``--quick`` (``make bench QUICK=1``, part of ``make test``) runs every step briefly so the
benchmark cannot rot; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mockserver.testing import redis_server

ROOT = Path(__file__).resolve().parent.parent
PRISM = ROOT / ".cache" / "prism" / "node_modules" / ".bin" / "prism"
CONTRACT = ROOT / "contracts" / "gptge-videos.yaml"
BOUNDARY = "sora-mock-bench-boundary"
AUTH = "Bearer sk-bench"
LUA = """
local body = nil
local f = io.open(os.getenv("BENCH_BODY"), "rb")
body = f:read("*a")
f:close()
local status_path = os.getenv("BENCH_STATUS_PATH")
local create_path = os.getenv("BENCH_CREATE_PATH")
local every = tonumber(os.getenv("BENCH_CREATE_EVERY"))
local get_headers = {["Authorization"] = os.getenv("BENCH_AUTH")}
local post_headers = {
  ["Authorization"] = os.getenv("BENCH_AUTH"),
  ["Content-Type"] = "multipart/form-data; boundary=" .. os.getenv("BENCH_BOUNDARY"),
}
local n = 0
request = function()
  n = n + 1
  if every > 0 and n % every == 0 then
    return wrk.format("POST", create_path, post_headers, body)
  end
  return wrk.format("GET", status_path, get_headers)
end
"""
FLOOR_APP = """
from flask import Flask, jsonify, request

app = Flask("floor")


@app.get("/v1/videos/<video_id>")
def status(video_id):
    return jsonify({"id": video_id, "object": "video", "status": "queued", "progress": 0})


@app.post("/v1/videos")
def create():
    return jsonify({"id": "video_1", "prompt": request.form.get("prompt"), "status": "queued"})
"""


@dataclass(frozen=True)
class Workload:
    name: str
    connections: int
    #: every n-th request is a create (1: all creates, 0: none)
    create_every: int


WORKLOADS = (
    Workload("GET status, 16 connections", 16, 0),
    Workload("GET status, 64 connections", 64, 0),
    Workload("create (multipart 720x1280 PNG), 16 connections", 16, 1),
    Workload("90/10 poll/create mix, 16 connections", 16, 10),
)


@dataclass
class Server:
    name: str
    port: int
    #: the path prefix of the gpt.ge API on this server
    prefix: str
    job_path: str = ""
    startup_s: float = 0.0
    #: the session its processes run in (its launcher's pid: ``start_new_session``)
    session: int = 0


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


@dataclass
class Result:
    server: str
    workload: str
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def png_720x1280() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def multipart_body(image: bytes) -> bytes:
    fields = {"prompt": "A cat in a hat", "model": "sora-2", "seconds": "4", "size": "720x1280"}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="input_reference"; '
        f'filename="cat.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + image
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@contextmanager
def launched(name: str, command: list[str], port: int, probe: str, cwd: Path) -> Iterator[Server]:
    """Start a server; its start-up time is launch to the first answered request.

    One client probes every 2 ms: ``httpx.get`` builds a client, and its TLS context, per
    call (~50 ms of CPU here), which made the probe's resolution ~55 ms and took a core
    from the server it was timing."""
    probing = httpx.Client(headers={"Authorization": AUTH}, timeout=10)
    started = time.perf_counter()
    # a session of its own: stopping it stops every process it started (granian's workers,
    # Prism's node), even one its main process leaves behind
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(name, port, prefix="", session=process.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {command}")
            try:
                probing.get(f"http://127.0.0.1:{port}{probe}")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer within 60 s") from None
                time.sleep(0.002)
        server.startup_s = time.perf_counter() - started
        probing.close()
        yield server
    finally:
        probing.close()
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in a session of its own, and whatever it left running: a bare
    granian stopped while its workers were still starting left one of them serving (seen:
    five orphaned floor workers after seven quick launches)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # what is left of the group
    except ProcessLookupError:
        pass
    process.wait()


def start_mock(stack: ExitStack, workers: int, store: str | None = None) -> Server:
    """The mock on its default store (a SQLite file of its own with N workers), or on
    ``store`` (``redis://...``: the server named ``mock (redis)``)."""
    port = free_port()
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--clock", "virtual"]
    command += ["--store", store] if store else []
    name = "mock (redis)" if store else "mock"
    server = stack.enter_context(launched(name, command, port, "/__mock/clock", ROOT))
    server.prefix = "/gptge"
    return server


def start_floor(stack: ExitStack, workers: int, workdir: Path) -> Server:
    (workdir / "floor_app.py").write_text(FLOOR_APP)
    port = free_port()
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(workers)]
    command += ["--port", str(port), "--no-log", "--blocking-threads", "128"]
    command += ["--backpressure", "4096", "floor_app:app"]
    return stack.enter_context(launched("floor", command, port, "/v1/videos/x", workdir))


def start_gunicorn(stack: ExitStack, workers: int, workdir: Path, mock: bool) -> Server:
    """The same app under gunicorn (gthread workers): the WSGI server granian was chosen over."""
    from mockserver.http.serving import CONFIG_ENV, config_to_env, shared_config
    from mockserver.settings.config import MockConfig

    port = free_port()
    target = "mockserver.http.serving:worker_app()" if mock else "floor_app:app"
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread"]
    command += ["--threads", "32", "-b", f"127.0.0.1:{port}", "--log-level", "error", target]
    config = shared_config(MockConfig(clock="virtual"), max(2, workers), workdir)
    os.environ[CONFIG_ENV] = config_to_env(config)
    name = "mock on gunicorn" if mock else "floor on gunicorn"
    probe = "/__mock/clock" if mock else "/v1/videos/x"
    server = stack.enter_context(
        launched(name, command, port, probe, workdir if not mock else ROOT)
    )
    server.prefix = "/gptge" if mock else ""
    return server


def start_prism(stack: ExitStack, multiprocess: bool = False) -> Server | None:
    """Prism 5 on the same contract: its default, or ``--multiprocess`` (a worker per core,
    its fastest setting: ``prism -m``)."""
    if not PRISM.exists():
        return None
    port = free_port()
    command = [str(PRISM), "mock", str(CONTRACT), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--multiprocess"] if multiprocess else []
    name = "prism -m" if multiprocess else "prism"
    return stack.enter_context(launched(name, command, port, "/v1/videos/video_1", ROOT))


def create_job(server: Server, body: bytes) -> str:
    answer = httpx.post(
        f"http://127.0.0.1:{server.port}{server.prefix}/v1/videos",
        content=body,
        headers={
            "Authorization": AUTH,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


_LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def session_ticks(sessions: list[int]) -> int:
    """CPU time (clock ticks, user and system) used so far by every process of ``sessions``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # after "pid (comm) ": state, ppid, pgrp, session, ..., utime (12th), stime (13th)
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) in sessions:
            total += int(fields[11]) + int(fields[12])
    return total


def settle(
    read: Callable[[], int],
    wait: Callable[[float], object] = time.sleep,
    *,
    step: float = 0.2,
    quiet_ticks: int = 2,
    bound: float = 10.0,
) -> bool:
    """Wait until the servers are idle: at most ``quiet_ticks`` of CPU over a ``step`` (at
    100 ticks a second, 2 in 0.2 s is a tenth of a core). A server still working through what
    the last run queued (Prism at 64 connections answered with p99s of 0.7 s, and went on after
    wrk stopped) would take the cores from the next server measured. False when still busy
    after ``bound`` seconds (the run goes on; the table says so)."""
    waited = 0.0
    before = read()
    while waited < bound:
        wait(step)
        waited += step
        now = read()
        if now - before <= quiet_ticks:
            return True
        before = now
    return False


def run_wrk(server: Server, load: Workload, seconds: int, script: Path, body_file: Path) -> Sample:
    env = {
        **os.environ,
        "BENCH_BODY": str(body_file),
        "BENCH_STATUS_PATH": server.job_path,
        "BENCH_CREATE_PATH": f"{server.prefix}/v1/videos",
        "BENCH_CREATE_EVERY": str(load.create_every),
        "BENCH_AUTH": AUTH,
        "BENCH_BOUNDARY": BOUNDARY,
    }
    threads = min(2, load.connections)
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", f"-t{threads}", f"-c{load.connections}", duration, "--latency"]
    command += ["-s", str(script), f"http://127.0.0.1:{server.port}"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {m[0]: float(m[1]) * scale[m[2]] for m in _LATENCY.findall(out)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Sample(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency.get("50", float("nan")),
        p99_ms=latency.get("99", float("nan")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def load_files(workdir: Path) -> tuple[Path, bytes, Path]:
    """wrk's script and the multipart create body (a 720x1280 PNG), written into ``workdir``:
    (script, body, the file holding the body)."""
    script = workdir / "load.lua"
    script.write_text(LUA)
    body = multipart_body(png_720x1280())
    body_file = workdir / "create.multipart"
    body_file.write_bytes(body)
    return script, body, body_file


def ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def startup_series(
    launches: int, workers: int, workdir: Path, startups: dict[str, list[float]]
) -> None:
    """Launch the mock and the floor ``launches`` more times each, alternating, one server
    at a time, and add each start-up to ``startups``: one launch varies by ~0.1 s here."""
    for _ in range(launches):
        for start in (start_mock, lambda stack, n: start_floor(stack, n, workdir)):
            with ExitStack() as stack:
                server = start(stack, workers)
                startups.setdefault(server.name, []).append(server.startup_s)


def startup_cell(seconds: list[float]) -> str:
    if len(seconds) == 1:
        return f"{seconds[0]:.2f} s (one launch)"
    return (
        f"{statistics.median(seconds):.2f} s ({min(seconds):.2f}-{max(seconds):.2f} s, "
        f"{len(seconds)} launches)"
    )


def table(
    results: dict[tuple[str, str], Result],
    servers: list[Server],
    startups: dict[str, list[float]],
) -> str:
    names = [s.name for s in servers]
    lines = [
        "| workload | server | requests/s | p50 ms | p99 ms | non-2xx | vs Prism | vs Prism -m "
        "| vs floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for load in WORKLOADS:
        prism = results.get(("prism", load.name))
        prism_m = results.get(("prism -m", load.name))
        floor = results.get(("floor", load.name))
        for name in names:
            res = results[(name, load.name)]
            rps = res.median("rps")
            lines.append(
                f"| {load.name} | {name} | {rps:,.0f} | {res.median('p50_ms'):.2f} | "
                f"{res.median('p99_ms'):.2f} | {sum(s.non_2xx + s.errors for s in res.samples)} | "
                f"{ratio(rps, prism.median('rps') if prism else None)} | "
                f"{ratio(rps, prism_m.median('rps') if prism_m else None)} | "
                f"{ratio(rps, floor.median('rps') if floor else None)} |"
            )
    lines.append("")
    lines.append("| server | start-up to first answered request: median (range) |")
    lines.append("|---|---:|")
    for server in servers:
        lines.append(f"| {server.name} | {startup_cell(startups[server.name])} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    what: str
    figure: float | None
    #: the figure must be at least this (or, with ``at_most``, at most this)
    bound: float
    at_most: bool = False

    @property
    def met(self) -> bool | None:
        if self.figure is None:
            return None
        return self.figure <= self.bound if self.at_most else self.figure >= self.bound


def targets(results: dict[tuple[str, str], Result]) -> list[Target]:
    """Issue 25's targets, each from this run's medians (None where a server did not run):
    creates, the mix and polls at 64 connections against the floor, p99 against the floor's,
    Redis polls against SQLite's, and every workload against Prism, default and ``-m``."""

    def figure(server: str, load: Workload, attr: str = "rps") -> float | None:
        res = results.get((server, load.name))
        return res.median(attr) if res and res.samples else None

    def over(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    poll16, poll64, create, mix = WORKLOADS
    out = [
        Target(
            "creates vs the floor's multipart endpoint",
            over(figure("mock", create), figure("floor", create)),
            0.5,
        ),
        Target("90/10 mix vs the floor", over(figure("mock", mix), figure("floor", mix)), 0.6),
        Target(
            "polls at 64 connections vs the floor",
            over(figure("mock", poll64), figure("floor", poll64)),
            0.9,
        ),
    ]
    for load in (poll16, poll64):
        p99 = over(figure("mock", load, "p99_ms"), figure("floor", load, "p99_ms"))
        out.append(Target(f"p99, {load.name}, vs the floor's", p99, 1.5, at_most=True))
    out.append(
        Target(
            "Redis polls (16 connections) vs SQLite's",
            over(figure("mock (redis)", poll16), figure("mock", poll16)),
            0.8,
        )
    )
    for prism in ("prism", "prism -m"):
        for load in WORKLOADS:
            out.append(
                Target(
                    f"{load.name} vs {prism}",
                    over(figure("mock", load), figure(prism, load)),
                    3.0,
                )
            )
    return out


def targets_table(rows: list[Target]) -> str:
    lines = ["| target | this run | bound | met |", "|---|---:|---:|---|"]
    for row in rows:
        figure = "n/a" if row.figure is None else f"{row.figure:.2f}x"
        bound = f"{'<=' if row.at_most else '>='} {row.bound:g}x"
        met = {True: "yes", False: "**no**", None: "not run"}[row.met]
        lines.append(f"| {row.what} | {figure} | {bound} | {met} |")
    return "\n".join(lines)


def print_header(args: argparse.Namespace, what: str) -> str:
    """Print the line above a wrk table (date, machine, run length, rounds, and ``what`` was
    run) and return it, for the raw figures."""
    header = (
        f"{dt.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; wrk {args.seconds:g} s per run, "
        f"median of {args.rounds} rounds; {what}"
    )
    print(header + ("  (QUICK: a smoke run, figures mean nothing)" if args.quick else ""))
    print()
    return header


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_serving")
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("QUICK")))
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--launches",
        type=int,
        default=9,
        help="launches of the mock and of the floor for the start-up figure (Prism: one)",
    )
    parser.add_argument(
        "--compare-wsgi",
        action="store_true",
        help="also run the mock and the floor under gunicorn (how granian was chosen)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.launches = 1, 1, 1
    if shutil.which("wrk") is None:
        print("wrk is not installed: `make bench` installs it (apt-get install wrk)")
        return 1

    # start-up as a user's second launch sees it: with bytecode caches (Python writes them at
    # the first import unless PYTHONDONTWRITEBYTECODE is set; compiling the sources costs the
    # mock ~0.1 s of start-up on this machine)
    for package in ("mockserver", "contracts", "sora_client"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        script, body, body_file = load_files(workdir)

        servers = [start_mock(stack, args.workers)]
        redis_url = stack.enter_context(redis_server())
        servers.append(start_mock(stack, args.workers, store=redis_url))
        for multiprocess in (False, True):
            prism = None if args.quick else start_prism(stack, multiprocess)
            if prism is None:
                print("Prism: skipped (a quick run, or not installed: `make bench` installs it)")
                break
            servers.append(prism)
        servers.append(start_floor(stack, args.workers, workdir))
        if args.compare_wsgi:
            servers.append(start_gunicorn(stack, args.workers, workdir, mock=True))
            servers.append(start_gunicorn(stack, args.workers, workdir, mock=False))
        for server in servers:
            server.job_path = f"{server.prefix}/v1/videos/{create_job(server, body)}"

        results: dict[tuple[str, str], Result] = {}
        unsettled: list[str] = []  # runs started while a server was still busy
        for load in WORKLOADS:
            for round_no in range(args.rounds):
                shift = round_no % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    if not settle(lambda: session_ticks([s.session for s in servers])):
                        unsettled.append(f"{server.name}, {load.name}")
                    key = (server.name, load.name)
                    res = results.setdefault(key, Result(*key))
                    res.samples.append(run_wrk(server, load, args.seconds, script, body_file))
        startups = {server.name: [server.startup_s] for server in servers}
        stack.close()  # every server stopped: each launch of the series runs alone
        startup_series(args.launches - 1, args.workers, workdir, startups)
        report = table(results, servers, startups) + "\n\n" + targets_table(targets(results))
        if unsettled:
            report += "\n\nstarted while a server was still busy after 10 s: " + "; ".join(
                unsettled
            )

    header = print_header(args, f"{args.workers} workers for the mock and the floor")
    print(report)
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    raw = {f"{k[0]} | {k[1]}": [s.__dict__ for s in v.samples] for k, v in results.items()}
    (out / "bench-serving.json").write_text(
        json.dumps({"header": header, "results": raw, "startup_s": startups}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
