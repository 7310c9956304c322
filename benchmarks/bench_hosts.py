"""Status polls against servers sharing one Redis, beside the SQLite-store server.

Three set-ups, each ``sora-mock serve --workers N --clock virtual`` on loopback, measured
alternately (the order rotates every round, as in ``bench_serving``):

- ``sqlite, 1 server``: the default store (a SQLite file of the server's own);
- ``redis, 1 server``: ``--store redis://`` on a local ``redis-server``;
- ``redis, 2 servers``: two servers on two ports sharing that Redis (as two hosts behind a
  load balancer would); the job is created through the first, and the 16 connections are
  split 8 + 8 between them (two wrk at once). Requests/s is the sum; p50 and p99 are the
  worse of the two.

Every server polls one job in one state (the virtual clock does not move). On one machine the
two servers, Redis and wrk share the same cores, so this shows what the Redis round trips cost
and that two servers serve one job, not what two machines would add.

``python -m benchmarks bench_hosts [--seconds 10] [--rounds 3] [--workers N] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from benchmarks.bench_serving import (
    ROOT,
    Result,
    Sample,
    Server,
    Workload,
    create_job,
    free_port,
    launched,
    load_files,
    print_header,
    run_wrk,
)
from mockserver.testing import redis_server

POLL = Workload("GET status, 16 connections", 16, 0)


def start(stack: ExitStack, name: str, workers: int, *store: str) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port), "--quiet"]
    command += ["--workers", str(workers), "--clock", "virtual", *store]
    server = stack.enter_context(launched(name, command, port, "/__mock/clock", ROOT))
    server.prefix = "/gptge"
    return server


def poll_together(servers: list[Server], seconds: int, script: Path, body_file: Path) -> Sample:
    """The 16 connections split between the servers, all loaded at once."""
    share = replace(POLL, connections=POLL.connections // len(servers))
    with ThreadPoolExecutor(len(servers)) as pool:
        samples = list(pool.map(lambda s: run_wrk(s, share, seconds, script, body_file), servers))
    return Sample(
        rps=sum(s.rps for s in samples),
        p50_ms=max(s.p50_ms for s in samples),
        p99_ms=max(s.p99_ms for s in samples),
        non_2xx=sum(s.non_2xx for s in samples),
        errors=sum(s.errors for s in samples),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks bench_hosts")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 1, 1
    if shutil.which("wrk") is None:
        print("wrk is not installed: `make bench` installs it (apt-get install wrk)")
        return 1

    with tempfile.TemporaryDirectory(prefix="sora-bench-hosts-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        script, body, body_file = load_files(workdir)
        url = stack.enter_context(redis_server())

        sqlite = start(stack, "sqlite, 1 server", args.workers)
        alone = start(stack, "redis, 1 server", args.workers, "--store", url)
        first = start(stack, "redis, 2 servers", args.workers, "--store", url)
        second = start(stack, "redis, 2 servers (b)", args.workers, "--store", url)
        for server in (sqlite, alone, first):
            server.job_path = f"{server.prefix}/v1/videos/{create_job(server, body)}"
        second.job_path = first.job_path  # the job the first server accepted

        setups: list[tuple[str, list[Server]]] = [
            (sqlite.name, [sqlite]),
            (alone.name, [alone]),
            (first.name, [first, second]),
        ]
        results = {name: Result(name, POLL.name) for name, _ in setups}
        for round_no in range(args.rounds):
            shift = round_no % len(setups)
            for name, servers in setups[shift:] + setups[:shift]:
                results[name].samples.append(
                    poll_together(servers, args.seconds, script, body_file)
                )

    print_header(args, f"{POLL.name}; {args.workers} workers per server")
    print("| set-up | requests/s | p50 ms | p99 ms | non-2xx or errors |")
    print("|---|---:|---:|---:|---:|")
    for name, _ in setups:
        res = results[name]
        bad = sum(s.non_2xx + s.errors for s in res.samples)
        print(
            f"| {name} | {res.median('rps'):,.0f} | {res.median('p50_ms'):.2f} | "
            f"{res.median('p99_ms'):.2f} | {bad} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
