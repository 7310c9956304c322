"""CPU per request in-process, and where it goes (issue 25): what benchmarks/README.md quotes.

    python -m benchmarks.profile_requests create [--store sqlite] [--profile]
    python -m benchmarks.profile_requests poll [--store sqlite|redis] [--profile]
    python -m benchmarks.profile_requests poll-after-write        # SQLite: the memo's cost
    python -m benchmarks.profile_requests floor                   # the floor's multipart create
    python -m benchmarks.profile_requests floor-poll              # the floor's GET
    python -m benchmarks.profile_requests poll --waits [--console] # where a request may wait
    python -m benchmarks.profile_requests poll --api gptge        # the API bench_serving polls
    python -m benchmarks.profile_requests poll --instructions     # callgrind: instructions

Each request goes through the app's WSGI callable with an environ built beforehand (no test
client, no socket); the figure is the thread's CPU time per request (on a shared machine the
wall clock also counts other processes' turns; this does not). ``--profile`` adds cProfile's
top functions (its own overhead inflates Python-heavy code: read shares, not absolutes).
``--waits`` counts, per request, the calls that hand the GIL to another thread while they
run (SQLite statements, system calls, lock waits): under a served load each is a place where a
request thread must take the GIL back from one of its worker's 128 threads, the tail's raw
material, and the count does not depend on how busy the machine is. ``--console`` serves as
``sora-mock serve`` does, a request line per answer (to /dev/null, as ``make bench``).
Not part of ``make bench`` (it prints no table against a peer).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from benchmarks.bench_serving import BOUNDARY, multipart_body, png_720x1280

AUTH = {"Authorization": "Bearer sk-bench"}
TASK = b'{"model":"sora_2_pro_i2v","prompt":"a cat","size":"720x1280","seconds":"4"}'


def _call(app: Any, environ: dict[str, Any]) -> None:
    """One request; a body is read from a fresh stream each time (a stream read once is empty
    the next time: the create figures quoted before 2026-12-07 06:00 were of 400 answers to an
    empty body, not of creates)."""
    environ = dict(environ)
    body = environ.get("wsgi.input")
    if isinstance(body, io.BytesIO):
        environ["wsgi.input"] = io.BytesIO(body.getvalue())
    statuses: list[str] = []
    for _chunk in app(environ, lambda status, headers, exc=None: statuses.append(status)):
        pass
    if not statuses or not statuses[0].startswith("2"):
        raise SystemExit(f"the benchmark's request was answered {statuses}: not what it measures")


#: C calls that release the GIL while they run, as cProfile names them (``with lock`` is not
#: seen unless it waits, and then as ``acquire``)
_WAITS = (
    "posix.write",
    "posix.read",
    "posix.fsync",
    "'poll' of 'select.poll'",
    "'flush' of",
    "fcntl.flock",
    "'acquire' of",
    "time.sleep",
)


def _waits(call: Callable[[], None], n: int) -> str:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        call()
    profile.disable()
    lines = []
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (file, _line, name), (_cc, calls, *_rest) in sorted(stats.items(), key=lambda kv: kv[0]):
        if name == "execute" and "mockserver/state/store" in file:  # (store.py before the split)
            # (the statement itself is a C call cProfile does not see: its Python wrapper)
            lines.append(
                f"  {calls / n:6.2f}  SQLite statements (each steps with the GIL released)"
            )
        elif file == "~" and any(w in name for w in _WAITS):
            lines.append(f"  {calls / n:6.2f}  {name}")
    return "\n".join(lines) or "  none"


@contextmanager
def _app(store: str, console: bool = False) -> Iterator[Any]:
    from mockserver.http.app import create_app
    from mockserver.settings.config import MockConfig
    from mockserver.testing import redis_server

    log = "text" if console else None

    with tempfile.TemporaryDirectory() as tmp:
        if store == "redis":
            with redis_server() as url:
                yield _console(
                    create_app(
                        MockConfig(store=url, clock="virtual", prerender=False, log_format=log)
                    )
                )
            return
        spec = f"sqlite:{tmp}/store.db" if store == "sqlite" else "memory"
        yield _console(
            create_app(
                MockConfig(
                    store=spec,
                    clock="virtual",
                    prerender=False,
                    media_dir=Path(tmp),
                    log_format=log,
                )
            )
        )


def _console(app: Any) -> Any:
    """The console to /dev/null, as ``make bench`` runs the mock (not the terminal)."""
    console = app.extensions.get("sora_mock_console")
    if console is not None:
        console._stream = open(os.devnull, "w")  # noqa: SIM115 - the run's whole life
    return app


def _create_environ(path: str) -> dict[str, Any]:
    return EnvironBuilder(
        path=path,
        method="POST",
        data=multipart_body(png_720x1280()),
        headers=[*AUTH.items(), ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")],
    ).get_environ()


def _created_id(app: Any, environ: dict[str, Any]) -> str:
    """The id of the job a create made (its answer's first ``"id"``)."""
    out = io.BytesIO()
    for chunk in app(dict(environ), lambda status, headers, exc=None: None):
        out.write(chunk)
    return out.getvalue().split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()


def _instructions(argv: list[str], n: int) -> int:
    """This command's requests under ``valgrind --tool=callgrind`` twice, ``n`` and ``n // 10``
    of them (at least 20 apart): the difference per request, so start-up and set-up cancel.
    Instructions do not move with the machine's load, as CPU time does on a shared machine."""
    import re
    import shutil
    import subprocess

    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    rest = [a for a in argv if a != "--instructions"]
    rest = [a for i, a in enumerate(rest) if a != "-n" and (i == 0 or rest[i - 1] != "-n")]
    counts = []
    lengths = (max(1, n // 10), max(n, n // 10 + 20))
    for length in lengths:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={tmp}/out",
                    sys.executable,
                    "-m",
                    "benchmarks.profile_requests",
                    *rest,
                    "-n",
                    str(length),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"callgrind said no count:\n{done.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    per = (counts[1] - counts[0]) / (lengths[1] - lengths[0])
    print(f"{' '.join(rest)}: {per:,.0f} instructions per request (callgrind)")
    return 0


def _floor() -> Any:
    from flask import Flask, jsonify, request

    app = Flask("floor")

    @app.post("/v1/videos")
    def create() -> Any:
        return jsonify({"id": "video_1", "prompt": request.form.get("prompt"), "status": "queued"})

    return app


def _cpu_ms(call: Callable[[], None], n: int) -> float:
    for _ in range(min(20, n)):
        call()
    start = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - start) / n * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_requests")
    parser.add_argument(
        "what", choices=["create", "poll", "poll-after-write", "floor", "floor-poll"]
    )
    parser.add_argument("--store", choices=["memory", "sqlite", "redis"], default="sqlite")
    parser.add_argument("-n", type=int, default=400, help="requests (default 400)")
    parser.add_argument("--profile", action="store_true", help="also cProfile's top 30")
    parser.add_argument(
        "--waits", action="store_true", help="calls per request that give up the GIL"
    )
    parser.add_argument("--console", action="store_true", help="a request line per answer")
    parser.add_argument(
        "--api",
        choices=["vtrix", "gptge"],
        default="vtrix",
        help="whose task a poll reads (bench_serving polls gpt.ge)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instructions per request under callgrind (two run lengths, the difference)",
    )
    args = parser.parse_args(argv)
    if args.instructions:
        return _instructions(argv, args.n)

    with _app(args.store, args.console) as app:
        if args.what == "floor":
            floor, environ = _floor(), _create_environ("/v1/videos")
            call: Callable[[], None] = lambda: _call(floor, environ)  # noqa: E731
        elif args.what == "floor-poll":  # bench_serving's floor app, its GET
            from benchmarks.bench_serving import FLOOR_APP

            served: dict[str, Any] = {}
            exec(FLOOR_APP, served)  # noqa: S102 - the benchmark's own constant
            environ = EnvironBuilder(path="/v1/videos/video_1").get_environ()
            call = lambda: _call(served["app"], environ)  # noqa: E731
        elif args.what == "create":
            environ = _create_environ("/gptge/v1/videos")
            call = lambda: _call(app, environ)  # noqa: E731
        elif args.api == "gptge":
            environ = _create_environ("/gptge/v1/videos")
            job = _created_id(app, environ)
            environ = EnvironBuilder(
                path=f"/gptge/v1/videos/{job}", headers=list(AUTH.items())
            ).get_environ()
            call = lambda: _call(app, environ)  # noqa: E731
        else:
            created = EnvironBuilder(
                path="/vtrix/model/v1/generation",
                method="POST",
                data=TASK,
                headers=[*AUTH.items(), ("Content-Type", "application/json")],
            ).get_environ()
            job = _created_id(app, created)
            environ = EnvironBuilder(
                path=f"/vtrix/model/v1/generation/task/{job}", headers=list(AUTH.items())
            ).get_environ()
            call = lambda: _call(app, environ)  # noqa: E731
        if args.what == "poll-after-write":
            if args.store != "sqlite":
                parser.error("poll-after-write measures the SQLite store's memo: --store sqlite")
            from mockserver.state.stores import open_store

            # another worker's store on the same file (a write made with another tool, the
            # sqlite3 shell, is not one the read memo is told of: the mock's own writes are)
            writer = open_store(f"sqlite:{app.extensions['sora_mock'].store.path}")
            fresh = stale = 0.0
            for k in range(2 * args.n):
                if k % 2:
                    writer.put_blob("bench:write", str(k).encode(), replace=True)
                start = time.thread_time()
                call()
                spent = time.thread_time() - start
                stale, fresh = (stale + spent, fresh) if k % 2 else (stale, fresh + spent)
            print(
                f"poll, CPU ms: nothing written since the thread's last read "
                f"{fresh / args.n * 1000:.3f}; after another worker's write "
                f"{stale / args.n * 1000:.3f}"
            )
            return 0
        print(f"{args.what} ({args.store}): {_cpu_ms(call, args.n):.3f} ms of CPU per request")
        if args.waits:
            print("calls per request that give up the GIL while they run:")
            print(_waits(call, args.n))
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.n):
                call()
            profile.disable()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(30)
            print(text.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
