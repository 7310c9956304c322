"""Exchange validation: one request and its answer against the contract, as :class:`Drift`.

``verify``, the proxy and the recorder all judge an exchange here, through the contract's own
``validate_request``/``validate_response`` (the validators the mock uses) and
``contracts._sse`` for event streams, so "the mock is clean" and "the provider is clean" mean
the same thing. Each problem becomes a :class:`Drift` whose ``where`` is a JSON pointer into
the body, ``header X``, ``status code`` or ``SSE event N /pointer``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from werkzeug.datastructures import Headers

from contracts import Contract, ContractViolation, OpenAPIRequest, OpenAPIResponse, Operation
from contracts._sse import EventStreamChecker, sse_event
from mockserver.conformance.pointers import pointer, pointer_get
from mockserver.conformance.results import Drift

_HEADER_FIELDS = {"content-type", "authorization", "retry-after", "x-request-id"}
#: media types whose body is a file: never read whole, never schema-checked (bytes)
FILE_PREFIXES = ("video/", "image/", "audio/", "application/octet-stream")


def contracts_headers(headers: httpx.Headers | Mapping[str, str]) -> Headers:
    if isinstance(headers, httpx.Headers):
        return Headers(list(headers.multi_items()))
    return Headers(list(headers.items()))


def transient(status: int) -> bool:
    return status == 429 or status >= 500


def is_file(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower().startswith(FILE_PREFIXES)


def is_stream(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "text/event-stream"


def json_document(data: bytes | None, content_type: str) -> Any:
    """The JSON body, or None (not JSON, or not parseable)."""
    if not data or content_type.split(";")[0].strip() not in ("application/json", "text/plain", ""):
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def drift_where(problem: Any, document: Any) -> str:
    field_name = problem.field
    message = str(problem.message)
    if field_name is None:
        lower = message.lower()
        # openapi-core's "Unknown response http status: 418"; the compiled validators'
        # "status 418 is not declared" (a status code, so judged even when the body was not)
        if "status" in lower and ("unknown response" in lower or "is not declared" in lower):
            return "status code"
        if "header" in lower:
            return "headers"
        return "body"
    if field_name.lower() in _HEADER_FIELDS:
        return f"header {field_name}"
    return pointer(field_name.split("."))


def drift_message(problem: Any, document: Any) -> str:
    message = str(problem.message)
    if len(message) > 240:  # cut the middle: the quoted value, not the verdict at the end
        message = message[:120] + " ... " + message[-100:]
    if problem.field and problem.field.lower() not in _HEADER_FIELDS:
        try:
            value = pointer_get(document, pointer(problem.field.split(".")))
        except KeyError:
            return message
        shown = json.dumps(value, ensure_ascii=False)
        if shown not in message and repr(value) not in message:
            message += f" (value: {shown if len(shown) <= 80 else shown[:80] + '...'})"
    return message


def response_drift(
    contract: Contract,
    request: OpenAPIRequest,
    status: int,
    headers: Headers,
    data: bytes | None,
    document: Any = None,
) -> list[Drift]:
    """What the contract does not allow in this answer. For an event stream or a file only
    the status and headers are judged here (events are checked one by one with
    :class:`StreamCheck`; a file's bytes by :func:`file_drift`): pass ``data=None`` for a
    body that was not read whole."""
    content_type = headers.get("Content-Type", "application/octet-stream")
    partial = is_stream(content_type) or data is None
    response = OpenAPIResponse(
        status_code=status,
        content_type=content_type,
        headers=headers,
        data=b"" if is_stream(content_type) else data,
    )
    found: list[Drift] = []
    try:
        contract.validate_response(request, response)
    except ContractViolation as exc:
        for problem in exc.problems:
            where = drift_where(problem, document)
            if partial and not (where in ("status code", "headers") or where[:7] == "header "):
                continue
            message = drift_message(problem, document)
            if where == "header Content-Type" and content_type not in message:
                message += f" (got {content_type})"
            found.append(Drift(where, message))
    except Exception as exc:  # noqa: BLE001 - a validator crash is reported, never raised
        found.append(Drift("body", f"could not be validated ({type(exc).__name__})"))
    return found


def request_drift(
    contract: Contract,
    request: OpenAPIRequest,
    operation: Operation | None = None,
    query: Mapping[str, str] | None = None,
) -> list[Drift]:
    """What the contract does not allow in a request (the client's side of the exchange).

    A request without a body (a poll) takes the mock's fast path: its parameters checked by
    validators compiled once (``Contract.validate_parameters``)."""
    try:
        if (
            operation is not None
            and query is not None
            and "requestBody" not in operation.definition
        ):
            contract.validate_parameters(
                operation.operation_id, path_values(operation, request.path), query
            )
        else:
            contract.validate_request(request)
    except ContractViolation as exc:
        return [
            Drift(f"request {p.field}" if p.field else "request", drift_message(p, None))
            for p in exc.problems
        ]
    except Exception as exc:  # noqa: BLE001 - a validator crash is reported, never raised
        return [Drift("request", f"could not be validated ({type(exc).__name__})")]
    return []


def path_values(operation: Operation, path: str) -> dict[str, str]:
    """The path parameters of a concrete path (``/v1/videos/abc`` -> ``{video_id: abc}``)."""
    names = re.findall(r"\{([^}]+)\}", operation.path)
    pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(operation.path))
    match = re.fullmatch(pattern, path)
    if match is None:
        return {}
    return dict(zip(names, match.groups(), strict=True))  # Werkzeug's path is decoded


def file_drift(content_type: str, status: int, head: bytes) -> list[Drift]:
    """A file answer whose first bytes contradict its Content-Type (an MP4 has an ftyp box)."""
    ctype = content_type.split(";")[0].strip()
    if ctype == "video/mp4" and status == 200 and head[4:8] != b"ftyp":
        return [Drift("body", "Content-Type is video/mp4 but the body is not an MP4 (no ftyp box)")]
    return []


class StreamCheck:
    """A ``text/event-stream`` checked event by event as its bytes arrive.

    ``feed(chunk)`` yields ``(raw_event_bytes, event_or_None, problems)`` for every complete
    block (an event, or a block of comments), so a proxy can forward each one as soon as it
    has been judged; ``finish()`` reports a stream that ended without its terminator.
    """

    def __init__(self, contract: Contract, media: Mapping[str, Any]) -> None:
        self.checker = EventStreamChecker(contract, media) if media else None
        self.events = 0
        self.finished = False
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, dict[str, str] | None, list[Drift]]]:
        self._buffer += chunk
        while True:
            cut = _block_end(self._buffer)
            if cut is None:
                return
            raw, self._buffer = self._buffer[:cut], self._buffer[cut:]
            yield (raw, *self._judge(raw))

    def rest(self) -> bytes:
        """Bytes after the last complete block (a stream cut mid-event)."""
        rest, self._buffer = self._buffer, b""
        return rest

    def _judge(self, raw: bytes) -> tuple[dict[str, str] | None, list[Drift]]:
        lines = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        event = sse_event([line for line in lines.split("\n") if line])
        if event is None:
            return None, []
        self.events += 1
        if self.checker is None:
            return event, []
        problems, ended = self.checker.check(event)
        found = [Drift(f"SSE event {self.events} {w}", m) for w, m in problems]
        if self.finished:
            found.append(Drift(f"SSE event {self.events}", "event after the stream's terminator"))
        self.finished = self.finished or ended
        return event, found

    def finish(self) -> list[Drift]:
        if self.checker is not None and self.checker.terminator is not None and not self.finished:
            return [
                Drift("stream end", f"the stream ended without `data: {self.checker.terminator}`")
            ]
        return []


def _block_end(buffer: bytes) -> int | None:
    """Index just past the first blank line ending an SSE block, if there is one."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n", b"\r\r") if (i := buffer.find(sep)) >= 0]
    return min(ends) if ends else None
