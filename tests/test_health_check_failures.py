"""How the container's health check fails: a mock that accepts but never answers is reported
as timed out within the bound (never a hang), a refused connection by its reason, an error
page that is no UTF-8 still in one line; and the check gives up after 4 s by default."""

from __future__ import annotations

import socket
import time
import urllib.error

import pytest

from mockserver.http import healthcheck
from tests.test_container_health_check import free_port, serving


def test_a_mock_that_never_answers_is_reported_within_the_bound() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # the kernel accepts; nobody ever answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        problem = healthcheck.check(port, timeout=0.3)
    assert time.monotonic() - started < 3
    assert problem == f"http://127.0.0.1:{port}/__mock/health does not answer: timed out"


def test_a_refused_connection_is_reported_by_its_reason() -> None:
    port = free_port()
    problem = healthcheck.check(port, timeout=2)
    assert problem == (
        f"http://127.0.0.1:{port}/__mock/health does not answer: [Errno 111] Connection refused"
    )


def test_an_error_page_that_is_no_utf8_is_still_shown() -> None:
    with serving(503, b"down \xff\xfe") as (port, _):
        problem = healthcheck.check(port)
    assert problem == f"http://127.0.0.1:{port}/__mock/health answered 503: down \ufffd\ufffd"


def test_the_check_gives_up_after_4_seconds_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []

    def urlopen(url: str, timeout: float) -> None:
        asked.append(timeout)
        raise urllib.error.URLError("no route")

    monkeypatch.setattr(healthcheck.urllib.request, "urlopen", urlopen)
    assert (
        healthcheck.check(8000) == "http://127.0.0.1:8000/__mock/health does not answer: no route"
    )
    assert asked == [4.0]
