"""``sora-mock proxy``: a validating pass-through between an app and a provider.

A WSGI app, a pipeline of small steps per request (as mitmproxy's addons are):

    receive -> judge the request -> forward (credentials untouched) -> judge the answer
        -> transparent: forward it untouched, drift in ``X-Contract-Violations``
           strict: a 502 in the provider's error shape naming the violation
        -> console line + journal entry (redacted) -> recorder (``--record DIR``)

Event streams are forwarded block by block as they arrive, each event checked against the
contract before it goes out; files (videos) are forwarded chunk by chunk and never held
whole. The response is begun only once the first block has been judged, so strict mode can
still answer 502 for a bad first event. Timeouts, connection errors and 5xx answers that are
not in the provider's error shape reach the client in that shape, with a message saying what
happened. Requests are sent with ``Accept-Encoding: identity``; an answer encoded anyway is
forwarded as sent and judged decoded.

Every input is bounded (contracts/README.md, "The proxy, cassettes and replay: choices"): the
request body (``max_body``, streamed upstream), a document judged (``max_document``, decoded
layer by layer a chunk at a time; past it transparent mode passes the answer through
unjudged), an SSE block held (``max_event``), the time an answer is held back (``timeout``, a
:class:`Deadline` that shuts the upstream socket), a client that leaves (the upstream is let
go). Hop-by-hop headers stop here both ways; a path never leaves the upstream's prefix.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TextIO
from urllib.parse import unquote

import httpx
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request

from contracts import OpenAPIRequest
from mockserver.conformance import providers
from mockserver.conformance.bounds import (
    Answer,
    BodyRefused,
    ClientGone,
    Deadline,
    Watchdog,
    contained_target,
    read_body,
    socket_of,
    then,
)
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.proxy_answers import ProxyAnswers
from mockserver.conformance.proxy_config import MODES, ProxyConfig
from mockserver.conformance.proxy_headers import (
    _credentials,
    _forward_headers,
    _name,
    _raw_target,
)
from mockserver.conformance.recorder import Observed, Recorder
from mockserver.conformance.redaction import Redactor
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import (
    is_file,
    is_stream,
    request_drift,
)

log = logging.getLogger("mockserver.proxy")


class ContractProxy(ProxyAnswers):
    """The proxy as a WSGI app (serve it with a threaded server, e.g. :func:`make_server`)."""

    def __init__(
        self,
        config: ProxyConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        out: TextIO | None = None,
    ) -> None:
        if config.mode not in MODES:
            raise ValueError(f"unknown mode {config.mode!r}: use one of {', '.join(MODES)}")
        self.config = config
        self.contract = providers.contract_of(config.provider)
        self.map = ContractMap(self.contract)
        self.upstream = (config.upstream or providers.live_base_url(config.provider)).rstrip("/")
        self.error_body = providers.error_body(self.contract.name)
        self.clock = clock
        self.out = out if out is not None else sys.stderr
        self.journal: deque[dict[str, Any]] = deque(maxlen=config.journal_size)
        self._watchdog = Watchdog()
        self._journal_lock = threading.Lock()
        self._ids = itertools.count(1)
        timeout = httpx.Timeout(config.timeout)
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self.recorder: Recorder | None = None
        if config.record_dir is not None:
            self.recorder = Recorder(
                config.record_dir,
                config.provider,
                self.contract,
                self.upstream,
                media_cap=config.media_cap,
                fetch_media=config.record_media_urls,
            )

    def close(self) -> None:
        self.client.close()
        self._watchdog.close()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self._guarded(Request(environ), start_response)

    def _guarded(self, request: Request, start_response: Callable[..., Any]) -> Iterator[bytes]:
        """A bug in the proxy answers 502 in the provider's shape, never a traceback page."""
        started: list[bool] = []

        def start(*args: Any) -> Any:
            started.append(True)
            return start_response(*args)

        try:
            yield from self._handle(request, start)
        except Exception as exc:
            log.exception("sora-mock proxy failed on %s %s", request.method, request.path)
            if started:
                raise  # the answer had begun: the server cuts the connection
            message = f"sora-mock proxy: internal error ({type(exc).__name__})"
            yield from self._send_json(
                start_response, 502, self._error(502, message, "proxy_error")
            )

    def _handle(self, request: Request, start_response: Callable[..., Any]) -> Iterator[bytes]:
        """A generator: nothing is sent before the first block of the answer has been judged."""
        if request.path.rstrip("/") == "/__proxy/journal":
            yield from self._send_json(start_response, 200, {"entries": list(self.journal)})
            return
        environ = request.environ
        secrets = _credentials(request.headers)
        target = contained_target(_raw_target(request))
        if target is None:
            seen = self._observed(request, request.path, secrets)
            yield from self._turn_away(
                start_response,
                seen,
                400,
                "the request path climbs out of the upstream's base path (a `..` segment, "
                "perhaps percent-encoded): not forwarded",
                "invalid_path",
            )
            return
        path = unquote(target.partition("?")[0])
        seen = self._observed(request, path, secrets)
        limit = self.config.max_body
        declared = request.content_length
        if declared is not None and declared > limit:
            yield from self._turn_away(
                start_response,
                seen,
                413,
                f"the request body ({declared} bytes) is larger than the proxy's limit of "
                f"{limit} bytes: not read, not forwarded",
                "request_too_large",
            )
            return
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        has_body = chunked or bool(declared)
        held: list[bytes] = []  # the body as read, at most `limit` bytes: judged and recorded
        query = list(request.args.items(multi=True))
        oa_request: OpenAPIRequest | None = None
        strict = self.config.mode == "strict"
        if strict and has_body:
            # strict judges the request before a byte goes upstream: read it (bounded) first
            try:
                for _ in read_body(environ, declared, limit, held):
                    pass
            except BodyRefused as exc:
                yield from self._turn_away(start_response, seen, exc.status, exc.message, exc.code)
                return
        if strict or not has_body:
            oa_request = self._judge_request(seen, request, path, query, b"".join(held))
            if strict and seen.problems:
                yield from self._refuse(start_response, seen, 400, "not forwarded")
                return

        deadline = Deadline(self._watchdog, self.config.timeout)
        headers = _forward_headers(request.headers)
        content: Iterator[bytes] | None = None
        if has_body:
            body = iter(held) if strict else read_body(environ, declared, limit, held)
            # the answer's deadline starts once the body is upstream
            content = then(body, deadline.arm)
            length = sum(map(len, held)) if strict else declared
            if length is not None and not (chunked and not strict):
                headers.append(("Content-Length", str(length)))
        forwarded = self.client.build_request(
            request.method, self.upstream + target, headers=headers, content=content
        )
        forwarded.extensions["trace"] = deadline.trace
        if content is None:
            deadline.arm()
        try:
            try:
                upstream = self.client.send(forwarded, stream=True)
            except BodyRefused as exc:
                yield from self._turn_away(start_response, seen, exc.status, exc.message, exc.code)
                return
            except httpx.TimeoutException as exc:
                yield from self._failed(start_response, seen, 504, f"timed out ({_name(exc)})")
                return
            except httpx.HTTPError as exc:
                if deadline.expired:
                    yield from self._failed(start_response, seen, 504, self._late(0))
                    return
                yield from self._failed(
                    start_response, seen, 502, f"could not be reached ({_name(exc)})"
                )
                return
            if oa_request is None:  # transparent: the body went up as it came; judge it now
                oa_request = self._judge_request(seen, request, path, query, b"".join(held))
            deadline.watch(socket_of(upstream))
            answer = Answer(environ, start_response)
            try:
                seen.status = upstream.status_code
                seen.response_headers = Headers(list(upstream.headers.multi_items()))
                ctype = seen.content_type
                if is_stream(ctype):
                    yield from self._stream(answer, seen, oa_request, upstream, deadline)
                elif is_file(ctype) and 200 <= upstream.status_code < 300:
                    yield from self._file(answer, seen, oa_request, upstream, deadline)
                else:
                    yield from self._document(answer, seen, oa_request, upstream, deadline)
            except (httpx.HTTPError, ClientGone) as exc:
                received = upstream.num_bytes_downloaded
                if isinstance(exc, ClientGone):
                    seen.error = "the client went away before the answer was complete"
                elif deadline.expired:
                    seen.error = self._late(received)
                elif isinstance(exc, httpx.TimeoutException):
                    seen.error = f"upstream read timed out mid-answer ({_name(exc)})"
                else:
                    seen.error = f"upstream connection broke mid-answer ({_name(exc)})"
                if answer.started or isinstance(exc, ClientGone):
                    # the client must not take a cut answer for a whole one: no clean ending
                    self._finish(seen)
                    yield from self._cut_short(answer, seen)
                    return
                status = 504 if deadline.expired or isinstance(exc, httpx.TimeoutException) else 502
                message = f"sora-mock proxy: the upstream {self.upstream} {seen.error}"
                self._finish(seen, answered=status)
                code = "upstream_timeout" if status == 504 else "upstream_unreachable"
                yield from self._send_json(
                    start_response, status, self._error(status, message, code)
                )
            except GeneratorExit:  # the server closed the answer: the client went away
                seen.error = seen.error or "the client went away before the answer was complete"
                self._finish(seen)
                raise
            finally:
                deadline.release()  # before the connection can go back to the pool
                upstream.close()
        finally:
            deadline.release()

    def _observed(self, request: Request, path: str, secrets: list[str]) -> Observed:
        return Observed(
            operation=self.contract.find_operation(request.method, path),
            method=request.method,
            path=path,
            query=list(request.args.items(multi=True)),
            request_headers=Headers(list(request.headers.items())),
            request_body=b"",
            started=self.clock(),
            secrets=secrets,
        )

    def _judge_request(
        self,
        seen: Observed,
        request: Request,
        path: str,
        query: list[tuple[str, str]],
        body: bytes,
    ) -> OpenAPIRequest:
        seen.request_body = body
        oa_request = OpenAPIRequest.build(
            request.method,
            path,
            query=query,
            headers=list(request.headers.items()),
            body=body or None,
        )
        if seen.operation is None:
            seen.problems.append(
                Drift("request", f"no operation of {self.contract.name} is {request.method} {path}")
            )
        else:
            seen.problems += request_drift(
                self.contract, oa_request, seen.operation, dict(request.args.items())
            )
        return oa_request

    def _late(self, received: int) -> str:
        return (
            f"did not finish its answer within --timeout {self.config.timeout:g} s "
            f"({received} bytes received)"
        )

    # ------------------------------------------------------------------ journal, console

    def _finish(self, seen: Observed, answered: int | None = None) -> None:
        if getattr(seen, "_journaled", False):
            return  # an answer cut after it was journaled: already said
        setattr(seen, "_journaled", True)  # noqa: B010 - Observed belongs to the recorder
        redact = Redactor(seen.secrets)
        entry = {
            "id": next(self._ids),
            "time": seen.started,
            "method": seen.method,
            "path": redact(seen.path),
            "operation": seen.operation.operation_id if seen.operation else None,
            "upstream_status": seen.status,
            "status": answered if answered is not None else seen.status,
            "mode": self.config.mode,
            "violations": [{"where": p.where, "message": redact(p.message)} for p in seen.problems],
            "error": redact(seen.error) if seen.error else None,
        }
        with self._journal_lock:
            self.journal.append(entry)
        verdict = (
            f"ERROR {entry['error']}"
            if seen.error
            else f"DRIFT: {len(seen.problems)} "
            + ("difference" if len(seen.problems) == 1 else "differences")
            + " from the contract"
            if seen.problems
            else "no drift"
        )
        shown = entry["status"] if entry["status"] is not None else "-"
        lines = [
            f"[proxy {self.config.provider}] {seen.method} {entry['path']} -> {shown} {verdict}"
        ]
        lines += [f"    {p['where']}: {p['message']}" for p in entry["violations"]]
        print(redact("\n".join(lines)), file=self.out, flush=True)
        if self.recorder is not None and seen.status is not None:
            try:
                self.recorder.record(seen)
            except OSError as exc:  # a full disk must not break the client's call
                log.error("could not record %s %s: %s", seen.method, entry["path"], exc)


# ------------------------------------------------------------------ helpers


def make_server(app: ContractProxy, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A threaded server that writes each block of a generator answer as soon as it is
    yielded (Werkzeug's: chunked transfer when no Content-Length)."""
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class Handler(WSGIRequestHandler):
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and each answer waits ~40 ms
        disable_nagle_algorithm = True
        _names: set[str] | None = None

        # one Server and one Date per answer: the upstream's when it sent them (the proxy
        # forwards its answer), the server's own on the proxy's own answers
        def send_response(self, code: int, message: str | None = None) -> None:
            self.log_request(code)
            self.send_response_only(code, message)
            self._names = set()

        def send_header(self, keyword: str, value: str) -> None:
            if self._names is not None:
                self._names.add(keyword.lower())
            super().send_header(keyword, value)

        def end_headers(self) -> None:
            names, self._names = self._names, None
            if names is not None:
                if "server" not in names:
                    super().send_header("Server", self.version_string())
                if "date" not in names:
                    super().send_header("Date", self.date_time_string())
            super().end_headers()

    return werkzeug_server(host, port, app, threaded=True, request_handler=Handler)
