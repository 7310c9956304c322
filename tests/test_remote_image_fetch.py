"""mockserver.media.remote's fetch on its own, against loopback servers each test starts: what is
asked (path, query, Accept, User-Agent), what comes back (the body, its type, in chunks),
redirects (relative, without Location, capped), sizes at and over the limit, refused and
malformed URLs, names resolved before connecting, and the deadline."""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from test_adversarial_remote import IMAGE, Upstream, redirect_to, send_image

from mockserver.media import remote

EVERYONE = {"allowed": lambda address: True}


def fetch(url: str, **kwargs: Any) -> bytes:
    return remote.fetch(url, **({"max_bytes": 10_000_000, "deadline_seconds": 5.0} | kwargs))


def failure(url: str, **kwargs: Any) -> str:
    with pytest.raises(remote.FetchError) as caught:
        fetch(url, **kwargs)
    return str(caught.value)


def test_the_path_and_query_are_asked_with_the_image_headers() -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        seen.append((handler.path, handler.headers["Accept"], handler.headers["User-Agent"]))
        send_image(handler)

    with Upstream("127.0.0.1", answer) as upstream:
        assert fetch(f"{upstream.url}/cats/cat.png?size=big&v=2", **EVERYONE) == IMAGE
        assert fetch(upstream.url, **EVERYONE) == IMAGE
    assert seen == [
        ("/cats/cat.png?size=big&v=2", "image/*", "sora-mock"),
        ("/", "image/*", "sora-mock"),
    ]


def test_the_body_is_handed_on_in_chunks_with_its_type() -> None:
    big = b"\x89PNG" + bytes(200_000)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        send_image(handler, big)

    chunks: list[bytes] = []
    with Upstream("127.0.0.1", answer) as upstream:
        kind = remote.fetch_into(
            f"{upstream.url}/x",
            chunks.append,
            max_bytes=300_000,
            deadline_seconds=5.0,
            accept="video/*",
            **EVERYONE,
        )
    assert kind == "image/png"
    assert b"".join(chunks) == big
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 64 * 1024


def test_an_answer_without_a_type_has_an_empty_one() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "3")
        handler.end_headers()
        handler.wfile.write(b"abc")

    with Upstream("127.0.0.1", answer) as upstream:
        kind = remote.fetch_into(
            f"{upstream.url}/x", lambda _: None, max_bytes=10, deadline_seconds=5.0, **EVERYONE
        )
    assert kind == ""


def test_a_body_exactly_the_limit_is_fetched_one_byte_more_refused() -> None:
    data = b"x" * 1000

    def sized(handler: BaseHTTPRequestHandler) -> None:
        send_image(handler, data)

    with Upstream("127.0.0.1", sized) as upstream:
        assert fetch(f"{upstream.url}/x", max_bytes=1000, **EVERYONE) == data
        assert failure(f"{upstream.url}/x", max_bytes=999, **EVERYONE) == (
            "the image at the URL is larger than 999 bytes"
        )


def test_a_relative_redirect_is_followed_from_where_it_was_sent() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/a/start":
            redirect_to("next.png")(handler)
        else:
            send_image(handler, handler.path.encode())

    with Upstream("127.0.0.1", answer) as upstream:
        assert fetch(f"{upstream.url}/a/start", **EVERYONE) == b"/a/next.png"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_followed(status: int) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/start":
            handler.send_response(status)
            handler.send_header("Location", "/done")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            send_image(handler)

    with Upstream("127.0.0.1", answer) as upstream:
        assert fetch(f"{upstream.url}/start", **EVERYONE) == IMAGE


def test_a_redirect_without_location_and_an_error_status_are_reported() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302 if handler.path == "/moved" else 404)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with Upstream("127.0.0.1", answer) as upstream:
        assert failure(f"{upstream.url}/moved", **EVERYONE) == (
            "the image URL answered HTTP 302 without a Location"
        )
        assert failure(f"{upstream.url}/gone", **EVERYONE) == "the image URL answered HTTP 404"


def test_the_number_of_redirects_is_the_callers_to_set() -> None:
    with Upstream("127.0.0.1", redirect_to("/again")) as loop:
        assert failure(f"{loop.url}/start", max_redirects=0, **EVERYONE) == (
            "the image URL redirected more than 0 times"
        )
        assert len(loop.requests) == 1
        assert failure(f"{loop.url}/start", max_redirects=1, **EVERYONE) == (
            "the image URL redirected more than 1 times"
        )
        assert len(loop.requests) == 3


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x.png", "file:///etc/passwd", "http:///x.png", "//127.0.0.1/x"]
)
def test_a_url_that_is_no_http_url_with_a_host_is_refused(url: str) -> None:
    assert failure(url, **EVERYONE) == "the image URL must be an http or https URL with a host"


def test_an_invalid_port_is_refused() -> None:
    assert failure("http://127.0.0.1:99999/x", **EVERYONE) == "the image URL has an invalid port"


def test_the_default_policy_refuses_loopback() -> None:
    assert failure("http://127.0.0.1:1/x.png") == (
        "the image URL's host is not allowed: the mock fetches only from public addresses"
    )


def test_a_name_is_resolved_and_every_address_checked_before_connecting() -> None:
    asked: list[Any] = []

    def policy(address: Any) -> bool:
        asked.append(address)
        return address.is_loopback

    with Upstream("127.0.0.1", send_image) as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        assert fetch(f"http://localhost:{port}/cat.png", allowed=policy) in (IMAGE,)
    assert asked and all(a.is_loopback for a in asked)


def test_a_name_that_does_not_resolve_reveals_nothing() -> None:
    assert failure("http://no-such-host.invalid/x.png", **EVERYONE) == (
        "could not fetch the image URL"
    )


def test_https_to_a_server_that_speaks_no_tls_fails_plainly() -> None:
    with Upstream("127.0.0.1", send_image) as upstream:
        port = upstream.url.rsplit(":", 1)[1]
        assert failure(f"https://127.0.0.1:{port}/x", **EVERYONE) == (
            "could not fetch the image URL"
        )


def test_a_deadline_already_spent_is_reported_before_connecting() -> None:
    with Upstream("127.0.0.1", send_image) as upstream:
        message = failure(f"{upstream.url}/x", deadline_seconds=0.0, **EVERYONE)
        assert upstream.requests == []
    assert message == "fetching the image URL took longer than 0 s"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("2001::5ef5:79fe:f5ff:ff7f", False),  # Teredo: the client is 10.0.0.128
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),  # Teredo (2001::/32 is not global)
        ("2002:808:808::", True),  # 6to4 of 8.8.8.8
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("::ffff:8.8.8.8", False),  # IPv4-mapped: not a global IPv6 address
    ],
)
def test_addresses_embedded_in_ipv6_are_checked_too(address: str, public: bool) -> None:
    assert remote.public_only(ipaddress.ip_address(address)) is public


# -- what the first round of mutation testing showed -------------------------------------------


def test_a_body_of_many_chunks_is_joined_as_sent() -> None:
    big = bytes(range(256)) * 1000

    def answer(handler: BaseHTTPRequestHandler) -> None:
        send_image(handler, big)

    with Upstream("127.0.0.1", answer) as upstream:
        assert fetch(f"{upstream.url}/x", **EVERYONE) == big


def test_a_short_deadline_still_leaves_time_to_fetch() -> None:
    with Upstream("127.0.0.1", send_image) as upstream:
        assert fetch(f"{upstream.url}/x", deadline_seconds=0.8, **EVERYONE) == IMAGE


def test_a_name_lookup_that_hangs_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        raise OSError("no answer")

    monkeypatch.setattr(remote.socket, "getaddrinfo", hanging)
    started = time.monotonic()
    try:
        message = failure("http://slow-dns.example/x.png", deadline_seconds=0.3, **EVERYONE)
    finally:
        release.set()
    assert message == "fetching the image URL took longer than 0.3 s"
    assert time.monotonic() - started < 0.9


def test_a_scoped_address_is_read_without_its_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def link_local(*args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%lo", 80, 0, 1))]

    monkeypatch.setattr(remote.socket, "getaddrinfo", link_local)
    assert failure("http://router.example/x.png") == (
        "the image URL's host is not allowed: the mock fetches only from public addresses"
    )


def test_a_connection_that_is_never_accepted_is_cut_at_the_deadline() -> None:
    """A listening socket whose queue is full: the kernel answers no further SYN, so a
    connect hangs (what a black-holed address does)."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue (never accepted)
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        started = time.monotonic()
        message = failure(f"http://127.0.0.1:{port}/x", deadline_seconds=0.5, **EVERYONE)
        elapsed = time.monotonic() - started
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    assert message == "fetching the image URL took longer than 0.5 s"
    assert elapsed < 3


def test_fetch_into_follows_three_redirects_by_default() -> None:
    with Upstream("127.0.0.1", redirect_to("/again")) as loop:
        with pytest.raises(remote.FetchError, match="redirected more than 3 times"):
            remote.fetch_into(
                f"{loop.url}/start",
                lambda _: None,
                max_bytes=100,
                deadline_seconds=5.0,
                **EVERYONE,
            )
        assert len(loop.requests) == 4


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://img.example/x.png", 80),
        ("https://img.example/x.png", 443),
        ("https://img.example:8443/x.png", 8443),
    ],
)
def test_a_url_without_a_port_connects_to_its_schemes(
    monkeypatch: pytest.MonkeyPatch, url: str, port: int
) -> None:
    asked: list[int] = []

    def resolve(host: str, at: int, *args: Any, **kwargs: Any) -> Any:
        return [(2, 1, 6, "", ("93.184.215.14", at))]

    def connect(address: Any, at: int, deadline: float, budget: float) -> Any:
        asked.append(at)
        raise remote.FetchError("could not fetch the image URL")

    monkeypatch.setattr(remote.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(remote, "_connect", connect)
    failure(url)
    assert asked == [port]


def test_the_host_header_names_the_port_asked() -> None:
    hosts: list[str | None] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        hosts.append(handler.headers["Host"])
        send_image(handler)

    with Upstream("127.0.0.1", answer) as upstream:
        fetch(f"{upstream.url}/x", **EVERYONE)
        port = upstream.url.rsplit(":", 1)[1]
    assert hosts == [f"127.0.0.1:{port}"]


def test_a_declared_length_over_the_limit_is_refused_before_the_body() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000000000")
        handler.end_headers()
        handler.wfile.write(b"\x89PNG")

    with Upstream("127.0.0.1", answer) as upstream:
        assert failure(f"{upstream.url}/x", max_bytes=1000, **EVERYONE) == (
            "the image at the URL is larger than 1000 bytes"
        )
