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
from urllib.parse import quote, unquote

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
    EventBlocks,
    Watchdog,
    contained_target,
    decoder_for,
    read_body,
    socket_of,
    then,
)
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
#: a JSON or text answer is judged whole up to this size, decoded (files and streams never
#: are); a larger one passes through unjudged (transparent) or is a 502 (strict)
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: the largest SSE block (an event, or the comments before the first event) the proxy holds
#: to judge it; past it the stream passes through unjudged (transparent) or ends (strict)
MAX_EVENT_BYTES = 1024 * 1024
#: the largest request body forwarded, as the mock's own (``MockConfig.max_body_bytes``)
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class ProxyConfig:
    provider: str
    #: default: the contract's ``x-provider-base-url``
    upstream: str | None = None
    mode: str = "transparent"
    #: seconds to connect and between two reads of the upstream's answer; also the most the
    #: proxy holds an answer back: a whole document, the status line and first SSE event,
    #: each later SSE block, a file's first chunk (the rest of a file flows as it comes)
    timeout: float = 60.0
    record_dir: Path | None = None
    media_cap: int = DEFAULT_MEDIA_CAP
    journal_size: int = 1000
    #: fetch the media URLs a finished job names (CDN links) into the cassette
    record_media_urls: bool = True
    #: the largest request body forwarded (413 in the provider's shape above it)
    max_body: int = MAX_BODY_BYTES
    max_document: int = MAX_DOCUMENT_BYTES
    max_event: int = MAX_EVENT_BYTES


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

    # ------------------------------------------------------------------ answers

    def _document(
        self,
        answer: Answer,
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
        deadline: Deadline,
    ) -> Iterator[bytes]:
        """A JSON or text answer: read whole (at most ``max_document`` bytes, decoded), judged,
        then forwarded as the upstream sent it (its encoding and length untouched)."""
        limit = self.config.max_document
        decoder = decoder_for(upstream.headers)
        raw: list[bytes] = []
        raw_size = 0
        decoded: list[bytes] = []
        size = 0
        over = ""
        chunks = upstream.iter_raw()
        for chunk in chunks:
            raw.append(chunk)
            raw_size += len(chunk)
            if decoder is None:
                decoded.append(chunk)
                size += len(chunk)
            elif not decoder.failed:
                for piece in decoder.feed(chunk):
                    decoded.append(piece)
                    size += len(piece)
                    if size > limit:
                        break
            if size > limit or raw_size > limit:
                over = f"{min(size, limit)} bytes judged"
                break
            answer.check_client()
        if not over and decoder is not None:
            for piece in decoder.end():
                decoded.append(piece)
                size += len(piece)
                if size > limit:
                    over = f"{limit} bytes judged"
                    break
        if over:
            deadline.disarm()  # from here bytes flow to the client as they come
            seen.problems += response_drift(
                self.contract, oa_request, upstream.status_code, seen.response_headers, None
            )
            too_large = Drift(
                "body",
                f"larger than the {limit} bytes the proxy judges"
                + (" (decoded)" if decoder is not None else "")
                + f": {over}, the rest passed through unjudged",
            )
            seen.problems.append(too_large)
            if self.config.mode == "strict":
                yield from self._refuse(
                    answer.start_response, seen, 502, "the upstream answer", too_large
                )
                return
            headers = _backward_headers(upstream.headers, keep_length=True)
            headers.append(self._violation_header(seen.problems))
            answer.start(_status_line(upstream), headers)
            decoded.clear()
            raw.reverse()
            while raw:  # each held chunk let go once it is sent
                yield raw.pop()
            for chunk in chunks:
                yield chunk
            self._finish(seen)
            return
        data = b"".join(decoded)
        decoded.clear()
        body = data if decoder is None else b"".join(raw)
        raw.clear()
        judged: bytes | None = data
        undecoded: Drift | None = None
        if decoder is not None and decoder.failed:
            judged = None  # only the status and headers are judged
            undecoded = Drift("body", decoder.failed)
            seen.problems.append(undecoded)
        seen.document = json_document(judged, seen.content_type)
        if seen.document is None and judged:
            seen.text = judged[:16000].decode("utf-8", "replace")[:4000]
        seen.problems += response_drift(
            self.contract,
            oa_request,
            upstream.status_code,
            seen.response_headers,
            judged,
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
                answer.start_response,
                status,
                self._error(status, message, "upstream_error"),
                self._violation_header(seen.problems),
            )
            return
        if self.config.mode == "strict" and seen.problems:
            yield from self._refuse(
                answer.start_response, seen, 502, "the upstream answer", undecoded
            )
            return
        headers = _backward_headers(upstream.headers)
        headers.append(("Content-Length", str(len(body))))
        headers.append(self._violation_header(seen.problems))
        self._finish(seen)
        answer.start(_status_line(upstream), headers)
        yield body

    def _file(
        self,
        answer: Answer,
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
        deadline: Deadline,
    ) -> Iterator[bytes]:
        """A video or image: forwarded chunk by chunk as it arrives, never held whole."""
        chunks = upstream.iter_raw()
        first = next(chunks, b"")
        deadline.disarm()  # nothing is held from here: the per-read timeout applies
        decoder = decoder_for(upstream.headers)
        head = first if decoder is None else b"".join(decoder.feed(first[:4096]))[:16]
        seen.problems += response_drift(
            self.contract, oa_request, upstream.status_code, seen.response_headers, None
        )
        seen.problems += file_drift(seen.content_type, upstream.status_code, head[:16])
        if self.config.mode == "strict" and seen.problems:
            yield from self._refuse(answer.start_response, seen, 502, "the upstream answer")
            return
        # an encoded file (the upstream ignored `Accept-Encoding: identity`) goes to the
        # client as sent; the cassette keeps it decoded, layer by layer, a chunk at a time
        decoder = decoder_for(upstream.headers)
        sink = self.recorder.media_sink(seen.content_type) if self.recorder else None
        headers = _backward_headers(upstream.headers, keep_length=True)
        headers.append(self._violation_header(seen.problems))
        answer.start(_status_line(upstream), headers)
        # the chunk that completes the declared length goes out only once the cassette is
        # written, so a client that has the whole file also finds it recorded
        expected = int(upstream.headers.get("Content-Length") or -1)
        sent = 0
        recorded = False
        for chunk in itertools.chain([first], chunks):
            if sink is not None:
                if decoder is None:
                    sink.write(chunk)
                else:
                    for piece in decoder.feed(chunk):
                        sink.write(piece)
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
        answer: Answer,
        seen: Observed,
        oa_request: OpenAPIRequest,
        upstream: httpx.Response,
        deadline: Deadline,
    ) -> Iterator[bytes]:
        """An event stream: each block judged, then forwarded; at most ``max_event`` bytes held
        (a block, or the comments before the first event), each block due within --timeout."""
        op = seen.operation
        media = self.map.media(op, upstream.status_code, seen.content_type) if op else {}
        seen.problems += response_drift(
            self.contract, oa_request, upstream.status_code, seen.response_headers, None
        )
        check = StreamCheck(self.contract, media)
        blocks = EventBlocks()
        strict = self.config.mode == "strict"
        cap = self.config.max_event
        pending: list[bytes] = []  # comments before the first event, sent with it
        pending_size = 0
        chunks = upstream.iter_raw()
        encoding = upstream.headers.get("Content-Encoding", "identity").strip().lower()
        unjudged = ""
        if encoding != "identity":
            unjudged = (
                f"Content-Encoding {encoding} (the proxy asked for identity): "
                "the events were not judged"
            )
        for chunk in [] if unjudged else chunks:
            for block in blocks.feed(chunk):
                deadline.arm()  # the next block is due within --timeout
                for raw, event, problems in check.feed(block):
                    seen.problems += problems
                    if event is not None and self.recorder is not None:
                        # kept for the cassette only: a stream not recorded holds no events
                        seen.events.append((self.clock(), raw.decode("utf-8", "replace")))
                    if not answer.started:
                        if strict and seen.problems:
                            yield from self._refuse(
                                answer.start_response, seen, 502, "the upstream stream"
                            )
                            return
                        if event is None:
                            pending.append(raw)  # a comment: the first event judges the answer
                            pending_size += len(raw)
                            continue
                        headers = _backward_headers(upstream.headers)
                        headers.append(self._violation_header(seen.problems))
                        answer.start(_status_line(upstream), headers)
                        yield b"".join(pending)
                        pending, pending_size = [], 0
                    elif strict and problems:
                        # the status line is gone: end the stream with the provider's error
                        # shape as an event (the openai package raises on such an event)
                        yield self._error_event(problems[0], len(seen.problems))
                        self._finish(seen)
                        return
                    yield raw
            if blocks.held + pending_size > cap:
                unjudged = (
                    f"an event larger than the {cap} bytes the proxy judges: "
                    f"{blocks.held + pending_size} bytes judged, the rest passed through unjudged"
                )
                break
            if not answer.started:
                answer.check_client()
        if unjudged:
            deadline.disarm()  # bytes flow to the client as they come from here
            problem = Drift(f"SSE event {check.events + 1}", unjudged)
            seen.problems.append(problem)
            if strict:
                if not answer.started:
                    yield from self._refuse(
                        answer.start_response, seen, 502, "the upstream stream", problem
                    )
                else:
                    yield self._event(
                        "sora-mock proxy (strict): the upstream stream could not be judged: "
                        f"{problem.where}: {problem.message}",
                        "unjudged_answer",
                    )
                    self._finish(seen)
                return
            if not answer.started:
                headers = _backward_headers(upstream.headers)
                headers.append(self._violation_header(seen.problems))
                answer.start(_status_line(upstream), headers)
            yield b"".join(pending) + blocks.take()
            pending = []
            for chunk in chunks:
                yield chunk
            self._finish(seen)
            return
        rest = blocks.take()
        seen.problems += check.finish()
        if not answer.started:
            headers = _backward_headers(upstream.headers)
            headers.append(self._violation_header(seen.problems))
            answer.start(_status_line(upstream), headers)
        # recorded before the stream's last bytes: the chunked ending follows this generator
        self._finish(seen)
        if pending or rest:
            yield b"".join(pending) + rest

    # ------------------------------------------------------------------ refusals

    def _error(self, status: int, message: str, code: str) -> dict[str, Any]:
        return self.error_body(status, message, code=code)

    def _refuse(
        self,
        start_response: Callable[..., Any],
        seen: Observed,
        status: int,
        what: str,
        unjudged: Drift | None = None,
    ) -> Iterator[bytes]:
        """Strict mode's answer: what breaks the contract, or (``unjudged``) why the proxy
        could not judge the answer (too large, an encoding it cannot undo)."""
        first = unjudged or seen.problems[0]
        redact = Redactor(seen.secrets)
        where = "the request" if status == 400 else what
        verdict = "could not be judged" if unjudged else f"breaks the {self.contract.name} contract"
        others = len(seen.problems) - 1
        message = redact(
            f"sora-mock proxy (strict): {where} {verdict}: {first.where}: {first.message}"
            + (f" (and {others} more)" if others > 0 else "")
        )
        if status == 400:
            message += " (not forwarded)"
        self._finish(seen, answered=status)
        code = "unjudged_answer" if unjudged else "contract_violation"
        yield from self._send_json(
            start_response,
            status,
            self._error(status, message, code),
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
        return self._event(message, "contract_violation")

    def _event(self, message: str, code: str) -> bytes:
        return f"data: {json.dumps(self._error(502, message, code))}\n\n".encode()

    def _turn_away(
        self,
        start_response: Callable[..., Any],
        seen: Observed,
        status: int,
        message: str,
        code: str,
    ) -> Iterator[bytes]:
        """A request the proxy does not forward (or not whole): the provider's shape."""
        seen.error = f"sora-mock proxy: {message}"
        self._finish(seen, answered=status)
        yield from self._send_json(start_response, status, self._error(status, seen.error, code))

    def _cut_short(self, answer: Answer, seen: Observed) -> Iterator[bytes]:
        """An answer that cannot be finished: strict mode ends a begun event stream with the
        provider's error shape as an event; otherwise the client's connection is closed
        without the answer's end, so no client takes the part for the whole."""
        if (
            answer.started
            and self.config.mode == "strict"
            and is_stream(seen.content_type)
            and seen.error
            and "client" not in seen.error
        ):
            yield self._event(
                f"sora-mock proxy (strict): the upstream {self.upstream} {seen.error}",
                # "did not finish ... within --timeout", "read timed out mid-answer"
                "upstream_timeout"
                if "timed out" in seen.error or "within" in seen.error
                else "upstream_error",
            )
            return
        answer.cut()

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
