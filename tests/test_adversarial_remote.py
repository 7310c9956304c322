"""--fetch-remote-images under attack: address policy on every hop, one deadline, size cap,
failures that reveal nothing about the network. Loopback servers only: the policy seam
(``service.remote_address_allowed``) lets a test's own server through where a test needs it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from providers import png

from mockserver.http.app import create_app
from mockserver.media import remote
from mockserver.testing import SoraMock, test_config

IMAGE = png(720, 1280)
LOOPBACK = ipaddress.ip_address("127.0.0.1")


class Upstream:
    """A loopback HTTP server whose answer is a function of the request path."""

    def __init__(self, host: str, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append(self.path)
                try:
                    answer(self)
                except OSError:
                    pass  # the mock hung up: what a deadline does

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def send_image(handler: BaseHTTPRequestHandler, data: bytes = IMAGE) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def redirect_to(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def drip(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then a byte every 0.2 s: each read is quick, the whole never ends."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(IMAGE)))
    handler.end_headers()
    for byte in IMAGE[:25]:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)


@contextmanager
def remote_mock(allowed: remote.AddressPolicy | None = None, **config: Any) -> Iterator[SoraMock]:
    mock = SoraMock(create_app(test_config(fetch_remote_images=True, **config)))
    if allowed is not None:
        mock.service.remote_address_allowed = allowed
    yield mock
    mock.check()


def create_with_image(mock: SoraMock, url: str) -> httpx.Response:
    with mock.client("gptproto") as client:
        return client.post(
            "/api/v3/openai/reverse/sora-2/image-to-video",
            json={"prompt": "a cat", "images": [url], "size": "small", "duration": 10},
        )


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    message = str(response.json()["error"]["message"])
    for detail in ("refused", "Errno", "127.0.0", "port", "timed out"):
        assert detail not in message, message  # nothing about the network leaks
    return message


def test_an_allowed_upstream_image_is_fetched() -> None:
    with Upstream("127.0.0.1", send_image) as upstream:
        with remote_mock(allowed=lambda address: True) as mock:
            created = create_with_image(mock, f"{upstream.url}/cat.png")
            assert created.status_code == 200, created.text
            assert mock.service.image_of(mock.jobs()[0]) == IMAGE


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.1.2.3", "0.0.0.0"]
)
def test_loopback_private_and_link_local_hosts_are_refused_before_connecting(host: str) -> None:
    with Upstream("127.0.0.1", send_image) as upstream, remote_mock() as mock:
        port = upstream.url.rsplit(":", 1)[1]
        message = refusal(create_with_image(mock, f"http://{host}:{port}/cat.png"))
        assert "not allowed" in message
        assert upstream.requests == []
        assert mock.jobs() == []


def test_every_redirect_hop_is_checked_against_the_policy() -> None:
    with Upstream("127.0.0.2", send_image) as inner:
        with Upstream("127.0.0.1", redirect_to(f"{inner.url}/cat.png")) as outer:
            with remote_mock(allowed=lambda address: address == LOOPBACK) as mock:
                message = refusal(create_with_image(mock, f"{outer.url}/start"))
    assert "not allowed" in message
    assert outer.requests == ["/start"]
    assert inner.requests == []  # the hop to a refused address never connected


def test_redirects_are_capped() -> None:
    with Upstream("127.0.0.1", redirect_to("/again")) as loop:
        with remote_mock(allowed=lambda address: True) as mock:
            message = refusal(create_with_image(mock, f"{loop.url}/start"))
    assert "redirected more than 3 times" in message
    assert len(loop.requests) == 4


def test_a_slow_drip_upstream_is_cut_at_one_overall_deadline() -> None:
    with Upstream("127.0.0.1", drip) as slow:
        with remote_mock(allowed=lambda address: True, remote_fetch_seconds=1.0) as mock:
            started = time.monotonic()
            message = refusal(create_with_image(mock, f"{slow.url}/cat.png"))
            elapsed = time.monotonic() - started
    assert "took longer than 1 s" in message
    assert elapsed < 3.0, f"the fetch took {elapsed:.1f} s with a 1 s deadline"


def test_an_upstream_image_over_the_size_limit_is_refused() -> None:
    big = IMAGE + b"\x00" * 300_000

    def unsized(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: read until the cap
        handler.wfile.write(big)

    for answer in (lambda h: send_image(h, big), unsized):
        with Upstream("127.0.0.1", answer) as upstream:
            with remote_mock(allowed=lambda address: True, max_body_bytes=200_000) as mock:
                message = refusal(create_with_image(mock, f"{upstream.url}/big.png"))
        assert "larger than 200000 bytes" in message


def test_an_unreachable_upstream_is_reported_without_network_details() -> None:
    with Upstream("127.0.0.1", send_image) as closed:
        url = f"{closed.url}/cat.png"
    # the server is gone: its port now refuses connections
    with remote_mock(allowed=lambda address: True) as mock:
        message = refusal(create_with_image(mock, url))
    assert message == "could not fetch the image URL"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),
    ],
)
def test_the_default_policy_lets_only_public_unicast_addresses_through(
    address: str, public: bool
) -> None:
    assert remote.public_only(ipaddress.ip_address(address)) is public
