"""Which URLs are the mock's own, and which ``Host`` names the mock answers to at all.

:class:`OwnHosts`: which URLs are the mock's own, under any loopback name, and under the Host
it was reached by.

A reference image uploaded through ``http://localhost:8000`` must be found when a job is sent
to ``http://127.0.0.1:8000``: the mock recognises its own URLs whatever name reached it
(``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``, ``::``, the bind address, this machine's
host name) on the port it serves, and the exact ``Host`` of the current request.

:class:`HostPolicy`: the names a request's ``Host`` may carry. A page on another site that
makes its own name resolve to 127.0.0.1 (DNS rebinding) would otherwise be same-origin with
the mock and read and change everything in it. Allowed without being named (as Vite and
webpack-dev-server allow them): any IP address literal (a rebinding page always carries the
attacker's *name*), ``localhost`` and ``*.localhost``, this machine's host name, the address
the mock listens on, the live hosts of the providers it imitates (``api.gpt.ge``: a client
whose provider name points at the mock), and names under the special-use top-level domains
no public DNS answers (``.test``, ``.example``, ``.invalid``: RFC 6761, RFC 2606), which no
page on the web can have as its origin. Anything else must be named with ``--allowed-host``
(``NAME``, ``.DOMAIN`` for the domain and every name under it, or ``*`` for any Host at all).
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


#: top-level domains reserved from the public DNS (RFC 2606, RFC 6761): no web page has them
_RESERVED_TLDS = ("localhost", "test", "example", "invalid")


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value, lower case, without port, brackets or the
    final dot (``"[::1]:8000"`` -> ``"::1"``; ``"Mock.Test.:80"`` -> ``"mock.test"``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def provider_hosts(specs: list[dict[str, object]]) -> tuple[str, ...]:
    """The live hosts of the providers the contracts describe (``x-provider-base-url``)."""
    hosts = []
    for spec in specs:
        info = spec.get("info")
        url = info.get("x-provider-base-url") if isinstance(info, dict) else None
        if isinstance(url, str) and urlsplit(url).hostname:
            hosts.append(str(urlsplit(url).hostname))
    return tuple(dict.fromkeys(hosts))


class HostPolicy:
    """Which ``Host`` names the mock answers (see the module's docstring): ``name in policy``.

    ``allowed`` are the ``--allowed-host`` values: a name, ``.domain`` (the domain and every
    name under it) or ``*`` (every Host). ``providers`` are the live hosts of the providers
    the mock stands in for (``api.gpt.ge``): a client whose provider name is pointed at the
    mock (``/etc/hosts``, a respx route) reaches it under that name, and no attacker's page
    can have a provider's name as its origin."""

    def __init__(
        self,
        bind_host: str | None = None,
        allowed: tuple[str, ...] = (),
        providers: tuple[str, ...] = (),
    ) -> None:
        self.any = "*" in allowed
        names = {host_name(a) for a in allowed if a and a != "*" and not a.startswith(".")}
        names |= {host_name(p) for p in providers if p}
        self.suffixes = tuple(
            a.lower().rstrip(".") for a in allowed if a.startswith(".") and len(a) > 1
        )
        if bind_host:
            names.add(host_name(bind_host))
        self.names = frozenset(names)
        #: the answers for the Hosts seen (a server sees a handful; bounded all the same)
        self._seen: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        """Whether a request whose ``Host`` header is ``host`` is the mock's to answer."""
        if self.any:
            return True
        if not isinstance(host, str):
            return False
        known = self._seen.get(host)
        if known is None:
            if len(self._seen) >= 1024:
                self._seen.clear()
            known = self._seen[host] = self._allows(host)
        return known

    def _allows(self, host: str) -> bool:
        name = host_name(host)
        if not name:
            return False
        try:
            ipaddress.ip_address(name)
            return True  # an address literal: never what a rebinding page carries
        except ValueError:
            pass
        if name in self.names or name.rsplit(".", 1)[-1] in _RESERVED_TLDS:
            return True
        if any(name == s[1:] or name.endswith(s) for s in self.suffixes):
            return True
        # last: the first look-up of the machine's names may ask the resolver (getfqdn)
        return name in _machine_names()
