"""How ``sora-mock serve`` sets its workers up, part by part and in-process (no worker is
started: granian's server, the app and the render process are stand-ins): the configuration
every worker shares and how it travels to a spawned one, the port checked before anything
starts, the banner, a worker's first request, and a dead worker reported and replaced until
it dies too often."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mockserver.http import serving
from mockserver.http.serving import ServeError, ServeOptions
from mockserver.settings.config import MockConfig, Timings

# ------------------------------------------------------------------ the shared configuration


def test_several_workers_without_a_store_share_a_sqlite_file_and_media(
    tmp_path: Path,
) -> None:
    config = MockConfig(clock_start=5.0)
    shared = serving.shared_config(config, 2, tmp_path, tmp_path / "renders")
    assert shared.store == f"sqlite:{tmp_path / 'state.sqlite'}"
    assert shared.media_dir == tmp_path / "renders"
    assert config.store == "memory" and config.media_dir is None, "the original is left alone"
    # no media directory given: one beside the state
    assert serving.shared_config(config, 3, tmp_path).media_dir == tmp_path / "media"


def test_a_media_dir_of_the_users_is_kept(tmp_path: Path) -> None:
    config = MockConfig(clock_start=5.0, media_dir=tmp_path / "mine")
    shared = serving.shared_config(config, 2, tmp_path, tmp_path / "renders")
    assert shared.store.startswith("sqlite:") and shared.media_dir == tmp_path / "mine"


def test_one_worker_or_a_store_of_the_users_is_left_as_it_is(tmp_path: Path) -> None:
    config = MockConfig(clock_start=5.0)
    assert serving.shared_config(config, 1, tmp_path) == config
    redis = MockConfig(clock_start=5.0, store="redis://127.0.0.1:6379/0")
    assert serving.shared_config(redis, 4, tmp_path) == redis


def test_every_worker_starts_the_virtual_clock_at_the_same_whole_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving.time, "time", lambda: 1_796_638_931.75)
    shared = serving.shared_config(MockConfig(), 1, tmp_path)
    assert shared.clock_start == 1_796_638_931.0 and isinstance(shared.clock_start, float)
    assert serving.shared_config(MockConfig(clock_start=7.5), 2, tmp_path).clock_start == 7.5


def test_a_spawned_worker_reads_back_the_same_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = MockConfig(
        clock="virtual",
        clock_start=12.0,
        timings=Timings(queue_seconds=1.5, jitter=0.0),
        api_keys=("k1", "k2"),
        allowed_hosts=(".test",),
        retired_models=("sora-1",),
        media_dir=tmp_path / "media",
        replay_dir=tmp_path / "cassettes",
        rate_limit_rpm=60,
        log_format="json",
    )
    text = serving.config_to_env(config)
    assert serving.config_from_env(text) == config
    monkeypatch.setenv(serving.CONFIG_ENV, text)
    back = serving.config_from_env()
    assert back == config
    assert isinstance(back.timings, Timings) and isinstance(back.media_dir, Path)
    assert isinstance(back.api_keys, tuple) and isinstance(back.replay_dir, Path)
    plain = serving.config_from_env(serving.config_to_env(MockConfig()))
    assert plain == MockConfig() and plain.media_dir is None and plain.replay_dir is None


def test_the_default_worker_count_is_the_cores_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert serving.default_workers() == 3
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert serving.default_workers() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert serving.default_workers() == 1


# ------------------------------------------------------------------ the port


def test_port_zero_picks_a_free_port() -> None:
    port = serving.check_port("127.0.0.1", 0)
    assert 0 < port < 65536
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # it was free


def test_a_free_port_is_given_back_as_asked() -> None:
    port = serving.check_port("127.0.0.1", 0)
    assert serving.check_port("127.0.0.1", port) == port


def test_a_port_in_use_is_one_line_that_says_what_to_do() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServeError) as caught:
            serving.check_port("127.0.0.1", port)
    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is already in use: stop what holds it, or choose another "
        "with --port (make serve PORT=...)"
    )
    assert caught.value.__suppress_context__


def test_an_address_not_on_this_machine_says_why() -> None:
    with pytest.raises(ServeError) as caught:
        serving.check_port("192.0.2.1", 8000)  # TEST-NET-1: never a local address
    assert str(caught.value) == (
        f"cannot listen on 192.0.2.1:8000: {os.strerror(errno.EADDRNOTAVAIL)}"
    )


def test_a_name_that_does_not_resolve_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(ServeError, match=r"^cannot listen on 'nowhere': Name or service not "):
        serving.check_port("nowhere", 8000)


def test_the_port_check_asks_for_a_passive_tcp_address(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    real = socket.getaddrinfo

    def recording(*args: Any, **kwargs: Any) -> Any:
        asked.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    assert serving.check_port("::1", 0) > 0
    assert asked == [
        (("::1", 0), {"type": socket.SOCK_STREAM, "flags": socket.AI_PASSIVE}),
    ]


# ------------------------------------------------------------------ the banner


def _replay() -> Any:
    return SimpleNamespace(summary=lambda: "replaying 3 recorded jobs from /tmp/c")


def test_the_banner_names_the_address_and_what_each_prefix_stands_in_for() -> None:
    config = MockConfig(clock="virtual")
    banner = serving._banner(config, ServeOptions(workers=2), 8123)
    assert banner.splitlines() == [
        "sora-mock serving on http://127.0.0.1:8123 (workers: 2, clock: virtual, store: memory)",
        "  http://127.0.0.1:8123/gptproto   stands in for https://gptproto.com",
        "  http://127.0.0.1:8123/gptge      stands in for https://api.gpt.ge",
        "  http://127.0.0.1:8123/vtrix      stands in for https://cloud.vtrix.ai",
        "  http://127.0.0.1:8123/openrouter stands in for https://openrouter.ai",
        "  http://127.0.0.1:8123/__mock/    dashboard (in a browser) and admin API",
    ]


def test_the_banner_brackets_an_ipv6_host_and_says_the_store_and_the_replay() -> None:
    config = MockConfig(store="sqlite:/tmp/s.sqlite")
    banner = serving._banner(config, ServeOptions(host="::1"), 9000, _replay())
    lines = banner.splitlines()
    assert lines[0] == (
        "sora-mock serving on http://[::1]:9000 (workers: 1, clock: real, "
        "store: sqlite:/tmp/s.sqlite)"
    )
    assert lines[-1] == "  replaying 3 recorded jobs from /tmp/c"
    assert len(lines) == 7


# ------------------------------------------------------------------ a worker's start


class _App:
    def __init__(self) -> None:
        self.extensions: dict[str, Any] = {}
        self.calls: list[Any] = []
        self.name = "the app"

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.calls.append((environ, start_response))
        return [b"answer"]


def test_a_worker_starts_its_render_process_at_its_first_request_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockserver import media

    started = threading.Semaphore(0)
    threads: list[str] = []

    def prewarm() -> None:
        me = threading.current_thread()
        threads.append(f"{me.name}, daemon: {me.daemon}")  # it never holds the worker up
        started.release()

    monkeypatch.setattr(media, "prewarm_renders", prewarm)
    app = _App()
    wrapped = serving._PrewarmOnFirstRequest(app)
    assert wrapped.started is False and not threads
    assert wrapped({"n": 1}, print) == [b"answer"]
    assert started.acquire(timeout=10), "the render process was not started"
    assert wrapped({"n": 2}, repr) == [b"answer"]
    assert wrapped.started is True
    assert app.calls == [({"n": 1}, print), ({"n": 2}, repr)]
    assert not started.acquire(timeout=0.05)
    assert threads == ["render-prewarm, daemon: True"]
    assert wrapped.name == "the app" and wrapped.extensions is app.extensions


def test_a_forked_or_spawned_worker_dies_with_its_server_and_renders_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockserver.http import app as app_module

    steps: list[str] = []
    monkeypatch.setattr(serving, "die_with_parent", lambda: steps.append("die_with_parent"))
    monkeypatch.setattr(serving, "_render_apart", lambda: steps.append("render_apart"))
    app = _App()
    forked = serving._in_worker(app)
    assert isinstance(forked, serving._PrewarmOnFirstRequest) and forked.app is app
    assert steps == ["die_with_parent", "render_apart"]
    steps.clear()
    built: list[MockConfig] = []

    def create_app(config: MockConfig) -> _App:
        built.append(config)
        return app

    monkeypatch.setattr(app_module, "create_app", create_app)
    monkeypatch.setenv(serving.CONFIG_ENV, serving.config_to_env(MockConfig(fps=7)))
    spawned = serving.worker_app()
    assert isinstance(spawned, serving._PrewarmOnFirstRequest) and spawned.app is app
    assert built == [MockConfig(fps=7)]
    assert steps == ["die_with_parent", "render_apart"]


def test_a_worker_keeps_its_encoded_loops_beside_the_shared_media(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver import media

    asked: list[Any] = []
    monkeypatch.setattr(media, "isolate_renders", lambda **kw: asked.append(kw))
    monkeypatch.setenv(serving.CONFIG_ENV, serving.config_to_env(MockConfig(media_dir=tmp_path)))
    serving._render_apart()
    monkeypatch.setenv(serving.CONFIG_ENV, serving.config_to_env(MockConfig()))
    serving._render_apart()
    monkeypatch.delenv(serving.CONFIG_ENV)
    serving._render_apart()
    assert asked == [
        {"loops_dir": tmp_path / "loops", "favour": True},
        {"loops_dir": None, "favour": True},
        {"loops_dir": None, "favour": True},
    ]


def test_a_worker_asks_the_kernel_for_a_signal_when_its_server_dies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctypes

    calls: list[Any] = []

    class Libc:
        def prctl(self, *args: Any) -> int:
            calls.append(("prctl", args))
            return 0

    def cdll(name: Any, use_errno: bool = False) -> Libc:
        calls.append(("CDLL", name, use_errno))
        return Libc()

    watched = threading.Semaphore(0)
    parents: list[int] = []
    daemon: list[bool] = []

    def watch(parent: int) -> None:
        parents.append(parent)
        daemon.append(threading.current_thread().daemon)  # it never keeps a worker alive
        watched.release()

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    monkeypatch.setattr(serving, "_orphan_watch", watch)
    serving.die_with_parent()
    assert watched.acquire(timeout=10)
    assert calls == [("CDLL", None, True), ("prctl", (1, signal.SIGTERM, 0, 0, 0))]
    assert parents == [os.getppid()] and daemon == [True]
    calls.clear()
    monkeypatch.setattr(sys, "platform", "darwin")  # no prctl there: nothing to do
    serving.die_with_parent()
    assert calls == [] and parents == [os.getppid()]


def test_an_orphaned_worker_stops_gracefully_then_for_good(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parents = iter([40, 40, 40, 1])
    events: list[Any] = []

    class Exited(Exception):
        pass

    def exit_now(code: int) -> None:
        events.append(("_exit", code))
        raise Exited

    monkeypatch.setattr(os, "getppid", lambda: next(parents))
    monkeypatch.setattr(serving.time, "sleep", lambda s: events.append(("sleep", s)))
    monkeypatch.setattr(os, "kill", lambda pid, sig: events.append(("kill", pid, sig)))
    monkeypatch.setattr(os, "_exit", exit_now)
    with pytest.raises(Exited):
        serving._orphan_watch(40)
    assert events == [
        ("sleep", 0.5),
        ("sleep", 0.5),
        ("sleep", 0.5),
        ("kill", os.getpid(), signal.SIGTERM),
        ("sleep", 3),
        ("_exit", 1),
    ]


# ------------------------------------------------------------------ a worker that dies


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (-9, "killed by SIGKILL"),
        (-15, "killed by SIGTERM"),
        (-200, "killed by signal 200"),
        (0, "exit code 0"),
        (3, "exit code 3"),
    ],
)
def test_a_dead_workers_reason(code: int, reason: str) -> None:
    assert serving._exit_reason(code) == reason


class _Proc:
    def __init__(self, pid: int, exitcode: int | None = None) -> None:
        self.pid = pid
        self.exitcode = exitcode


def _supervised(monkeypatch: pytest.MonkeyPatch, clock: list[float]) -> Any:
    """A supervised server of two workers, granian's respawn replaced by what it does to the
    server's records: a new process, and the time of the respawn (its crash-loop test)."""
    from granian.server import Server

    pids = iter(range(500, 600))

    def respawn(self: Any, workers: Any, spawn_target: Any, target_loader: Any, delay=0) -> str:
        self.respawn_calls = [
            *getattr(self, "respawn_calls", []),
            (workers, spawn_target, target_loader, delay),
        ]
        for idx in workers:
            self.respawned_wrks[idx] = clock[0]
            self.wrks[idx] = SimpleNamespace(inner=_Proc(next(pids)))
        return "respawned"

    monkeypatch.setattr(Server, "_respawn_workers", respawn)
    monkeypatch.setattr(serving.time, "monotonic", lambda: clock[0])
    cls = serving._supervised_server()
    server = cls.__new__(cls)
    server.wrks = [SimpleNamespace(inner=_Proc(100)), SimpleNamespace(inner=_Proc(101))]
    server.respawned_wrks = {}
    return server


def test_a_dead_worker_is_reported_with_its_pid_its_reason_and_its_replacement(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = _supervised(monkeypatch, [1000.0])
    server.wrks[1].inner.exitcode = -9
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        assert server._respawn_workers([1], "target", "loader") == "respawned"
    assert server.respawn_calls == [([1], "target", "loader", 0)], "granian's own respawn"
    assert [r.getMessage() for r in caplog.records] == [
        "worker-2 (pid 101) died (killed by SIGKILL) and was replaced (new pid 500); the other "
        "workers served meanwhile, and every accepted job is kept in the store"
    ]
    assert caplog.records[0].name == "mockserver"
    # one death is no crash loop: granian must not stop the server at the next one
    assert server.respawned_wrks == {}
    assert server.deaths[1] and 0 not in server.deaths


def test_a_live_worker_reloaded_is_no_death(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = _supervised(monkeypatch, [1000.0])
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        server._respawn_workers([0], "target", "loader", 2.5)
    assert caplog.records == []
    assert server.respawn_calls == [([0], "target", "loader", 2.5)]
    assert server.respawned_wrks == {0: 1000.0}, "granian's own record of it is kept"


def test_a_worker_that_keeps_dying_within_a_minute_stops_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    server = _supervised(monkeypatch, clock)
    for death in range(1, serving.CRASH_LOOP_DEATHS + 1):
        server.wrks[0].inner.exitcode = 1
        server._respawn_workers([0], "target", "loader")
        clock[0] += 10.0
        if death < serving.CRASH_LOOP_DEATHS:
            assert server.respawned_wrks == {}, f"death {death} is not a loop yet"
    # the fifth death within 60 s: granian's record stays, and its next check stops the server
    assert server.respawned_wrks == {0: 1040.0}
    assert len(server.deaths[0]) == 5


def test_deaths_older_than_a_minute_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    server = _supervised(monkeypatch, clock)
    for _ in range(12):  # a death every 15.5 s: never five within 60 s
        server.wrks[1].inner.exitcode = -11
        server._respawn_workers([1], "target", "loader")
        assert server.respawned_wrks == {}
        clock[0] += 15.5
    assert len(server.deaths[1]) == 4
    # exactly 60 s apart still counts as within the minute
    clock[0] = 5000.0
    server = _supervised(monkeypatch, clock)
    for _ in range(5):
        server.wrks[0].inner.exitcode = 1
        server._respawn_workers([0], "target", "loader")
        clock[0] += 15.0
    assert server.respawned_wrks == {0: 5060.0}


# ------------------------------------------------------------------ serve itself


class _FakeServer:
    made: list[_FakeServer] = []

    def __init__(self, target: str, **options: Any) -> None:
        self.target = target
        self.options = options
        self.served: list[Any] = []
        _FakeServer.made.append(self)

    def serve(self, **kwargs: Any) -> None:
        self.served.append(kwargs)
        self.env = os.environ.get(serving.CONFIG_ENV)


@pytest.fixture
def fake_granian(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from mockserver.http import app as app_module

    _FakeServer.made = []
    seen: dict[str, Any] = {"configs": [], "dirs": []}

    def create_app(config: MockConfig) -> _App:
        seen["configs"].append(config)
        app = _App()
        if config.replay_dir is not None:
            app.extensions["sora_mock_replay"] = _replay()
        seen.setdefault("apps", []).append(app)
        return app

    real_mkdtemp = serving.tempfile.mkdtemp

    def mkdtemp(**kwargs: Any) -> str:
        made = real_mkdtemp(**kwargs)
        seen["dirs"].append((kwargs, made))
        return made

    monkeypatch.setattr(app_module, "create_app", create_app)
    monkeypatch.setattr(serving, "_supervised_server", lambda: _FakeServer)
    monkeypatch.setattr(serving.gc, "freeze", lambda: None)
    monkeypatch.setattr(serving.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setenv(serving.CONFIG_ENV, "")  # restored after the test
    return seen


def test_serve_builds_the_app_once_and_hands_granian_the_options(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from granian.constants import Interfaces
    from granian.log import LogLevels

    steps: list[str] = []
    monkeypatch.setattr(serving, "die_with_parent", lambda: steps.append("die"))
    monkeypatch.setattr(serving, "_render_apart", lambda: steps.append("apart"))
    said: list[str] = []
    config = MockConfig(metrics=False, scenarios=("slow",), clock_start=3.0)
    options = ServeOptions(workers=2, concurrency=7, connections=99, port=0)
    assert serving.serve(config, options, said.append) == 0
    (server,) = _FakeServer.made
    assert server.target == "mockserver.http.serving:worker_app"
    port = server.options.pop("port")
    assert port > 0
    assert server.options == {
        "address": "127.0.0.1",
        "interface": Interfaces.WSGI,
        "workers": 2,
        "blocking_threads": 7,
        "backpressure": 99,
        "factory": True,
        "log_level": LogLevels.error,
        "workers_kill_timeout": 3,
        "respawn_failed_workers": True,
    }
    (built,) = fake_granian["configs"]
    assert built.store.startswith("sqlite:") and built.store.endswith("/state.sqlite")
    assert built.scenarios == ("slow",), "start-up rules go into the store once, here"
    # a spawned worker's configuration: the same, without the start-up rules
    assert serving.config_from_env(server.env) == dataclasses.replace(built, scenarios=())
    assert said == [serving._banner(built, options, port)]
    # forked workers get the app built here
    (call,) = server.served
    assert call["wrap_loader"] is False
    worker = call["target_loader"]("anything")
    assert isinstance(worker, serving._PrewarmOnFirstRequest)
    assert worker.app is fake_granian["apps"][0]
    assert steps == ["die", "apart"]


def test_serve_keeps_its_state_in_memory_and_removes_it_after(
    fake_granian: dict[str, Any],
) -> None:
    serving.serve(MockConfig(metrics=False, clock_start=3.0), ServeOptions(workers=2, port=0))
    (state, state_dir), (media, media_dir) = fake_granian["dirs"]
    assert state["prefix"] == "sora-mock-"
    shm = Path("/dev/shm")
    assert state["dir"] == (shm if shm.is_dir() else None)
    assert media == {"prefix": "sora-mock-media-"}
    (built,) = fake_granian["configs"]
    assert built.store == f"sqlite:{Path(state_dir) / 'state.sqlite'}"
    assert built.media_dir == Path(media_dir)
    assert not Path(state_dir).exists() and not Path(media_dir).exists()


def test_serve_cleans_up_when_the_server_fails(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: Any, **kwargs: Any) -> None:
        raise RuntimeError("granian failed")

    monkeypatch.setattr(_FakeServer, "serve", boom)
    with pytest.raises(RuntimeError):
        serving.serve(MockConfig(metrics=False), ServeOptions(port=0), lambda _: None)
    for _, made in fake_granian["dirs"]:
        assert not Path(made).exists()


def test_spawned_workers_build_their_own_app(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving.multiprocessing, "get_start_method", lambda: "spawn")
    serving.serve(MockConfig(metrics=False), ServeOptions(port=0), lambda _: None)
    (server,) = _FakeServer.made
    assert server.served == [{}]


def test_serve_with_metrics_gathers_every_workers_counts_for_the_run(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.state import metrics

    calls: list[Any] = []
    monkeypatch.setattr(metrics, "prepare_multiprocess", lambda d: calls.append(("prep", d)))
    monkeypatch.setattr(metrics, "end_multiprocess", lambda p: calls.append(("end", p)))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/before")
    serving.serve(MockConfig(metrics=True), ServeOptions(port=0), lambda _: None)
    (_, state_dir), _ = fake_granian["dirs"]
    assert calls == [("prep", Path(state_dir) / "metrics"), ("end", "/before")]
    calls.clear()
    serving.serve(MockConfig(metrics=False), ServeOptions(port=0), lambda _: None)
    assert calls == []


def test_serve_refuses_a_busy_port_before_building_anything(
    fake_granian: dict[str, Any],
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServeError, match="already in use"):
            serving.serve(MockConfig(), ServeOptions(port=port), lambda _: None)
    assert fake_granian["configs"] == [] and fake_granian["dirs"] == []


def test_serve_checks_the_port_on_the_host_asked(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    real = serving.check_port
    monkeypatch.setattr(serving, "check_port", lambda h, p: asked.append((h, p)) or real(h, p))
    serving.serve(MockConfig(metrics=False), ServeOptions(host="::1", port=0), lambda _: None)
    assert asked == [("::1", 0)]
    assert _FakeServer.made[0].options["address"] == "::1"


def test_serve_says_what_it_replays(fake_granian: dict[str, Any], tmp_path: Path) -> None:
    said: list[str] = []
    config = MockConfig(metrics=False, replay_dir=tmp_path)
    serving.serve(config, ServeOptions(port=0), said.append)
    assert said[0].splitlines()[-1] == "  replaying 3 recorded jobs from /tmp/c"


def test_serve_ends_cleanly_when_its_temporary_directories_went_first(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary-files cleaner (systemd-tmpfiles, tmpreaper) may remove them meanwhile."""
    import shutil

    def serve(self: Any, **kwargs: Any) -> None:
        for _, made in fake_granian["dirs"]:
            shutil.rmtree(made)

    monkeypatch.setattr(_FakeServer, "serve", serve)
    assert serving.serve(MockConfig(metrics=False), ServeOptions(port=0), lambda _: None) == 0


def test_without_dev_shm_the_state_goes_to_the_usual_temporary_directory(
    fake_granian: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoShm(type(Path())):  # type: ignore[misc]
        def is_dir(self) -> bool:
            return False if str(self) == "/dev/shm" else super().is_dir()

    monkeypatch.setattr(serving, "Path", NoShm)
    serving.serve(MockConfig(metrics=False), ServeOptions(port=0), lambda _: None)
    (state, _), _ = fake_granian["dirs"]
    assert state == {"prefix": "sora-mock-", "dir": None}
