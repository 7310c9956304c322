"""Sending one webhook: where the mock may send it, its signature, and one POST within a
deadline (``mockserver.http.webhooks`` decides when, and what).

Where: loopback (``localhost`` and names under ``.localhost``, 127.0.0.0/8, ``::1``; a
loopback name is never looked up) and the hosts the user allows (``--webhook-allow-host``),
nothing else: a callback URL elsewhere is refused when the job is created. The POST: one
deadline for the connection and the answer's status line and headers (a watchdog shuts the
socket down at the deadline, so a receiver that drips bytes cannot hold a sender longer);
no redirect is followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from contracts import _declaration as decl

#: bytes of a receiver's answer read (its body is not used)
MAX_ANSWER = 64 * 1024


# ---------------------------------------------------------------------- where it may go


def _bare(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


def is_loopback(host: str) -> bool:
    """``localhost`` (and names under ``.localhost``), 127.0.0.0/8, ``::1``."""
    host = _bare(host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether the user allowed ``host``: a rule ``NAME`` (exactly) or ``.DOMAIN`` (it and
    every name under it), letter case and a final dot ignored."""
    host = _bare(host)
    for rule in allowed:
        rule = _bare(rule)
        if rule.startswith("."):
            if host == rule[1:] or host.endswith(rule):
                return True
        elif rule and host == rule:
            return True
    return False


def refusal(url: str, allowed: Iterable[str]) -> str | None:
    """Why the mock will not deliver to ``url`` (None: it will): only http(s), and only to
    loopback or to a host the user allows. The message names the host, never the URL (its
    query may hold a receiver's secret)."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        return "the callback URL's port is not a number"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the callback URL must be an http:// or https:// URL with a host"
    host = parts.hostname
    if is_loopback(host) or is_allowed(host, allowed):
        return None
    return (
        f"the mock delivers webhooks only to loopback (127.0.0.1, ::1, localhost) and to the "
        f"hosts it is told to allow, and {host} is neither: start it with "
        f"--webhook-allow-host {host} (or SORA_MOCK_WEBHOOK_ALLOW_HOST={host})"
    )


def shown_url(url: str) -> str:
    """The URL as the journal shows it: no user, password, query or fragment (a receiver's
    secret often rides in the query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


# ---------------------------------------------------------------------- the signature


def sign(signature: decl.Signature, secret: str, timestamp: int, body: str) -> str:
    """The signature header's value: ``signature.value`` holding the hex HMAC-SHA256 of the
    text ``signature.signed`` (the timestamp and the raw body) under ``secret``."""
    signed = decl.fill(signature.signed, {"timestamp": timestamp, "body": body, "signature": ""})
    digest = hmac.new(secret.encode(), str(signed).encode(), hashlib.sha256).hexdigest()
    return str(
        decl.fill(signature.value, {"timestamp": timestamp, "body": body, "signature": digest})
    )


# ---------------------------------------------------------------------- one attempt


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, allowed: Iterable[str]
) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url`` within ``timeout`` real seconds (connection and answer's
    status line and headers: a watchdog shuts the socket down at the deadline, so a receiver
    that drips bytes cannot hold it longer). A name the user did not allow must resolve to a
    loopback address. Returns (status, None) or (None, why there was no answer)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    deadline = time.monotonic() + timeout
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lookup = host
    if is_loopback(host) and not is_allowed(host, allowed) and not _is_ip(host):
        lookup = "127.0.0.1"  # a loopback name is never looked up (RFC 6761)
    try:
        infos = socket.getaddrinfo(lookup, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return None, f"{host} does not resolve ({exc.strerror or type(exc).__name__})"
    if not is_allowed(host, allowed):
        infos = [i for i in infos if ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback]
        if not infos:
            return None, f"{host} resolves to no loopback address"
    sock: socket.socket | None = None
    why = "no address to connect to"
    for family, kind, proto, _, address in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, f"timed out after {timeout:g} s"
        candidate = socket.socket(family, kind, proto)
        candidate.settimeout(remaining)
        try:
            candidate.connect(address)
        except OSError as exc:
            candidate.close()
            why = _why(exc, timeout)
            continue
        sock = candidate
        break
    if sock is None:
        return None, why
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shutdown, (sock,))
    watchdog.daemon = True
    watchdog.start()
    conn = http.client.HTTPConnection(host, port)
    try:
        if https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        conn.sock = sock
        conn.request("POST", target, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read(MAX_ANSWER)
        return answer.status, None
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            return None, f"timed out after {timeout:g} s"
        return None, _why(exc, timeout)
    finally:
        watchdog.cancel()
        conn.close()
        sock.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(_bare(host))
    except ValueError:
        return False
    return True


def _why(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or type(exc).__name__}"
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return f"no HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
