"""A store that fails says so: 503 with ``Retry-After`` in the provider's own error shape (the
admin API in its own), one console line when the outage begins and one when it ends, never a
500 or a traceback; a store path that cannot be written is refused at start in one line.

SQLite's full disk and read-only file are injected at the store's boundary (the connection's
``execute``: what SQLite itself raises there); Redis is a real ``redis-server``, stopped and
frozen (SIGSTOP).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from providers import APIS, png

from mockserver.http.app import create_app
from mockserver.state import store_writers as store_module
from mockserver.state.store_guard import StoreUnavailable
from mockserver.state.stores import open_store

AUTH = {"Authorization": "Bearer sk-test"}
#: the provider APIs and the mock prefix each lives under
CREATES = ["gptproto-v3", "gptproto-videos", "gptge-videos", "vtrix-generation"]


def client(app: Any, prefix: str = "") -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url=f"http://127.0.0.1/{prefix}".rstrip("/"),
        headers=AUTH,
    )


def shape(value: Any) -> Any:
    """A JSON body's structure: its keys, all the way down (not its values)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__ if value is not None else None


@contextmanager
def failing_writes(message: str) -> Iterator[list[str]]:
    """Every write statement of every SQLite store connection fails as SQLite fails it on a
    full disk ("database or disk is full") or a read-only file; reads go on working."""
    real = store_module._QueuedWriters.execute
    failed: list[str] = []

    def execute(self: sqlite3.Connection, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            failed.append(sql)
            raise sqlite3.OperationalError(message)
        return real(self, sql, *args)  # type: ignore[arg-type]

    store_module._QueuedWriters.execute = execute  # type: ignore[method-assign]
    try:
        yield failed
    finally:
        store_module._QueuedWriters.execute = real  # type: ignore[method-assign]


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    messages = [r.getMessage() for r in caplog.records if r.name == "mockserver"]
    down = [m for m in messages if "store is unavailable" in m]
    up = [m for m in messages if "store answers again" in m]
    return down, up


@pytest.mark.parametrize(
    "message", ["database or disk is full", "attempt to write a readonly database"]
)
def test_a_sqlite_store_that_refuses_writes_is_a_503_in_each_providers_shape(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, message: str
) -> None:
    app = create_app(store=f"sqlite:{tmp_path / 'state.sqlite'}", clock="virtual")
    accepted = {}
    images = {name: png(*APIS[name].size) for name in CREATES}  # drawn once
    for name in CREATES:
        api = APIS[name]
        with client(app, api.provider) as c:
            created = api.create(c, AUTH, images[name])
            assert created.status_code == 200, created.text
            accepted[name] = api.job_id(created.json())
            unknown = c.get("/no/such/path")  # the provider's shape outside any operation
            assert unknown.status_code == 404
            body = unknown.json()
            if "error_message" in body["error"]:
                del body["error"]["message"]  # Vtrix's route hints carry `message` too
            accepted[name + ":404"] = body

    caplog.set_level(logging.INFO, logger="mockserver")
    with failing_writes(message) as failed:
        for name in CREATES:
            api = APIS[name]
            with client(app, api.provider) as c:
                for _ in range(2):
                    answer = api.create(c, AUTH, images[name])
                    assert answer.status_code == 503, answer.text
                    assert answer.headers["Retry-After"] == "1"
                    assert answer.headers["Content-Type"] == "application/json"
                    # the provider's own error shape, as its 404s have it
                    assert shape(answer.json()) == shape(accepted[name + ":404"])
                    assert message in answer.text
                # an accepted job is still there: reads work while writes fail
                polled = c.get(api.status_path(accepted[name]))
                assert polled.status_code == 200, polled.text
        # the admin API answers in its own shape
        with client(app) as c:
            rule = c.post("/__mock/scenarios", json={"scenario": "slow"})
            assert rule.status_code == 503
            assert rule.headers["Retry-After"] == "1"
            assert set(rule.json()["error"]) == {"message", "type"}
        assert failed, "no write reached the store"
        down, up = outage_lines(caplog)
        assert len(down) == 1, down  # one line for the outage, not one per request
        assert message in down[0]
        assert up == []
    assert app.extensions["sora_mock"].error_count == 0  # no 500, no traceback

    # the store takes writes again: one line, and creates work
    with client(app, "gptge") as c:
        assert APIS["gptge-videos"].create(c, AUTH).status_code == 200
    down, up = outage_lines(caplog)
    assert len(down) == 1 and len(up) == 1, (down, up)
    assert not [r for r in caplog.records if r.exc_info]


def test_a_failed_write_leaves_the_writer_queue_free(tmp_path: Path) -> None:
    """A write that fails midway (the disk fills between two statements) rolls back and
    leaves the queue every writer of every process waits on: the next write goes through."""
    opened = open_store(f"sqlite:{tmp_path / 's.db'}")
    real = store_module._QueuedWriters.execute

    def execute(self: sqlite3.Connection, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("INSERT OR REPLACE INTO clock") or sql.startswith("DELETE FROM rules"):
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, sql, *args)  # type: ignore[arg-type]

    store_module._QueuedWriters.execute = execute  # type: ignore[method-assign]
    try:
        for write in (lambda: opened.clock_advance(5, 100.0), opened.reset):
            with pytest.raises(StoreUnavailable):
                write()
    finally:
        store_module._QueuedWriters.execute = real  # type: ignore[method-assign]
    # from another connection (another worker): the write lock and the queue are free
    other = open_store(f"sqlite:{tmp_path / 's.db'}")
    assert other.clock_advance(5, 100.0) == 105.0
    assert opened.clock_advance(1, 100.0) == 106.0
    opened.close()
    other.close()


def test_a_read_only_sqlite_store_is_refused_at_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite opens a file it may not write read-only, without a word: the store finds out at
    start, not at the first create. (Tests run as root, where file modes do not stop writes:
    the file is opened read-only as SQLite opens an unwritable one.)"""
    path = tmp_path / "state.sqlite"
    open_store(f"sqlite:{path}").close()
    real = sqlite3.connect

    def read_only(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(f"file:{database}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(ValueError) as refused:
        open_store(f"sqlite:{path}")
    assert str(refused.value) == (
        f"cannot use the store {path}: attempt to write a readonly database"
    )


def test_serve_refuses_a_store_path_it_cannot_write_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--workers", "1"]
    done = subprocess.run(
        [*command, "--store", f"sqlite:{blocker / 'state.sqlite'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"sora-mock: cannot use the store {blocker / 'state.sqlite'}: ")
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------- Redis


@contextmanager
def redis_process(port: int | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real redis-server on loopback whose process the test controls (stop, freeze)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make test` installs it (Debian package)")
    if port is None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="sora-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        probe_client = redis.Redis.from_url(url, socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                probe_client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.01)  # a readiness retry
        probe_client.close()
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def test_a_stopped_redis_is_a_prompt_503_and_its_return_is_noticed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = APIS["gptge-videos"]
    with redis_process() as (process, url):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        app = create_app(store=url, clock="virtual")
        with client(app, api.provider) as c:
            assert api.create(c, AUTH).status_code == 200
            caplog.set_level(logging.INFO, logger="mockserver")
            process.terminate()
            process.wait(10)
            for call in (
                lambda: api.create(c, AUTH),
                lambda: c.get(api.status_path("video_x")),
                lambda: c.get("/v1/videos"),
            ):
                answer, took = timed(call)
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "1"
                assert "Redis" in answer.json()["error"]["message"]
                assert took < 2.5
            with client(app) as admin:
                jobs = admin.get("/__mock/jobs")
                assert jobs.status_code == 503
                assert set(jobs.json()["error"]) == {"message", "type"}
            down, up = outage_lines(caplog)
            assert len(down) == 1, down
            # Redis is back (empty: it kept nothing) on the same address
            with redis_process(port):
                assert api.create(c, AUTH).status_code == 200
                down, up = outage_lines(caplog)
                assert len(down) == 1 and len(up) == 1, (down, up)
    assert app.extensions["sora_mock"].error_count == 0
    assert not [r for r in caplog.records if r.exc_info]


def test_a_frozen_redis_costs_one_timeout_then_503s_at_once_and_its_thaw_is_noticed(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen Redis: the first request waits for one socket timeout (a second, set on the
    client), the next ones are 503s that touch no socket (the store is known to be down for
    PROBE_INTERVAL), and once it thaws the probe after that interval finds it. The guard's
    clock is the test's: the interval passes when the test says so, not by sleeping."""
    from redis.connection import Connection

    from mockserver.state import store_guard

    later = [0.0]
    real = time.monotonic
    monkeypatch.setattr(store_guard, "time", SimpleNamespace(monotonic=lambda: real() + later[0]))
    connects = [0]
    connect = Connection.connect

    def counted(self: Connection) -> None:
        connects[0] += 1
        connect(self)

    monkeypatch.setattr(Connection, "connect", counted)
    api = APIS["gptge-videos"]
    with redis_process() as (process, url):
        app = create_app(store=url, clock="virtual")
        store = app.extensions["sora_mock"].store
        options = store.redis.connection_pool.connection_kwargs
        assert options["socket_timeout"] <= 1.0 and options["socket_connect_timeout"] <= 1.0
        with client(app, api.provider) as c:
            created = api.create(c, AUTH)
            assert created.status_code == 200
            job_id = api.job_id(created.json())
            caplog.set_level(logging.INFO, logger="mockserver")
            process.send_signal(signal.SIGSTOP)
            try:
                first, took_first = timed(lambda: c.get(api.status_path(job_id)))
                before = connects[0]
                then = c.get("/v1/videos")
                assert connects[0] == before, "a second request tried the frozen store again"
            finally:
                process.send_signal(signal.SIGCONT)
            assert first.status_code == 503 and then.status_code == 503
            assert took_first < 10, "one timeout, not a hang"  # a bound, not a measurement
            assert c.get(api.status_path(job_id)).status_code == 503  # still in the interval
            later[0] += store_guard.PROBE_INTERVAL  # the interval passes: the next call probes
            polled = c.get(api.status_path(job_id))
            assert polled.status_code == 200, polled.text
    down, up = outage_lines(caplog)
    assert len(down) == 1 and len(up) == 1, (down, up)
    assert "TimeoutError" in down[0]
    assert app.extensions["sora_mock"].error_count == 0


def test_a_journal_batch_cut_short_by_a_full_disk_leaves_no_half_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills in the middle of a journal batch: the part written is cut off, so the
    batch's retry (mockserver.state.journal keeps it) starts on a line of its own and no entry is
    lost in a line that cannot be read."""
    from mockserver.state import store_journal

    journal = store_journal.FileJournal(tmp_path / "state.sqlite", 100)
    journal.add({"n": 1})
    real = os.write
    calls: list[int] = []

    def short_then_full(fd: int, data: Any) -> int:
        if fd != journal._fd:
            return real(fd, data)
        calls.append(fd)
        if len(calls) == 1:
            return real(fd, bytes(data[:10]))  # part of the first line
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_journal.os, "write", short_then_full)
    with pytest.raises(OSError):
        journal.add({"n": 2}, {"n": 3})
    monkeypatch.undo()
    journal.add({"n": 2}, {"n": 3})  # the retry, once there is room
    assert journal.read(10) == [{"n": 1}, {"n": 2}, {"n": 3}]
    journal.close()


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_a_full_or_read_only_redis_is_a_503_for_writes_while_reads_go_on(
    caplog: pytest.LogCaptureFixture, trouble: str
) -> None:
    """Redis at its ``maxmemory`` (no eviction) refuses writes with OOM; a replica (here of
    an address where nothing listens) refuses them with READONLY. Both are real Redis."""
    import redis

    api = APIS["gptge-videos"]
    with redis_process() as (_, url):
        app = create_app(store=url, clock="virtual")
        admin: Any = redis.Redis.from_url(url)
        with client(app, api.provider) as c:
            created = api.create(c, AUTH)
            assert created.status_code == 200
            job_id = api.job_id(created.json())
            caplog.set_level(logging.INFO, logger="mockserver")
            if trouble == "full":
                admin.config_set("maxmemory", "1")
            else:
                admin.execute_command("REPLICAOF", "127.0.0.1", "1")
            refused = api.create(c, AUTH)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            word = "OutOfMemoryError" if trouble == "full" else "ReadOnlyError"
            assert word in refused.json()["error"]["message"]
            assert c.get(api.status_path(job_id)).status_code == 200  # reads go on
            if trouble == "full":
                admin.config_set("maxmemory", "0")
            else:
                admin.execute_command("REPLICAOF", "NO", "ONE")
            assert api.create(c, AUTH).status_code == 200
        admin.close()
    down, up = outage_lines(caplog)
    assert len(down) == 1 and len(up) == 1, (down, up)
    assert app.extensions["sora_mock"].error_count == 0
