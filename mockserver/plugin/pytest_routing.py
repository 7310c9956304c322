"""How the pytest fixtures route a provider's real host to the in-process mock (a part of the
``mockserver.testing`` plugin): the providers' hosts and prefixes (the fixed ones and every
declared provider's), a respx side effect answering ``https://api.gpt.ge/...`` from the mock,
the same for ``httpx2`` clients, and a bound on the request lines HTTP clients log about the
mock. Imports only pytest and the standard library at load time (the plugin's import stays
light)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    import httpx


class SoraMock(Protocol):
    """What routing needs of ``mockserver.testing.SoraMock``: its in-process base URL and a
    transport into its app."""

    host: str

    def transport(self) -> httpx.WSGITransport: ...


#: what installs the plugin's own needs (respx)
EXTRA = "sora-mock[pytest]"

#: the providers' real hosts -> the mock prefix that stands in for each (the fixed ones; with
#: the declared providers': ``PROVIDER_HOSTS``, below)
_HOSTS = {"gptproto.com": "gptproto"}
_PREFIXES = {"gptproto": "gptproto"}
_LOOKUPS: dict[str, dict[str, str]] = {}


def lookups() -> dict[str, dict[str, str]]:
    """``PROVIDER_HOSTS`` and ``PROVIDER_PREFIXES``: ``contracts.Mirrored`` dicts, the fixed
    entries above plus every declared provider's (its hosts, its prefix), up to date when a
    provider is added or forgotten; made when first needed (the plugin's import stays light:
    reading the contracts imports the validators)."""
    if not _LOOKUPS:
        from contracts._declaration import Mirrored

        hosts = Mirrored(_HOSTS, lambda d: [(host, d.prefix) for host in d.hosts])
        _LOOKUPS["PROVIDER_HOSTS"] = hosts
        _LOOKUPS["PROVIDER_PREFIXES"] = Mirrored(_PREFIXES, lambda d: [(d.prefix, d.prefix)])
    return _LOOKUPS


def _hosts() -> dict[str, str]:
    return lookups()["PROVIDER_HOSTS"]


def route_to_mock(mock: SoraMock, request: httpx.Request) -> httpx.Response:
    """Answer a request for a provider's real host from the in-process mock (a respx side
    effect): ``https://api.gpt.ge/v1/videos`` is served as ``/gptge/v1/videos``."""
    import httpx

    prefix = _hosts()[request.url.host]
    url = httpx.URL(f"{mock.host}/{prefix}{request.url.raw_path.decode('ascii')}")
    body = request.read()
    forwarded = httpx.Request(request.method, url, headers=request.headers, content=body)
    response = mock.transport().handle_request(forwarded)
    response.read()
    return httpx.Response(
        response.status_code, headers=response.headers, content=response.content, request=request
    )


def _respx() -> Any:
    """respx, or a short failure naming the extra that installs it."""
    try:
        import respx
    except ImportError:
        pass
    else:
        return respx
    pytest.fail(  # outside the except: no "during handling" chain in the report
        f"the sora_respx fixture needs respx: pip install '{EXTRA}' (or pip install respx)",
        pytrace=False,
    )


@contextmanager
def _httpx2_routed(mock: SoraMock) -> Iterator[None]:
    """Within the block, requests an ``httpx2`` client (the ``openai`` package from 3.0 on)
    sends to a provider's real host are answered by the mock too, as respx answers httpx's;
    requests for any other host go on as before. Nothing happens without httpx2."""
    import importlib.util

    if importlib.util.find_spec("httpx2") is None:
        yield
        return
    import httpx
    import httpx2

    def answer(request: httpx2.Request, body: bytes) -> httpx2.Response:
        forwarded = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=body
        )
        response = route_to_mock(mock, forwarded)
        return httpx2.Response(
            response.status_code,
            headers=response.headers.raw,
            content=response.content,
            request=request,
        )

    sync, asynchronous = httpx2.HTTPTransport, httpx2.AsyncHTTPTransport
    handle, handle_async = sync.handle_request, asynchronous.handle_async_request

    def handle_request(transport: httpx2.HTTPTransport, request: httpx2.Request) -> Any:
        if request.url.host not in _hosts():
            return handle(transport, request)
        return answer(request, request.read())

    async def handle_async_request(
        transport: httpx2.AsyncHTTPTransport, request: httpx2.Request
    ) -> Any:
        if request.url.host not in _hosts():
            return await handle_async(transport, request)
        return answer(request, await request.aread())

    sync.handle_request = handle_request  # type: ignore[method-assign,assignment]
    asynchronous.handle_async_request = handle_async_request  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        sync.handle_request = handle  # type: ignore[method-assign]
        asynchronous.handle_async_request = handle_async  # type: ignore[method-assign]


#: request lines an HTTP client logs about the mock in one test before the rest are left out
LOGGED_REQUESTS = 10


@contextmanager
def _client_logs_bounded(hosts: Iterable[str]) -> Iterator[None]:
    """Within the block, httpx and httpx2 log at most ``LOGGED_REQUESTS`` "HTTP Request" lines
    about requests to ``hosts`` (at INFO, shown by ``--log-level=INFO``): a polling loop that
    fails after thousands of polls reports its error, not a line per poll."""
    import logging

    names = tuple(hosts)
    seen = 0

    def keep(record: logging.LogRecord) -> bool:
        nonlocal seen
        if not str(record.msg).startswith("HTTP Request:") or not isinstance(record.args, tuple):
            return True
        url = str(record.args[1]) if len(record.args) > 1 else ""
        if not any(f"//{host}" in url for host in names):
            return True
        seen += 1
        if seen == LOGGED_REQUESTS + 1:
            record.msg = "HTTP Request: ... (further requests to the mock are not logged: see %s)"
            record.args = ("the fixture's .journal",)
        return seen <= LOGGED_REQUESTS + 1

    loggers = [logging.getLogger(name) for name in ("httpx", "httpx2")]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)
