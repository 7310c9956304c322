"""A served mock survives the death of one of its workers (the OOM killer, a crash in native
code): the worker is replaced, the others serve meanwhile, and no accepted job is lost.

A real ``sora-mock serve --workers 2``; one worker is killed with SIGKILL (found as a child of
the server process) while a client keeps creating and polling on fresh connections.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable

import httpx
from providers import APIS
from served import Served, served, stop

VIDEOS = APIS["gptproto-videos"]
AUTH = {"Authorization": "Bearer sk-test"}
#: how long one request may go on failing to connect or being cut off while a worker is
#: replaced (the other worker keeps the port served: in practice no refusal at all)
RETRY_WINDOW = 3.0


def with_retry(call: Callable[[], httpx.Response], failures: list[float]) -> httpx.Response:
    """``call`` until it gets an answer, within ``RETRY_WINDOW``; each transport error is
    noted (an in-flight request of the killed worker is cut off)."""
    deadline = time.monotonic() + RETRY_WINDOW
    while True:
        try:
            return call()
        except httpx.TransportError:
            failures.append(time.monotonic())
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # a reconnection retry, bounded: not a wait for the clock


def fresh(server: Served, method: str, path: str, failures: list[float]) -> httpx.Response:
    def call() -> httpx.Response:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10.0) as client:
            return client.request(method, path)

    return with_retry(call, failures)


def create(server: Served, failures: list[float]) -> str:
    def call() -> httpx.Response:
        with server.client("gptproto") as client:
            return VIDEOS.create(client, AUTH)

    answer = with_retry(call, failures)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_a_killed_worker_is_replaced_and_no_accepted_job_is_lost() -> None:
    with served("--clock", "virtual") as server:
        failures: list[float] = []
        accepted = [create(server, failures) for _ in range(4)]
        workers = server.children()
        assert len(workers) == 2
        victim = workers[0]

        # a client that goes on creating and polling while the worker dies
        stopping = threading.Event()
        errors: list[BaseException] = []

        def client() -> None:
            try:
                while not stopping.is_set():
                    accepted.append(create(server, failures))
                    polled = fresh(server, "GET", f"/gptproto/v1/videos/{accepted[-1]}", failures)
                    assert polled.status_code == 200, polled.text
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                errors.append(exc)

        busy = threading.Thread(target=client)
        busy.start()
        kills: list[tuple[int, int]] = []  # (killed, its replacement)
        try:
            # the second kill hits the replacement as soon as it exists (within granian's
            # 5.5 s, which it would take for a crash loop and stop the server)
            for _ in range(2):
                kills.append((victim, replaced(server, victim)))
                victim = kills[-1][1]
            # the last replacement answers requests, and the client goes on being served
            deadline = time.monotonic() + 20
            while not answered_by(server, victim, failures):
                assert time.monotonic() < deadline, "the replacement answers nothing"
            created_after = len(accepted)
            while len(accepted) < created_after + 4 and not errors:
                assert time.monotonic() < deadline
                time.sleep(0.01)  # the client thread makes the progress; bounded above
        finally:
            stopping.set()
            busy.join(30)
        assert errors == []
        assert server.process.poll() is None
        children = server.children()
        assert len(children) == 2 and not {k for k, _ in kills} & set(children)

        # every job the server accepted, before, during and after, is still there
        for job_id in accepted:
            polled = fresh(server, "GET", f"/gptproto/v1/videos/{job_id}", failures)
            assert polled.status_code == 200, (job_id, polled.text)
        stop(server)
    output = "".join(server.output)
    for killed, replacement in kills:
        pattern = (
            rf"worker-\d \(pid {killed}\) died \(killed by SIGKILL\) and was replaced "
            rf"\(new pid {replacement}\)"
        )
        assert re.search(pattern, output), output


def replaced(server: Served, victim: int) -> int:
    """Kill ``victim``; the pid of the worker started in its place."""
    before = set(server.children())
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        assert server.process.poll() is None, "the server died with its worker"
        new = set(server.children()) - before
        if new:
            return new.pop()
        assert time.monotonic() < deadline, f"no replacement: {server.children()}"
        time.sleep(0.01)  # waiting for another process, bounded: not for the mock's clock


def answered_by(server: Served, worker: int, failures: list[float]) -> bool:
    """Whether the journal holds an answer of ``worker``'s (after one more request)."""
    journal = fresh(server, "GET", "/__mock/journal?limit=200", failures).json()
    return worker in {e["worker"] for e in journal["data"]}
