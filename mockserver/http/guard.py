"""The edge every request crosses before any handler: hostile bodies are refused here.

Applied to every route of the app (providers and admin API alike), before the body is parsed
by anything else:

* a declared ``Content-Length`` over the limit is a 413 before a byte of the body is read;
* a JSON body must be UTF-8, at most ``max_json_bytes`` long and nested at most
  ``max_json_depth`` levels (checked by a scan, before any parser recurses into it), hold only
  finite numbers (``NaN``/``Infinity`` are not JSON) and no lone UTF-16 surrogates (a string
  that could never be written back out as UTF-8);
* a multipart body's text fields and file names must be UTF-8.

Each refusal is a 400 (or 413) naming the limit, in the provider's own error shape. Syntax
errors are left to the contract validation, which names the problem in the same shape.

Two checks of who is asking come first (contracts/mock-admin.yaml, "Who may call"):

* :class:`HostCheck`, outermost: a ``Host`` the mock does not answer to
  (:class:`mockserver.http.hosts.HostPolicy`) is a 421 Misdirected Request, for every path, the
  poll lane's included (a DNS-rebinding page carries its own name as Host);
* :func:`cross_origin_refusal`: a state-changing admin call a page on another origin could
  have sent without the browser asking first (a "simple" request) is a 403.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, request

from mockserver.http import exchange
from mockserver.http.hosts import HostPolicy
from mockserver.http.responses import json_response

ErrorJson = Callable[[int, str], Response]

#: a JSON string literal (possessive: linear time on any input)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
#: bytes of a multipart body handed to the decoder at a time
_FEED = 64 * 1024


class Refused(ValueError):
    """A body the edge refuses: ``status`` and a message naming the limit."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (strings skipped)."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _not_json_constant(name: str) -> Any:
    raise Refused(400, f"{name} is not a JSON number: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise Refused(400, f"the number {text[:40]} is out of range: numbers must be finite")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 100:
        raise Refused(400, "an integer in the body has more than 100 digits")
    return int(text)


def _check_strings(value: Any) -> None:
    """Refuse a lone surrogate anywhere in the parsed document (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _encodable(item, "a JSON string")
        elif isinstance(item, dict):
            for key, inner in item.items():
                _encodable(key, "a JSON object key")
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def _encodable(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(
            400, f"{what} holds a lone UTF-16 surrogate: text must be valid Unicode"
        ) from None


def check_json(body: bytes, *, max_bytes: int, max_depth: int) -> None:
    """Raise :class:`Refused` for a JSON body the mock will not parse any further."""
    if len(body) > max_bytes:
        raise Refused(413, f"the JSON body is larger than the limit of {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the JSON body is not valid UTF-8") from None
    if json_depth_exceeds(body, max_depth):
        raise Refused(400, f"the JSON body is nested deeper than the limit of {max_depth} levels")
    try:
        document = json.loads(
            text,
            parse_constant=_not_json_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except ValueError as exc:
        if isinstance(exc, Refused):
            raise
        return  # a syntax error: the contract validation answers it in its own words
    _check_strings(document)


def check_multipart(body: bytes, boundary: str) -> None:
    """Multipart text fields, field names and file names must be UTF-8.

    Read from the raw parts: Werkzeug replaces bad bytes and the contract validation keeps
    them as surrogate escapes, which no response or store could write back out.
    """
    from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"))
    view = memoryview(body)
    offset = 0
    field: str | None = None
    utf8 = codecs.getincrementaldecoder("utf-8")()
    while True:
        try:
            event = decoder.next_event()
        except ValueError:
            return  # malformed: the contract validation answers it
        if isinstance(event, NeedData):
            # fed in small pieces: the decoder never holds a second copy of the body
            if offset > len(view):
                return
            decoder.receive_data(
                bytes(view[offset : offset + _FEED]) if offset < len(view) else None
            )
            offset += _FEED
            continue
        if isinstance(event, Field | File):
            _form_text(event.name, "a multipart field name")
            if isinstance(event, File):
                _form_text(event.filename, f"the file name of {event.name[:40]!r}")
                field = None
            else:
                field = event.name
                utf8.reset()
        elif isinstance(event, Data):
            if field is not None:
                try:
                    utf8.decode(event.data, final=not event.more_data)
                except UnicodeDecodeError:
                    raise Refused(
                        400, f"the multipart field {field[:40]!r} is not valid UTF-8"
                    ) from None
        elif isinstance(event, Epilogue):
            return


#: a part may name its own charset; Werkzeug then decodes it in that charset, not UTF-8
_CHARSET = b"charset"


def names_charset(body: bytes) -> bool:
    """Whether ``charset`` is anywhere in ``body``, in any ASCII case (what a bytes pattern
    with ``re.IGNORECASE`` finds). A lowercased copy is searched, a piece of ``_FEED`` bytes
    at a time, each piece overlapping the next by the word's length less one (a word across
    two pieces is found, and a large body is never copied whole). The case-blind regex
    stepped through a body byte by byte: 46 us of a create's ~620 (benchmarks/README.md)."""
    overlap = len(_CHARSET) - 1
    for start in range(0, len(body), _FEED):
        if _CHARSET in body[start : start + _FEED + overlap].lower():
            return True
    return False


def form_is_clean(body: bytes, form: Any, files: Any) -> bool:
    """Whether Werkzeug's parse of ``body`` (``form``, ``files``) proves every field name,
    file name and text field UTF-8, so that :func:`check_multipart` has nothing to find.

    Werkzeug decodes a text field as UTF-8 with errors replaced, so a value without U+FFFD
    came from valid UTF-8. Anything else (a replacement character, a name that is not
    UTF-8, a part naming a charset, a body Werkzeug gave up on) is not proof: the exact
    check reads the raw parts. A create is parsed once instead of twice (the parse was a
    fifth of a multipart create's CPU: benchmarks/README.md).
    """
    if not form and not files:
        return False  # nothing parsed: empty, or malformed (Werkzeug's parse is silent)
    if names_charset(body):
        return False
    for name, value in form.items(multi=True):
        if "\ufffd" in value or not _utf8(name):
            return False
    return all(
        _utf8(name) and _utf8(storage.filename or "") for name, storage in files.items(multi=True)
    )


def _utf8(text: str | None) -> bool:
    if text is None:  # a part whose name Werkzeug could not read (a line break in it): no proof
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _form_text(text: str | None, what: str) -> None:
    if text is None:  # Werkzeug could not read it out of its Content-Disposition
        raise Refused(400, f"{what} cannot be read: a line break or a stray quote in it")
    if not _utf8(text):
        raise Refused(400, f"{what} is not valid UTF-8")


class StreamedBodyLimit:
    """WSGI middleware: a body of unknown length (chunked) is read up to the limit and handed
    on with its length; one byte more and it is cut there, the rest never read, and the app
    sees a length over the limit (so it answers 413 in the route's shape, never a body
    silently truncated at the limit, which is what Werkzeug alone would pass on)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not environ.get("CONTENT_LENGTH") and (chunked or environ.get("wsgi.input_terminated")):
            stream = environ["wsgi.input"]
            body = bytearray()
            while len(body) <= self.limit:
                chunk = stream.read(min(_FEED, self.limit + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(b"" if len(body) > self.limit else bytes(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


#: where :func:`init_app` leaves the edge's body check for the lane (``mockserver.http.lane``)
EDGE = "sora_mock_edge"


def init_app(app: Flask, error_json: ErrorJson, *, max_json_bytes: int, max_depth: int) -> None:
    """Check every request's body at the edge; ``error_json`` answers in the route's shape.
    The check itself, ``refusal(request) -> Refused | None``, is also left in
    ``app.extensions[EDGE]``: the lane runs the very same one on the requests it serves."""
    app.wsgi_app = StreamedBodyLimit(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]

    def refusal(req: Request) -> Refused | None:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        length = req.content_length
        if limit is not None and length is not None and length > limit:
            # refused before a byte of the body is read
            return Refused(413, f"the request body is larger than the limit of {limit} bytes")
        mimetype = req.mimetype or ""
        try:
            if mimetype == "application/json" or mimetype.endswith("+json"):
                body = req.get_data(cache=True)
                if body:
                    check_json(body, max_bytes=max_json_bytes, max_depth=max_depth)
            elif mimetype == "multipart/form-data" and req.mimetype_params.get("boundary"):
                body = req.get_data(cache=True)
                # Werkzeug parses the form once, here, from the cached body; the handler
                # reads the same parse later
                if not form_is_clean(body, req.form, req.files):
                    check_multipart(body, req.mimetype_params["boundary"])
        except Refused as exc:
            return exc
        return None

    def guard() -> Response | None:
        refused = refusal(request._get_current_object())  # type: ignore[attr-defined]
        return None if refused is None else error_json(refused.status, str(refused))

    app.before_request(guard)
    app.extensions[EDGE] = refusal


#: the header the dashboard (and any script) sends to show a request is no page's on another
#: origin: a browser sends a custom header across origins only after a preflight, which the
#: mock never grants. Its value names the sender (``dashboard``: the journal marks the entry).
CLIENT_HEADER = "X-Mock-Client"
#: the methods that change the admin API's state
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the request content types a page may send to any origin without a preflight (Fetch)
SIMPLE_CONTENT_TYPES = frozenset(
    {"", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)


def cross_origin_refusal(
    method: str, origin: str | None, content_type: str, client_header: bool, served: str
) -> str | None:
    """Why a state-changing admin call is refused, or None when it is allowed.

    Allowed: a read; an ``Origin`` equal to the origin served (``served``, e.g.
    ``http://127.0.0.1:8000``); or a request no page on another origin can send without a
    preflight (which the mock never answers with CORS headers): a method other than POST,
    the :data:`CLIENT_HEADER`, or a content type outside the three a form may send
    (``application/json``, ``image/png``); or no ``Origin`` at all: every browser sends one with
    a POST (the Fetch standard, for any method but GET and HEAD, cross-origin or not, forms
    included), so a POST without it is no page's (curl, a script). Refused: a simple POST whose
    ``Origin`` is another origin, or ``null`` (a sandboxed frame, a ``file:`` page)."""
    if method.upper() not in STATE_CHANGING or origin is None:
        return None
    if origin.rstrip("/").lower() == served.rstrip("/").lower():
        return None
    if client_header or method.upper() != "POST":
        return None
    mimetype = content_type.split(";", 1)[0].strip().lower()
    if mimetype not in SIMPLE_CONTENT_TYPES:
        return None
    who = f"from the origin {origin[:100]!r}"
    return (
        f"a {method.upper()} to the admin API {who} is refused: a page on another site could "
        f"send it; send it from {served} or with the header {CLIENT_HEADER} "
        "(or a JSON body with Content-Type: application/json)"
    )


def _error_body(status: int, message: str, path: str) -> dict[str, Any]:
    from mockserver.providers.errors import PREFIX_ERRORS

    family = PREFIX_ERRORS.get(path.strip("/").split("/", 1)[0])
    if family is None:
        return {"error": {"message": message, "type": str(status)}}
    return family(status, message)


class HostCheck:
    """WSGI middleware, outermost: a request whose ``Host`` the mock does not answer to is a
    421 Misdirected Request, in the provider's error shape under a provider's prefix and in
    the admin API's elsewhere, journalled and logged like any answer; nothing else of the
    app sees it. A request without ``Host`` (HTTP/1.0) is no browser's and passes.

    421, not 403: the name is wrong, not the caller's rights (RFC 9110 15.5.20: "not able to
    produce a response for the combination of scheme and authority"), and a provider's 403
    means a key without access, which a client would report as an authorisation failure."""

    def __init__(self, app: Flask, inner: Any, policy: HostPolicy) -> None:
        self.inner = inner
        self.policy = policy
        self.extensions = app.extensions

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        token = exchange.enter(environ)  # the sender, for the exchange the request begins
        try:
            return self._answer(environ, start_response)
        finally:
            exchange.leave(token)

    def _answer(self, environ: dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST")
        if host is None or host in self.policy:
            return self.inner(environ, start_response)
        path = environ.get("PATH_INFO", "") or "/"
        current = exchange.begin()
        message = (
            f"the mock does not answer to the Host {host[:100]!r}: it answers to its loopback "
            "names, IP addresses and the names given with --allowed-host (start it with "
            "--allowed-host NAME to add one)"
        )
        current.error = message
        service = self.extensions["sora_mock"]
        service.request_opened()
        response = json_response(_error_body(421, message, path), 421)
        response = exchange.finish(
            service,
            self.extensions.get("sora_mock_console"),
            exchange.end(),
            environ.get("REQUEST_METHOD", "GET"),
            path,
            response,
        )
        return response(environ, start_response)
