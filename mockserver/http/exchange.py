"""One request as the mock notes it, whichever path serves it (Flask's or the poll lane's).

Every request gets an :class:`Exchange` when it starts: its request id, start time and what the
pipeline learns on the way (provider, operation, key fingerprint, scenario, the error
answered, the job named). :func:`finish` turns it into the ``x-request-id`` header, a journal
entry and a console line, in one place for both paths. The exchange lives in a context
variable, so code deep in a handler (an error response, a create) notes into it without any
framework's request globals.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from mockserver.http.console import RequestLog
    from mockserver.settings.config import MockConfig
    from mockserver.state.journal import JournalEntry as Entry
    from mockserver.state.metrics import Metrics


class MockService(Protocol):
    """What an exchange's end needs of the mock (``mockserver.state.service.MockService`` is one):
    its time, options and metrics, and where the journal entry goes."""

    @property
    def config(self) -> MockConfig: ...

    @property
    def metrics(self) -> Metrics | None: ...

    def now(self) -> float: ...

    def record(self, entry: Entry | None) -> None: ...


class _RequestIds:
    """Request ids unique across a server's workers without a system call per request
    (``secrets.token_hex`` read the kernel's random source on every answer): a random
    32-bit prefix per process, drawn again in a forked worker, then a counter. Request ids
    are no secret; they name an answer in the journal and in a provider's support ticket."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = "req_" + os.urandom(4).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4)))  # thread-safe next()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


new_request_id = _RequestIds()


@dataclass(slots=True)
class Exchange:
    started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=new_request_id)
    #: the provider prefix and contract operation the request was bound to (None: not bound)
    provider: str | None = None
    operation: str | None = None
    #: the fingerprint of the request's key (never the key)
    key: str | None = None
    scenario: str | None = None
    #: the error message answered, for a 4xx or 5xx
    error: str | None = None
    #: the job the request created or named
    job_id: str | None = None
    #: a read answered at one instant of the mock's clock (the poll lane's): the clock is
    #: read once, at ``now`` (see MockService.now)
    instant: bool = False
    now: float | None = None
    #: who says it sent the request (the ``X-Mock-Client`` header: ``dashboard`` for the
    #: dashboard's own requests), cleaned of anything but ``[A-Za-z0-9._-]``, at most 40 long
    client: str | None = None
    #: the credentials the request carried, literally: masked wherever the request's path,
    #: ids or error messages are written (never written themselves)
    secrets: tuple[str, ...] = field(default=(), repr=False)


R = TypeVar("R", bound=Response)

_current: ContextVar[Exchange | None] = ContextVar("sora_mock_exchange", default=None)
#: what the edge (guard.HostCheck) read of the request's sender before anything else ran:
#: (client, secrets), picked up by :func:`begin`
_caller: ContextVar[tuple[str | None, tuple[str, ...]]] = ContextVar(
    "sora_mock_caller", default=(None, ())
)
_CLIENT_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
#: header names whose values are credentials (the contracts use Authorization only; the
#: others are what a client may send by mistake)
_SECRET_HEADERS = (
    "HTTP_AUTHORIZATION",
    "HTTP_X_API_KEY",
    "HTTP_API_KEY",
    "HTTP_PROXY_AUTHORIZATION",
)


def caller_of(environ: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """The sender a WSGI request names: its ``X-Mock-Client`` (cleaned) and its credentials
    (each header's value whole, and without its scheme word: ``Bearer K`` gives both)."""
    raw = environ.get("HTTP_X_MOCK_CLIENT")
    client = _CLIENT_CHARS.sub("_", raw.strip())[:40] or None if raw else None
    secrets: list[str] = []
    for name in _SECRET_HEADERS:
        value = environ.get(name, "").strip()
        if value:
            secrets.append(value)
            scheme, _, credential = value.partition(" ")
            if credential.strip() and scheme.isalpha():
                secrets.append(credential.strip())
    return client, tuple(secrets)


def enter(environ: Mapping[str, Any]) -> Token[tuple[str | None, tuple[str, ...]]]:
    """Note the request's sender for the exchange about to begin (undone by :func:`leave`)."""
    return _caller.set(caller_of(environ))


def leave(token: Token[tuple[str | None, tuple[str, ...]]]) -> None:
    _caller.reset(token)


def begin() -> Exchange:
    """A new exchange for the request starting now, the current one from here on."""
    client, secrets = _caller.get()
    exchange = Exchange(client=client, secrets=secrets)
    _current.set(exchange)
    return exchange


def current() -> Exchange | None:
    return _current.get()


def end() -> Exchange:
    """The current exchange (a fresh one if the request never began), no longer current."""
    exchange = _current.get() or Exchange()
    _current.set(None)
    return exchange


def note_error(message: str) -> None:
    """Remember the error message answered, for the journal and the console."""
    exchange = _current.get()
    if exchange is not None:
        exchange.error = message


def _now(service: MockService) -> float:
    """The mock's time for a journal entry; the system's when the store holding the clock
    fails (the answer is a 503 then, and the entry waits for the store anyway)."""
    from mockserver.state.store_guard import StoreUnavailable

    try:
        return service.now()
    except StoreUnavailable:
        return time.time()


def finish(
    service: MockService,
    console: RequestLog | None,
    exchange: Exchange,
    method: str,
    path: str,
    response: R,
    path_values: Mapping[str, Any] | None = None,
    req: Any = None,
) -> R:
    """Stamp the response with its request id and record it: the journal (provider routes
    only) and the console line. ``path_values`` are the route's path parameters, the job a
    provider operation names when the handler noted none."""
    headers = response.headers
    # (Werkzeug's ``get`` of a header not there builds an HTTP exception to say so)
    request_id = next((v for k, v in headers.items() if k.lower() == "x-request-id"), None)
    if request_id is None:
        request_id = exchange.request_id
        headers.add("x-request-id", request_id)  # (not there: appended, as setting it would)
    config = service.config
    if not config.retry_after:
        # --no-retry-after: no provider document mentions the header
        headers.pop("Retry-After", None)
    prefix = path.strip("/").split("/", 1)[0]
    status = response.status_code
    seconds = time.perf_counter() - exchange.started
    latency_ms = round(seconds * 1000, 3)
    error = exchange.error if status >= 400 else None
    job_id = exchange.job_id
    if job_id is None and exchange.operation is not None and path_values:
        value = next(iter(path_values.values()))
        job_id = value if isinstance(value, str) else None
    provider = prefix if prefix in _prefixes() else None
    metrics = service.metrics
    if metrics is not None:  # bounded labels only: a prefix the mock serves, an operation id
        metrics.observe_request(provider, exchange.operation, status, exchange.scenario, seconds)
    # a key sent where it does not belong (in the path, as a job id or a scenario name, and so
    # in an error message) is masked before anything is written
    secrets = exchange.secrets + config.api_keys
    if not (_plain(path, secrets) and _plain(error, secrets) and _plain(job_id, secrets)):
        mask = masking(secrets)
        path, error, job_id = mask(path) or path, mask(error), mask(job_id)
    entry = None
    if provider is not None:
        entry = _journal_entry()(
            exchange.now if exchange.now is not None else _now(service),
            method,
            path,
            provider,
            exchange.operation,
            status,
            latency_ms,
            request_id,
            exchange.key,
            exchange.scenario,
            error=error,
            job_id=job_id,
            client=exchange.client,
        )
        if req is not None:
            entry.request = _captured(req, secrets)
    service.record(entry)
    if console is not None and console.wanted(method, path, status, exchange.client):
        from mockserver.http.console import RequestLine

        console.write(
            RequestLine(
                time=time.time(),
                method=method,
                path=path,
                provider=provider,
                status=status,
                latency_ms=latency_ms,
                scenario=exchange.scenario,
                error=error,
                job_id=job_id,
                client=exchange.client,
            )
        )
    return response


def _prefixes() -> Mapping[str, Any]:
    """The prefixes the mock serves (``providers.errors.PREFIX_ERRORS``: imported on first
    use, as this module is imported before the providers)."""
    global _PREFIXES
    if _PREFIXES is None:
        from mockserver.providers.errors import PREFIX_ERRORS

        _PREFIXES = PREFIX_ERRORS
    return _PREFIXES


_PREFIXES: Mapping[str, Any] | None = None


def _journal_entry() -> type[Entry]:
    global _ENTRY
    if _ENTRY is None:
        from mockserver.state.journal import JournalEntry

        _ENTRY = JournalEntry
    return _ENTRY


_ENTRY: type[Entry] | None = None


def _captured(req: Any, secrets: tuple[str, ...]) -> dict[str, Any] | None:
    """What the request carried (``mockserver.http.requests_log``); a capture that fails never
    fails the answer (the entry then has none)."""
    from mockserver.http.requests_log import capture

    try:
        return capture(req, secrets)
    except Exception:  # noqa: BLE001 - the answer and its journal entry go out regardless
        return None


def masking(secrets: tuple[str, ...]) -> Callable[[str | None], str | None]:
    """What ``finish`` passes every text it writes through: the conformance redaction (the
    literal ``secrets``, ``sk-...`` keys, ``Bearer`` credentials, JWTs, URL user-info,
    ``key=value`` pairs), skipped for a text with nothing it could mask (the poll lane's
    paths: a plain id has no character any pattern needs)."""
    redactors: list[Any] = []  # built on first use: most requests write only plain texts

    def mask(text: str | None) -> str | None:
        if _plain(text, secrets):
            return text
        if not redactors:
            from mockserver.conformance.redaction import Redactor

            redactors.append(Redactor(secrets))
        masked: str = redactors[0].text(text)
        return masked

    return mask


def _plain(text: str | None, secrets: tuple[str, ...]) -> bool:
    """Whether the redaction would leave ``text`` as it is: nothing, or only path
    characters with no ``sk-`` and no secret in it (in a plain text a secret's escaped forms,
    ``%XX`` or ``\\uXXXX``, cannot appear: only itself)."""
    return not text or bool(
        _PLAIN.fullmatch(text) and "sk-" not in text and not any(s in text for s in secrets)
    )


#: a text no pattern of the redaction matches: no ``sk-``, no space, ``=``, ``:``, ``@`` or
#: ``.`` (a JWT's), only path characters
_PLAIN = re.compile(r"[A-Za-z0-9/_~-]*")
