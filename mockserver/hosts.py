"""Which URLs are the mock's own: under any loopback name, and under the Host it was reached by.

A reference image uploaded through ``http://localhost:8000`` must be found when a job is sent
to ``http://127.0.0.1:8000``: the mock recognises its own URLs whatever name reached it
(``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``, ``::``, the bind address, this machine's
host name) on the port it serves, and the exact ``Host`` of the current request.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Request


@lru_cache(maxsize=1)
def _machine_names() -> frozenset[str]:
    names = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
    try:
        names.add(socket.gethostname().lower())
        names.add(socket.getfqdn().lower())
    except OSError:
        pass
    return frozenset(names)


def _is_local_name(host: str, bind_host: str | None) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host in _machine_names() or (bind_host and host == bind_host.strip("[]").lower()):
        return True
    if host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _split(netloc: str, scheme: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        return parts.hostname or "", parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return "", None


class OwnHosts:
    """A container of the ``host[:port]`` forms that name this mock (``netloc in own``)."""

    def __init__(self, request: Request, bind_host: str | None = None) -> None:
        self.scheme = request.scheme
        self.request_host = request.host.lower()
        _, host_port = _split(request.host, self.scheme)
        self.ports = {host_port}
        server_port = request.environ.get("SERVER_PORT")
        if server_port and str(server_port).isdigit():
            self.ports.add(int(server_port))
        self.bind_host = bind_host

    def __contains__(self, netloc: object) -> bool:
        if not isinstance(netloc, str):
            return False
        if netloc.lower() == self.request_host:
            return True
        host, port = _split(netloc, self.scheme)
        return port in self.ports and _is_local_name(host, self.bind_host)
