"""mockserver.remote's fetch on its own, against loopback servers each test starts: what is
asked (path, query, Accept, User-Agent), what comes back (the body, its type, in chunks),
redirects (relative, without Location, capped), sizes at and over the limit, refused and
malformed URLs, names resolved before connecting, and the deadline."""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from test_adversarial_remote import IMAGE, Upstream, redirect_to, send_image

from mockserver import remote

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
