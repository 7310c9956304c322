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
happened. Requests are sent with ``Accept-Encoding: identity`` so the bytes judged are the
bytes forwarded.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request

from contracts import OpenAPIRequest
from mockserver.conformance import providers
from mockserver.conformance.cassettes import DEFAULT_MEDIA_CAP
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.recorder import Observed, Recorder
from mockserver.conformance.redaction import Redactor, is_secret_name
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import (
    StreamCheck,
    file_drift,
    is_file,
    is_stream,
    json_document,
    request_drift,
    response_drift,
)

log = logging.getLogger("mockserver.proxy")

VIOLATIONS_HEADER = "X-Contract-Violations"
MODES = ("transparent", "strict")
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
#: a JSON or text answer is read whole up to this size (files and streams never are)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class ProxyConfig:
    provider: str
    #: default: the contract's ``x-provider-base-url``
    upstream: str | None = None
    mode: str = "transparent"
    #: seconds to connect, and between two reads of the upstream's answer
    timeout: float = 60.0
    record_dir: Path | None = None
    media_cap: int = DEFAULT_MEDIA_CAP
    journal_size: int = 1000
    #: fetch the media URLs a finished job names (CDN links) into the cassette
    record_media_urls: bool = True


class ContractProxy:
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
        body = request.get_data(cache=True)
        query = list(request.args.items(multi=True))
        secrets = _credentials(request.headers)
        seen = Observed(
            operation=self.contract.find_operation(request.method, request.path),
            method=request.method,
            path=request.path,
            query=query,
            request_headers=Headers(list(request.headers.items())),
            request_body=body,
            started=self.clock(),
            secrets=secrets,
        )
        oa_request = OpenAPIRequest.build(
            request.method,
            request.path,
            query=query,
            headers=list(request.headers.items()),
            body=body or None,
        )
        if seen.operation is None:
            seen.problems.append(
                Drift(
                    "request",
                    f"no operation of {self.contract.name} is {request.method} {request.path}",
                )
            )
        else:
            seen.problems += request_drift(
                self.contract, oa_request, seen.operation, dict(request.args.items())
            )
        if self.config.mode == "strict" and seen.problems:
            yield from self._refuse(start_response, seen, 400, "not forwarded")
            return

        forwarded = self.client.build_request(
            request.method,
            self.upstream + _raw_target(request),
            headers=_forward_headers(request.headers),
            content=body,
        )
        try:
            upstream = self.client.send(forwarded, stream=True)
        except httpx.TimeoutException as exc:
            yield from self._failed(start_response, seen, 504, f"timed out ({_name(exc)})")
            return
        except httpx.HTTPError as exc:
            yield from self._failed(
                start_response, seen, 502, f"could not be reached ({_name(exc)})"
            )
            return
        try:
            seen.status = upstream.status_code
            seen.response_headers = Headers(list(upstream.headers.multi_items()))
            ctype = seen.content_type
            if is_stream(ctype):
                yield from self._stream(start_response, seen, oa_request, upstream)
            elif is_file(ctype) and 200 <= upstream.status_code < 300:
                yield from self._file(start_response, seen, oa_request, upstream)
            else:
                yield from self._document(start_response, seen, oa_request, upstream)
        except httpx.TimeoutException as exc:
            # the answer had begun: the client sees a cut stream; say so everywhere else
            seen.error = f"upstream read timed out mid-answer ({_name(exc)})"
            self._finish(seen)
        except httpx.HTTPError as exc:
            seen.error = f"upstream connection broke mid-answer ({_name(exc)})"
            self._finish(seen)
        finally:
            upstream.close()

    # ------------------------------------------------------------------ answers

    def _document(
        self,
        start_response: Callable[..., Any],
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
    ) -> Iterator[bytes]:
        data = b""
        for chunk in upstream.iter_bytes():
            data += chunk
            if len(data) > MAX_DOCUMENT_BYTES:
                seen.problems.append(Drift("body", f"larger than {MAX_DOCUMENT_BYTES} bytes"))
                break
        seen.document = json_document(data, seen.content_type)
        if seen.document is None and data:
            seen.text = data.decode("utf-8", "replace")[:4000]
        seen.problems += response_drift(
            self.contract,
            oa_request,
            upstream.status_code,
            seen.response_headers,
            data,
            seen.document,
        )
        status = upstream.status_code
        if status >= 500 and _has_response_problem(seen.problems):
            # an upstream failure page (a CDN's HTML 502...): the client gets the provider's
            # shape, keeping the status, with what happened
            excerpt = (seen.text or "").strip().replace("\n", " ")[:160]
            message = (
                f"sora-mock proxy: the upstream answered {status} with a body that is not the "
                f"provider's error shape ({seen.content_type or 'no Content-Type'})"
                + (f": {excerpt}" if excerpt else "")
            )
            self._finish(seen)
            yield from self._send_json(
                start_response,
                status,
                self._error(status, message, "upstream_error"),
                self._violation_header(seen.problems),
            )
            return
        if self.config.mode == "strict" and seen.problems:
            yield from self._refuse(start_response, seen, 502, "the upstream answer")
            return
        headers = _backward_headers(upstream.headers)
        headers.append(("Content-Length", str(len(data))))
        headers.append(self._violation_header(seen.problems))
        self._finish(seen)
        start_response(_status_line(upstream), headers)
        yield data

    def _file(
        self,
        start_response: Callable[..., Any],
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
    ) -> Iterator[bytes]:
        chunks = upstream.iter_bytes(CHUNK)
        first = next(chunks, b"")
        seen.problems += response_drift(
            self.contract, oa_request, upstream.status_code, seen.response_headers, None
        )
        seen.problems += file_drift(seen.content_type, upstream.status_code, first[:16])
        if self.config.mode == "strict" and seen.problems:
            yield from self._refuse(start_response, seen, 502, "the upstream answer")
            return
        sink = self.recorder.media_sink(seen.content_type) if self.recorder else None
        headers = _backward_headers(upstream.headers, keep_length=True)
        headers.append(self._violation_header(seen.problems))
        start_response(_status_line(upstream), headers)
        # the chunk that completes the declared length goes out only once the cassette is
        # written, so a client that has the whole file also finds it recorded
        expected = int(upstream.headers.get("Content-Length") or -1)
        sent = 0
        recorded = False
        for chunk in itertools.chain([first], chunks):
            if sink is not None:
                sink.write(chunk)
            sent += len(chunk)
            if not recorded and expected >= 0 and sent >= expected:
                recorded = True
                self._end_file(seen, sink)
            yield chunk
        if not recorded:
            self._end_file(seen, sink)

    def _end_file(self, seen: Observed, sink: Any) -> None:
        if sink is not None:
            seen.media, seen.media_note = sink.finish()
        self._finish(seen)

    def _stream(
        self,
        start_response: Callable[..., Any],
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
    ) -> Iterator[bytes]:
        op = seen.operation
        media = self.map.media(op, upstream.status_code, seen.content_type) if op else {}
        seen.problems += response_drift(
            self.contract, oa_request, upstream.status_code, seen.response_headers, None
        )
        check = StreamCheck(self.contract, media)
        strict = self.config.mode == "strict"
        started = False
        pending: list[bytes] = []  # comments before the first event, sent with it
        for chunk in upstream.iter_bytes():
            for raw, event, problems in check.feed(chunk):
                seen.problems += problems
                if event is not None:
                    seen.events.append((self.clock(), raw.decode("utf-8", "replace")))
                if not started:
                    if strict and seen.problems:
                        yield from self._refuse(start_response, seen, 502, "the upstream stream")
                        return
                    if event is None:
                        pending.append(raw)  # a comment: the first event judges the answer
                        continue
                    started = True
                    headers = _backward_headers(upstream.headers)
                    headers.append(self._violation_header(seen.problems))
                    start_response(_status_line(upstream), headers)
                    yield b"".join(pending)
                    pending = []
                elif strict and problems:
                    # the status line is gone: end the stream with the provider's error
                    # shape as an event (the openai package raises on such an event)
                    yield self._error_event(problems[0], len(seen.problems))
                    self._finish(seen)
                    return
                yield raw
        rest = check.rest()
        seen.problems += check.finish()
        if not started:
            headers = _backward_headers(upstream.headers)
            headers.append(self._violation_header(seen.problems))
            start_response(_status_line(upstream), headers)
        # recorded before the stream's last bytes: the chunked ending follows this generator
        self._finish(seen)
        if pending or rest:
            yield b"".join(pending) + rest

    # ------------------------------------------------------------------ refusals

    def _error(self, status: int, message: str, code: str) -> dict[str, Any]:
        return self.error_body(status, message, code=code)

    def _refuse(
        self, start_response: Callable[..., Any], seen: Observed, status: int, what: str
    ) -> Iterator[bytes]:
        first = seen.problems[0]
        redact = Redactor(seen.secrets)
        where = "the request" if status == 400 else what
        message = redact(
            f"sora-mock proxy (strict): {where} breaks the {self.contract.name} contract: "
            f"{first.where}: {first.message}"
            + (f" (and {len(seen.problems) - 1} more)" if len(seen.problems) > 1 else "")
        )
        if status == 400:
            message += " (not forwarded)"
        self._finish(seen, answered=status)
        yield from self._send_json(
            start_response,
            status,
            self._error(status, message, "contract_violation"),
            self._violation_header(seen.problems),
        )

    def _failed(
        self, start_response: Callable[..., Any], seen: Observed, status: int, what: str
    ) -> Iterator[bytes]:
        message = f"sora-mock proxy: the upstream {self.upstream} {what}"
        seen.error = message
        self._finish(seen, answered=status)
        code = "upstream_timeout" if status == 504 else "upstream_unreachable"
        yield from self._send_json(start_response, status, self._error(status, message, code))

    def _error_event(self, problem: Drift, count: int) -> bytes:
        message = (
            f"sora-mock proxy (strict): the upstream stream breaks the {self.contract.name} "
            f"contract: {problem.where}: {problem.message}"
        )
        return f"data: {json.dumps(self._error(502, message, 'contract_violation'))}\n\n".encode()

    def _send_json(
        self,
        start_response: Callable[..., Any],
        status: int,
        body: Any,
        *extra: tuple[str, str],
    ) -> Iterator[bytes]:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            *extra,
        ]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        yield data

    def _violation_header(self, problems: list[Drift]) -> tuple[str, str]:
        if not problems:
            return VIOLATIONS_HEADER, "0"
        first = problems[0]
        text = Redactor()(f"{len(problems)}; {first.where}: {first.message}")
        text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
        return VIOLATIONS_HEADER, text[:300]

    # ------------------------------------------------------------------ journal, console

    def _finish(self, seen: Observed, answered: int | None = None) -> None:
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
            else f"DRIFT ({len(seen.problems)})"
            if seen.problems
            else "ok"
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

_REASONS = {400: "Bad Request", 502: "Bad Gateway", 504: "Gateway Timeout", 200: "OK"}


def _status_line(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase or 'Unknown'}"


def _forward_headers(headers: Any) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in headers.items() if k.lower() not in _HOP]
    return [*kept, ("Accept-Encoding", "identity")]


def _backward_headers(headers: httpx.Headers, keep_length: bool = False) -> list[tuple[str, str]]:
    encoded = "content-encoding" in headers
    drop = set(_HOP) | {"content-encoding"}
    if keep_length and not encoded:
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


def make_server(app: ContractProxy, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A threaded server that writes each block of a generator answer as soon as it is
    yielded (Werkzeug's: chunked transfer when no Content-Length)."""
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class Handler(WSGIRequestHandler):
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and each answer waits ~40 ms
        disable_nagle_algorithm = True

    return werkzeug_server(host, port, app, threaded=True, request_handler=Handler)
