"""``python -m mockserver.http.healthcheck``, the container image's health check: exit 0 when the
mock on ``$SORA_MOCK_PORT`` (default 8000) answers ``GET /__mock/health`` with 200, else 1 and
one line saying why. Each test serves its own small HTTP server on loopback."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mockserver.http import healthcheck


@contextmanager
def serving(status: int, body: bytes = b"{}") -> Iterator[tuple[int, list[str]]]:
    """A loopback server answering every GET with ``status``; its port and the paths asked."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            asked.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_healthy_mock_passes() -> None:
    with serving(200) as (port, asked):
        assert healthcheck.check(port) is None
    assert asked == ["/__mock/health"]


def test_a_mock_answering_503_fails_with_its_answer() -> None:
    with serving(503, b'{"error": {"message": "the sqlite store does not answer"}}') as (port, _):
        problem = healthcheck.check(port)
    assert problem == (
        f"http://127.0.0.1:{port}/__mock/health answered 503: "
        '{"error": {"message": "the sqlite store does not answer"}}'
    )


def test_only_the_start_of_a_long_answer_is_shown() -> None:
    with serving(500, b"x" * 1000) as (port, _):
        problem = healthcheck.check(port)
    assert problem is not None
    assert problem.endswith(": " + "x" * 300)


def test_an_answer_that_is_no_error_yet_not_200_fails() -> None:
    with serving(204, b"") as (port, _):
        assert healthcheck.check(port) == f"http://127.0.0.1:{port}/__mock/health answered 204"


def test_no_mock_on_the_port_fails_saying_it_does_not_answer() -> None:
    port = free_port()
    problem = healthcheck.check(port, timeout=2)
    assert problem is not None
    assert problem.startswith(f"http://127.0.0.1:{port}/__mock/health does not answer: ")
    assert "refused" in problem.lower()


def test_main_asks_the_port_of_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(200) as (port, asked):
        monkeypatch.setenv("SORA_MOCK_PORT", str(port))
        assert healthcheck.main() == 0
    assert asked == ["/__mock/health"]
    assert capsys.readouterr().err == ""


def test_main_fails_with_one_line_saying_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(503) as (port, _):
        monkeypatch.setenv("SORA_MOCK_PORT", str(port))
        assert healthcheck.main() == 1
    err = capsys.readouterr().err
    assert err == f"healthcheck: http://127.0.0.1:{port}/__mock/health answered 503: {{}}\n"


def test_the_port_defaults_to_8000(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[int] = []
    monkeypatch.delenv("SORA_MOCK_PORT", raising=False)
    monkeypatch.setattr(healthcheck, "check", lambda port: asked.append(port))
    assert healthcheck.main() == 0
    assert asked == [8000]


def test_a_port_that_is_no_number_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_MOCK_PORT", "eighty")
    assert healthcheck.main() == 1
    assert capsys.readouterr().err == "healthcheck: SORA_MOCK_PORT='eighty' is not a port\n"
