"""The answers of ``sora-mock proxy``: a document judged whole, a file passed on chunk by
chunk, an event stream judged block by block, and the refusals in the provider's error shape
(:class:`ProxyAnswers`, the steps :class:`~mockserver.conformance.proxy.ContractProxy` takes
once the upstream has answered)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from contracts import Contract, OpenAPIRequest
from mockserver.conformance.bounds import (
    Answer,
    Deadline,
    EventBlocks,
    decoder_for,
)
from mockserver.conformance.contract_map import ContractMap
from mockserver.conformance.providers import ErrorBody
from mockserver.conformance.proxy_config import VIOLATIONS_HEADER, ProxyConfig
from mockserver.conformance.proxy_headers import (
    _REASONS,
    _backward_headers,
    _has_response_problem,
    _status_line,
)
from mockserver.conformance.recorder import Observed, Recorder
from mockserver.conformance.redaction import Redactor
from mockserver.conformance.results import Drift
from mockserver.conformance.validation import (
    StreamCheck,
    file_drift,
    is_stream,
    json_document,
    response_drift,
)


class ProxyAnswers:
    """The answer steps of a proxy; :class:`~mockserver.conformance.proxy.ContractProxy` holds
    what they read (its options, contract, clock, recorder) and ends each exchange."""

    config: ProxyConfig
    contract: Contract
    map: ContractMap
    clock: Callable[[], float]
    recorder: Recorder | None
    upstream: str
    error_body: ErrorBody

    def _finish(self, seen: Observed, answered: int | None = None) -> None:
        raise NotImplementedError  # ContractProxy._finish: the console line and journal entry

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
