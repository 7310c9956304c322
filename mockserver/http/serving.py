"""``sora-mock serve``: the mock on granian, N long-lived worker processes, one server.

Everything a client can observe (jobs, images, rules, clock, rate limit, fault stream, journal)
lives in the store, so the workers behave as one server: with more than one worker and no
``--store``, the server keeps its state in a SQLite file of its own in a temporary directory.
The app is built once, in this process, before the workers are forked: a worker starts with
every module imported and every contract loaded, and serves at once.

granian was chosen by measurement over gunicorn (``benchmarks/README.md``): its HTTP layer is
Rust, so idle and trickling connections cost no Python thread, and a slow request holds only
its own blocking thread.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.settings.config import MockConfig, Timings

#: the environment variable a spawned (not forked) worker reads its configuration from
CONFIG_ENV = "SORA_MOCK_CONFIG"

log = logging.getLogger("mockserver")

#: a worker that dies this many times within this many seconds cannot run: the server stops
#: (at its next death within 5.5 s of being replaced: granian's own test)
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_SECONDS = 60.0


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: requests one worker serves at once (each on its own thread); more wait in line
    concurrency: int = 128
    #: connections one worker keeps open at once (idle ones cost no thread)
    connections: int = 4096


class ServeError(Exception):
    """The server cannot start; the message is one line for the console."""


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shared_config(
    config: MockConfig, workers: int, state_dir: Path, media_dir: Path | None = None
) -> MockConfig:
    """The configuration every worker gets: one store and one clock origin for all of them."""
    changes: dict[str, Any] = {}
    if workers > 1 and config.store == "memory":
        changes["store"] = f"sqlite:{state_dir / 'state.sqlite'}"
        if config.media_dir is None:
            changes["media_dir"] = media_dir or state_dir / "media"
    if config.clock_start is None:
        # workers started a moment apart must agree on where a virtual clock starts
        changes["clock_start"] = float(int(time.time()))
    return dataclasses.replace(config, **changes)


def config_to_env(config: MockConfig) -> str:
    return json.dumps(dataclasses.asdict(config), default=str)


def config_from_env(value: str | None = None) -> MockConfig:
    data = json.loads(value if value is not None else os.environ[CONFIG_ENV])
    data["timings"] = Timings(**data["timings"])
    for field in dataclasses.fields(MockConfig):  # JSON has lists where the config has tuples
        if isinstance(data.get(field.name), list):
            data[field.name] = tuple(data[field.name])
    for name in ("media_dir", "replay_dir"):
        if data.get(name) is not None:
            data[name] = Path(data[name])
    return MockConfig(**data)


def worker_app() -> Any:
    """granian's factory target in a spawned worker: the app from ``$SORA_MOCK_CONFIG``."""
    from mockserver.http.app import create_app

    die_with_parent()
    _render_apart()
    return _PrewarmOnFirstRequest(create_app(config_from_env()))


def die_with_parent() -> None:
    """A worker ends when the server's main process does, even when that one is killed with
    SIGKILL (which it cannot pass on): no orphan keeps serving on the port (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    # and a watchdog, for when that signal is lost (seen: a worker busy at the moment its
    # server was killed kept serving): an orphan stops itself, gracefully, then for good
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()


def _orphan_watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(3)
    os._exit(1)


def check_port(host: str, port: int) -> int:
    """Fail early, in one line, when the address is taken; ``0`` picks a free port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host!r}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(
                    f"port {port} on {host} is already in use: stop what holds it, or choose "
                    "another with --port (make serve PORT=...)"
                ) from None
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        return int(probe.getsockname()[1])


def serve(
    config: MockConfig, options: ServeOptions, announce: Callable[[str], None] = print
) -> int:
    """Run the server until SIGINT or SIGTERM; every worker stops with it."""
    from granian.constants import Interfaces
    from granian.log import LogLevels

    from mockserver.http.app import create_app

    port = check_port(options.host, options.port)
    # a server's own state file lives in memory (tmpfs) where there is one: no disk write per
    # request; rendered media go to a temporary directory on disk
    shm = Path("/dev/shm")
    state_dir = Path(tempfile.mkdtemp(prefix="sora-mock-", dir=shm if shm.is_dir() else None))
    media_dir = Path(tempfile.mkdtemp(prefix="sora-mock-media-"))
    metrics_env = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        config = shared_config(config, options.workers, state_dir, media_dir)
        if config.metrics:  # every worker's metrics in files of this run (mockserver.state.metrics)
            from mockserver.state.metrics import prepare_multiprocess

            prepare_multiprocess(state_dir / "metrics")
        # built here, once: start-up rules go into the store once, and forked workers inherit
        # the loaded modules and contracts
        app = create_app(config)
        os.environ[CONFIG_ENV] = config_to_env(dataclasses.replace(config, scenarios=()))
        server = _supervised_server()(
            "mockserver.http.serving:worker_app",
            address=options.host,
            port=port,
            interface=Interfaces.WSGI,
            workers=options.workers,
            blocking_threads=options.concurrency,
            # granian counts open connections here: idle ones must not lock others out
            backpressure=options.connections,
            factory=True,
            log_level=LogLevels.error,
            workers_kill_timeout=3,
            # a worker that dies (the OOM killer, a crash in native code) is replaced; the
            # others serve meanwhile, and every accepted job is in the shared store
            respawn_failed_workers=True,
        )
        announce(_banner(config, options, port, app.extensions.get("sora_mock_replay")))
        # what start-up built lives as long as the server: out of the collector's sight, and
        # not copied into each worker by a collection touching it (the gc module's advice)
        gc.freeze()
        gc.enable()
        if multiprocessing.get_start_method() == "fork":
            server.serve(target_loader=lambda *_: _in_worker(app), wrap_loader=False)
        else:  # spawned workers build their own app from the environment
            server.serve()
    finally:
        if config.metrics:
            from mockserver.state.metrics import end_multiprocess

            end_multiprocess(metrics_env)
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(media_dir, ignore_errors=True)
    return 0


def _supervised_server() -> Any:
    """granian's server, saying on the console which worker died and what replaced it, and
    stopping only for a real crash loop.

    granian replaces a worker that exits unasked (``respawn_failed_workers``) and logs only
    "Unexpected exit"; the replacement is an info line, below the server's log level. granian
    calls a worker that dies again within 5.5 s of its replacement a crash loop and stops the
    whole server (its temporary store with it): one OOM kill soon after another would do. Here
    a crash loop is a worker that died ``CRASH_LOOP_DEATHS`` times within
    ``CRASH_LOOP_SECONDS`` (a worker that cannot start); the server then stops, exit code 1."""
    from collections import deque

    from granian.server import Server

    class Supervised(Server):  # type: ignore[misc,valid-type]
        deaths: dict[int, deque[float]]

        def _respawn_workers(
            self, workers: Any, spawn_target: Any, target_loader: Any, delay: float = 0
        ) -> Any:
            gone = {}
            for idx in workers:
                old = self.wrks[idx].inner
                if old.exitcode is not None:  # died; not a reload of a live worker
                    gone[idx] = (old.pid, _exit_reason(old.exitcode))
            result = super()._respawn_workers(workers, spawn_target, target_loader, delay)
            now = time.monotonic()
            if not hasattr(self, "deaths"):
                self.deaths = {}
            for idx, (pid, reason) in gone.items():
                log.error(
                    "worker-%d (pid %s) died (%s) and was replaced (new pid %s); the other "
                    "workers served meanwhile, and every accepted job is kept in the store",
                    idx + 1,
                    pid,
                    reason,
                    self.wrks[idx].inner.pid,
                )
                recent = self.deaths.setdefault(idx, deque())
                recent.append(now)
                while recent and now - recent[0] > CRASH_LOOP_SECONDS:
                    recent.popleft()
                if len(recent) < CRASH_LOOP_DEATHS:
                    # not a loop yet: granian must not take a quick second death for one
                    self.respawned_wrks.pop(idx, None)
            return result

    return Supervised


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _in_worker(app: Any) -> Any:
    die_with_parent()
    _render_apart()
    return _PrewarmOnFirstRequest(app)


class _PrewarmOnFirstRequest:
    """A worker's WSGI app that starts its render process when the worker answers its first
    request (the imports run beside that answer, not in it): a server's first job then
    renders at once, instead of after ~0.5 s of imports. Not at start-up: the imports would
    compete with it, and a server that is never asked anything spends nothing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.started = False

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if not self.started:
            self.started = True
            from mockserver import media

            threading.Thread(
                target=media.prewarm_renders, name="render-prewarm", daemon=True
            ).start()
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:  # the app's own attributes, as before
        return getattr(self.app, name)


def _render_apart() -> None:
    """A worker renders videos in a child process: its request threads would otherwise share
    the GIL with the renders and slow them several times over; the workers share their
    encoded loops beside the media, so each is encoded once (mockserver/media/render_process.py)."""
    from mockserver import media

    media_dir = config_from_env().media_dir if CONFIG_ENV in os.environ else None
    media.isolate_renders(loops_dir=media_dir / "loops" if media_dir else None, favour=True)


def _banner(config: MockConfig, options: ServeOptions, port: int, replay: Any = None) -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    base = f"http://{host}:{port}"
    store = "memory" if config.store == "memory" else config.store
    lines = [
        f"sora-mock serving on {base} (workers: {options.workers}, clock: {config.clock}, "
        f"store: {store})"
    ]
    from contracts._declaration import declarations

    served = {"gptproto": "gptproto.com"}
    for declared in declarations():  # a prefix once (gptproto-v3 is declared, its siblings not)
        if declared.hosts:
            served.setdefault(declared.prefix, declared.hosts[0])
    # one column for the names, as wide as the widest (a declared prefix may be long)
    width = max(len(name) for name in ("__mock/", *served))
    for prefix, live in served.items():
        lines.append(f"  {base}/{prefix:<{width}} stands in for https://{live}")
    lines.append(f"  {base}/{'__mock/':<{width}} dashboard (in a browser) and admin API")
    if replay is not None:  # serve --replay: what was loaded (mockserver.conformance.replay)
        lines.append(f"  {replay.summary()}")
    return "\n".join(lines)
