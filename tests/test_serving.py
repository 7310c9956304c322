"""`sora-mock serve` with several worker processes behaves as one server.

Each test runs a real server process (granian, 2 workers) on a loopback port. Requests go out on
fresh connections so the kernel spreads them over the workers; the shared journal records which
worker answered each, so the tests can show that more than one did.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from providers import APIS
from served import Served, served, stop

VIDEOS = APIS["gptproto-videos"]
AUTH = {"Authorization": "Bearer sk-test"}


def fresh(server: Served, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request on a new connection (so successive requests may reach different workers)."""
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def journal(server: Served) -> list[dict[str, object]]:
    body = fresh(server, "GET", "/__mock/journal", params={"limit": 10000}).json()
    return list(body["data"])


#: the `slow` scenario's delay (serve's --slow-seconds default)
SLOW_SECONDS = 3.0


@pytest.fixture(scope="module")
def shared() -> Iterator[Served]:
    """One two-worker server on the virtual clock, reset before each test that uses it."""
    with served("--clock", "virtual", "--slow-seconds", "2") as server:
        yield server


@pytest.fixture
def server(shared: Served) -> Served:
    assert (
        fresh(shared, "POST", "/__mock/reset", headers={"X-Mock-Client": "test"}).status_code == 200
    )
    return shared


def test_jobs_created_through_one_worker_are_read_through_another(server: Served) -> None:
    ids = []
    for _ in range(6):
        with server.client("gptproto") as client:
            created = VIDEOS.create(client, AUTH)
        assert created.status_code == 200, created.text
        ids.append(created.json()["id"])
    for job_id in ids:
        for _ in range(3):
            polled = fresh(server, "GET", f"/gptproto/v1/videos/{job_id}")
            assert polled.status_code == 200
            assert polled.json()["status"] == "queued"
    for job_id in ids[2:]:
        assert fresh(server, "DELETE", f"/gptproto/v1/videos/{job_id}").status_code == 200
        for _ in range(3):
            assert fresh(server, "GET", f"/gptproto/v1/videos/{job_id}").status_code == 404
    # the clock moved through one worker moves the jobs for all of them
    fresh(server, "POST", "/__mock/clock/advance", json={"seconds": 3600})
    for job_id in ids[:2]:
        for _ in range(3):
            assert fresh(server, "GET", f"/gptproto/v1/videos/{job_id}").json()["status"] == (
                "completed"
            )
    workers = {e["worker"] for e in journal(server) if e["provider"] == "gptproto"}
    assert workers <= set(server.children())
    assert len(workers) == 2, "the kernel sent every connection to one worker"


def test_the_journal_sees_every_request_of_every_worker(server: Served) -> None:
    sent = []
    for _ in range(40):
        answer = fresh(server, "GET", "/gptge/v1/videos/video_unknown")
        assert answer.status_code == 404
        sent.append(answer.headers["x-request-id"])
    seen = [e["request_id"] for e in journal(server)]
    assert seen == sent


def test_a_rule_for_50_uses_is_consumed_exactly_50_times_across_workers(server: Served) -> None:
    rule = {"scenario": "server_error", "api_key": "sk-test", "times": 50}
    assert fresh(server, "POST", "/__mock/scenarios", json=rule).status_code == 201

    def poll(_: int) -> int:
        return fresh(server, "GET", "/gptge/v1/videos/video_unknown").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(poll, range(80)))
    assert statuses == {500: 50, 404: 30}
    assert fresh(server, "GET", "/__mock/scenarios").json()["rules"] == []
    assert len({e["worker"] for e in journal(server)}) == 2


def test_a_slow_request_holds_only_its_own_connection(server: Served) -> None:
    """20 requests held by the `slow` scenario (3 s of real time each) hold their own
    connections only: a poll sent after them is answered while they are still held. A round in
    which the poll itself took the slow requests' whole delay (a machine so loaded that the
    poll could not be judged) is tried again, at most three times, never judged as a pass."""
    request = (
        b"GET /gptge/v1/videos/video_unknown HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer sk-test\r\nX-Mock-Scenario: slow\r\nConnection: close\r\n\r\n"
    )
    for _ in range(3):
        slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        try:
            sent = time.monotonic()
            for sock in slow:
                sock.sendall(request)
            poll = fresh(server, "GET", "/__mock/clock")
            judged = time.monotonic() - sent < SLOW_SECONDS
            ready, _, _ = select.select(slow, [], [], 0)
            assert poll.status_code == 200
            for sock in slow:  # and each slow request is answered in the end
                sock.settimeout(30)
                assert sock.recv(64).startswith(b"HTTP/1.1 404")
        finally:
            for sock in slow:
                sock.close()
        if judged:
            assert ready == [], "the poll was answered only after a slow request finished"
            return
    pytest.fail("three rounds in which a poll took the slow scenario's whole delay")


def test_hundreds_of_idle_sockets_do_not_stop_a_poll(server: Served) -> None:
    idle = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port))
            idle.append(sock)
        # and some that send half a request and then stall
        for sock in idle[:50]:
            sock.sendall(b"GET /gptge/v1/videos/x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = fresh(server, "GET", "/gptge/v1/videos/video_unknown")
        assert answer.status_code == 404
        assert answer.json()["error"]["type"] == "invalid_request_error"
    finally:
        for sock in idle:
            sock.close()


def test_the_rate_limit_is_per_server_not_per_worker() -> None:
    with served("--clock", "virtual", "--rate-limit", "5") as server:
        statuses = Counter(
            fresh(server, "GET", "/gptge/v1/videos/video_unknown").status_code for _ in range(30)
        )
        assert statuses == {404: 5, 429: 25}
        assert len({e["worker"] for e in journal(server)}) == 2


def fault_sequence() -> list[int]:
    with served("--fault-rate", "0.5", "--fault-seed", "7") as server:
        return [fresh(server, "GET", "/gptge/v1/videos/video_x").status_code for _ in range(24)]


def test_a_seeded_fault_rate_gives_the_same_mix_for_the_same_request_order() -> None:
    first = fault_sequence()
    assert {404, 429, 500} <= set(first), first
    assert fault_sequence() == first


def test_sigterm_stops_every_worker_and_frees_the_port() -> None:
    with served() as server:
        workers = server.children()
        assert len(workers) == 2
        assert stop(server, signal.SIGTERM) == 0
    for pid in workers:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()
    with socket.socket() as probe:  # a restart on the same port would succeed
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))


def test_a_busy_port_is_one_clear_line_and_exit_code_2() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sora-mock: port {port} on 127.0.0.1 is already in use: stop what holds it, or "
        "choose another with --port (make serve PORT=...)"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_one_worker_with_the_memory_store_serves_too() -> None:
    with served("--store", "memory", workers=1) as server:
        with server.client("gptproto") as client:
            created = VIDEOS.create(client, AUTH)
        assert created.status_code == 200
        job = fresh(server, "GET", f"/gptproto/v1/videos/{created.json()['id']}")
        assert job.status_code == 200
        assert {e["worker"] for e in journal(server)} == set(server.children())


def test_startup_reaches_a_served_request() -> None:
    with served() as server:
        answer = fresh(server, "GET", "/")
        assert answer.status_code == 200
        assert set(answer.json()["providers"]) == {"gptproto", "gptge", "vtrix", "openrouter"}
        assert os.getpid() not in server.children()
    assert "sora-mock serving on" in "".join(server.output)


def test_a_killed_server_takes_its_workers_with_it() -> None:
    """SIGKILL cannot be passed on: the workers notice they are orphans and stop, so no
    orphan keeps serving on the port."""
    with served() as server:
        workers = server.children()
        assert len(workers) == 2
        stop(server, signal.SIGKILL)
    deadline = time.monotonic() + 15
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in workers if _running(pid)]
        time.sleep(0.05)  # waiting for other processes to exit, not for the mock's clock
    assert alive == []


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text()
    except FileNotFoundError:
        return False


def test_serve_does_not_import_the_conformance_commands() -> None:
    """`verify`, `proxy` and `cassettes` import httpx and the checking stack (about half a
    second): `serve` starts without them."""
    probe = (
        "import sys, mockserver.cli as cli\n"
        "code = cli.main(['serve', '--store', 'memory', '--workers', '2'])\n"
        "assert code == 2, code\n"
        "print(sorted(m for m in sys.modules if m.startswith('mockserver.conformance')"
        " or m == 'mockserver.verify'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_a_server_built_from_checked_contracts_imports_no_yaml_media_or_openapi_core() -> None:
    """Start-up (issue: the first answer within 0.5 s of launch) builds the app from contracts
    checked before (a JSON cache keyed by their bytes): no YAML parser, no PyAV/numpy, no
    openapi-core (the reference validator) on the way."""
    build = (
        "import sys\n"
        "from mockserver.http.app import create_app\n"
        "from mockserver.settings.config import MockConfig\n"
        "create_app(MockConfig())\n"
        "print(sorted(m for m in ('yaml', 'av', 'numpy', 'openapi_core') if m in sys.modules))\n"
    )
    run = [sys.executable, "-c", build]
    subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)  # cache filled
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
