"""Fetching a reference image from a remote URL (opt-in: ``--fetch-remote-images``).

A URL a client sends makes the mock open a connection, so the fetch is held on a short leash:

* only ``http``/``https``; the host is resolved first and every address it resolves to must be
  public (not loopback, private, link-local, multicast, reserved, unspecified or shared); the
  connection goes to the address that was checked, so a second DNS answer cannot differ;
* redirects are followed here, at most ``max_redirects``, each hop checked the same way;
* one deadline for the whole fetch (DNS, connect, TLS, headers, body, every hop), enforced by
  a watchdog that shuts the socket down, so a server dripping a byte a second cannot hold a
  worker past it;
* at most ``max_bytes`` of body;
* failures are reported without network details (no error texts from the socket layer, which
  would tell a caller which ports of which hosts are open).

``allowed`` is the seam tests use to let a loopback server through.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urljoin, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sora-mock-dns")


class FetchError(ValueError):
    """A remote image could not be fetched; the message is safe to show the client."""


def public_only(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address (the default policy)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not public_only(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def fetch(
    url: str,
    *,
    max_bytes: int,
    deadline_seconds: float,
    allowed: AddressPolicy = public_only,
    max_redirects: int = 3,
) -> bytes:
    """The body of ``url`` (after at most ``max_redirects`` redirects), or :class:`FetchError`."""
    chunks: list[bytes] = []
    fetch_into(
        url,
        chunks.append,
        max_bytes=max_bytes,
        deadline_seconds=deadline_seconds,
        allowed=allowed,
        max_redirects=max_redirects,
    )
    return b"".join(chunks)


def fetch_into(
    url: str,
    write: Callable[[bytes], None],
    *,
    max_bytes: int,
    deadline_seconds: float,
    allowed: AddressPolicy = public_only,
    max_redirects: int = 3,
    accept: str = "image/*",
) -> str:
    """:func:`fetch`, the body handed to ``write`` chunk by chunk as it arrives (the recorder
    stores media this way); returns the answer's Content-Type. A failure after some chunks
    were written raises :class:`FetchError` all the same."""
    deadline = time.monotonic() + deadline_seconds
    for _ in range(max_redirects + 1):
        status, location, content_type = _get(
            url, deadline, deadline_seconds, allowed, max_bytes, write, accept
        )
        if status in REDIRECTS:
            if not location:
                raise FetchError(f"the image URL answered HTTP {status} without a Location")
            url = urljoin(url, location)
            continue
        if status != 200:
            raise FetchError(f"the image URL answered HTTP {status}")
        return content_type
    raise FetchError(f"the image URL redirected more than {max_redirects} times")


def _get(
    url: str,
    deadline: float,
    budget: float,
    allowed: AddressPolicy,
    max_bytes: int,
    write: Callable[[bytes], None],
    accept: str,
) -> tuple[int, str | None, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("the image URL must be an http or https URL with a host")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the image URL has an invalid port") from None
    address = _checked_address(host, port, deadline, budget, allowed)
    sock = _connect(address, port, deadline, budget)
    # the watchdog: at the deadline the socket is shut down, whatever call is blocked on it
    current = [sock]
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shutdown, (current,))
    watchdog.daemon = True
    watchdog.start()
    response: http.client.HTTPResponse | None = None
    try:
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context()
            sock = current[0] = context.wrap_socket(sock, server_hostname=host)
            conn = http.client.HTTPSConnection(host, port, timeout=budget, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=budget)
        conn.sock = sock
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", target, headers={"Accept": accept, "User-Agent": "sora-mock"})
        response = conn.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location"), ""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"the image at the URL is larger than {max_bytes} bytes")
        size = 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"the image at the URL is larger than {max_bytes} bytes")
            write(chunk)
            _check_deadline(deadline, budget)
        _check_deadline(deadline, budget)  # the watchdog's shutdown reads as an end of body
        return 200, None, response.getheader("Content-Type") or ""
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError):
        _check_deadline(deadline, budget)
        raise FetchError("could not fetch the image URL") from None
    finally:
        watchdog.cancel()
        if response is not None:  # a redirect's or an error's body is never read: let it go
            response.close()
        sock.close()


def _checked_address(
    host: str, port: int, deadline: float, budget: float, allowed: AddressPolicy
) -> IPAddress:
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise FetchError(f"fetching the image URL took longer than {budget:g} s") from None
        except OSError:
            raise FetchError("could not fetch the image URL") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses or not all(allowed(a) for a in addresses):
        # every address must be allowed: a name resolving to a public and a private one is not
        raise FetchError(
            "the image URL's host is not allowed: the mock fetches only from public addresses"
        )
    return addresses[0]


def _connect(address: IPAddress, port: int, deadline: float, budget: float) -> socket.socket:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"fetching the image URL took longer than {budget:g} s")
    try:
        return socket.create_connection((str(address), port), timeout=remaining)
    except OSError:
        _check_deadline(deadline, budget)
        raise FetchError("could not fetch the image URL") from None


def _check_deadline(deadline: float, budget: float) -> None:
    if time.monotonic() >= deadline:
        raise FetchError(f"fetching the image URL took longer than {budget:g} s")


def _shutdown(current: list[socket.socket]) -> None:
    try:
        # the plain socket's shutdown, also under TLS: the blocked read returns at once
        socket.socket.shutdown(current[0], socket.SHUT_RDWR)
    except OSError:
        pass
