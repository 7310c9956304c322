"""What crosses the proxy besides bodies: hop-by-hop headers stopped both ways, the headers and
status line passed on, the credentials a request carries (for redaction), its raw target."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from werkzeug.wrappers import Request

from mockserver.conformance.redaction import is_secret_name
from mockserver.conformance.results import Drift

#: hop-by-hop headers (RFC 9110 7.6.1) and those the proxy recomputes
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        # the proxy's own server answers the client's 100-continue; httpx sends bodies whole
        "expect",
    }
)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    413: "Content Too Large",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def _status_line(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase or 'Unknown'}"


def _connection_named(items: Any) -> set[str]:
    """The headers a ``Connection`` header names: hop-by-hop too (RFC 9110 section 7.6.1)."""
    return {
        token.strip().lower()
        for name, value in items
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }


def _forward_headers(headers: Any) -> list[tuple[str, str]]:
    drop = _HOP | _connection_named(headers.items())
    kept = [(k, v) for k, v in headers.items() if k.lower() not in drop]
    return [*kept, ("Accept-Encoding", "identity")]


def _backward_headers(headers: httpx.Headers, keep_length: bool = False) -> list[tuple[str, str]]:
    """The upstream's headers minus the hop-by-hop ones; its Content-Encoding stays (the
    body is forwarded as sent), its Content-Length too when the body is (``keep_length``)."""
    drop = set(_HOP) | _connection_named(headers.multi_items())
    if keep_length:
        drop.discard("content-length")
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in drop]


def _credentials(headers: Any) -> list[str]:
    """The secrets a request carries (the key, with or without its scheme): never written."""
    found: list[str] = []
    for name, value in headers.items():
        if is_secret_name(name) and value:
            found.append(value)
            scheme, _, rest = value.partition(" ")
            if rest and scheme.lower() in ("bearer", "basic", "token"):
                found.append(rest.strip())
    return found


def _raw_target(request: Request) -> str:
    """The path and query as the client sent them (percent-encoding untouched)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return str(raw)
    path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def _has_response_problem(problems: list[Drift]) -> bool:
    return any(not p.where.startswith("request") for p in problems)


def _name(exc: BaseException) -> str:
    return type(exc).__name__
