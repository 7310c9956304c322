"""The lane: a provider's JSON reads (a job's status, a page of jobs) and its creates served
past Flask's request context.

A client polls far more than it creates, so status reads are most of a mock's traffic. Flask
spends about as much on a request's context (binding the URL map, the request and app
contexts, ``before``/``after`` hooks, ``g``) as the mock spends answering a poll. This WSGI
middleware, outermost in the app, recognises ``GET`` requests without a body for the
contract operations that answer JSON only, and ``POST`` requests with a ``Content-Length``
for the operations that create a job and answer JSON only, and hands them to the same
:class:`~mockserver.http.binding.Pipeline` Flask's view would run, with a plain request object
(a create first crosses the same edge check, ``guard.init_app``'s, with Flask's body limits);
:func:`mockserver.http.exchange.finish` journals and logs them as it does every request, and an
exception is answered by the app's own handlers (``app.http_error``, ``app.unexpected``). The
answer is the same, byte for byte but for the request id and a create's job id
(``tests/test_lane.py`` and ``tests/test_create_lane.py`` hold the two paths to that).

Nothing on those paths reads Flask's ``request``, ``g`` or ``current_app``: the pipeline, the
handlers and the capture read the request object they are given, the exchange lives in a
context variable. Anything else (another method, a chunked body, a path a route might share
with another one, a replay directory in front of the simulation) goes to Flask unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException

from mockserver.http import exchange
from mockserver.http.binding import Pipeline
from mockserver.http.guard import EDGE
from mockserver.state.service import service_of

ErrorJson = Callable[[int, str, "str | None"], Response]
#: the app's answer to an exception raised for (method, path): ``app.http_error``'s, and
#: ``app.unexpected``'s
HttpError = Callable[[HTTPException, str, str], Response]
Unexpected = Callable[[Exception, str, str], Response]

#: a path parameter the lane takes: job ids and the like (anything else: Flask decides)
_VALUE = "[A-Za-z0-9_.~-]+"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _segments(rule: str) -> list[str | None]:
    """A rule's path segments, None where a parameter stands."""
    return [None if _PARAM.fullmatch(part) else part for part in rule.strip("/").split("/")]


def _overlap(a: list[str | None], b: list[str | None]) -> bool:
    """Whether one path could match both rules (a parameter matches any segment)."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def _json_only(pipeline: Pipeline) -> bool:
    """Whether every answer the contract documents for the operation is JSON."""
    spec = pipeline.dialect.contract.spec
    for response in pipeline.op.definition.get("responses", {}).values():
        while "$ref" in response:
            node: Any = spec
            for part in response["$ref"].lstrip("#/").split("/"):
                node = node[part]
            response = node
        for media_type in response.get("content", {}):
            if media_type != "application/json":
                return False
    return True


class PollLane:
    def __init__(
        self,
        app: Flask,
        inner: Any,
        error_json: ErrorJson,
        http_error: HttpError,
        unexpected: Unexpected,
    ) -> None:
        self.inner = inner
        self.service = service_of(app)
        self.extensions = app.extensions  # the console is looked up per request, as Flask's
        self.config = app.config  # the body limits, read per request as Flask's request does
        self.edge = app.extensions[EDGE]
        self.error_json = error_json
        self.http_error = http_error
        self.unexpected = unexpected
        #: GET routes (polls) and POST routes (creates), by their path's first segment
        self.routes: dict[str, list[tuple[re.Pattern[str], Pipeline]]] = {}
        self.creates: dict[str, list[tuple[re.Pattern[str], Pipeline]]] = {}
        rules = list(app.url_map.iter_rules())
        for rule in rules:
            pipeline = getattr(app.view_functions.get(rule.endpoint), "pipeline", None)
            if pipeline is None or rule.methods is None or not _json_only(pipeline):
                continue
            if "GET" in rule.methods:
                method, routes = "GET", self.routes
            elif "POST" in rule.methods and pipeline.is_create:
                method, routes = "POST", self.creates
            else:
                continue
            if not self._alone(rule.rule, rule.endpoint, rules, method):
                continue
            prefix = rule.rule.strip("/").split("/", 1)[0]
            routes.setdefault(prefix, []).append((self._pattern(rule.rule), pipeline))

    @staticmethod
    def _pattern(rule: str) -> re.Pattern[str]:
        parts, last = [], 0
        for match in _PARAM.finditer(rule):
            parts += [re.escape(rule[last : match.start()]), f"(?P<{match.group(2)}>{_VALUE})"]
            last = match.end()
        parts.append(re.escape(rule[last:]))
        return re.compile("".join(parts))

    @staticmethod
    def _alone(rule: str, endpoint: str, rules: Iterable[Any], method: str = "GET") -> bool:
        """No other route of ``method`` could match a path of this one (so the lane never
        takes a request Flask would route elsewhere), and its parameters are plain strings."""
        if any(m.group(1) not in (None, "string") for m in _PARAM.finditer(rule)):
            return False
        mine = _segments(rule)
        return not any(
            other.endpoint != endpoint
            and method in (other.methods or ())
            and _overlap(mine, _segments(other.rule))
            for other in rules
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            if environ.get("CONTENT_LENGTH", "0") in ("", "0") and (
                "HTTP_TRANSFER_ENCODING" not in environ
            ):
                path = environ.get("PATH_INFO", "")
                for pattern, pipeline in self.routes.get(path[1:].split("/", 1)[0], ()):
                    match = pattern.fullmatch(path)
                    if match is not None:
                        return self._serve(environ, start_response, pipeline, match.groupdict())
        elif (
            method == "POST"
            # a body of known length (a chunked one is measured first: guard.StreamedBodyLimit)
            and environ.get("CONTENT_LENGTH")
            and "HTTP_TRANSFER_ENCODING" not in environ
        ):
            path = environ.get("PATH_INFO", "")
            for pattern, pipeline in self.creates.get(path[1:].split("/", 1)[0], ()):
                match = pattern.fullmatch(path)
                if match is not None:
                    return self._create(environ, start_response, pipeline, match.groupdict())
        return self.inner(environ, start_response)

    def _serve(
        self, environ: dict[str, Any], start_response: Any, pipeline: Pipeline, values: Any
    ) -> Any:
        service = self.service
        exchange.begin().instant = True  # a read: one instant of the mock's clock
        service.request_opened()
        req = Request(environ)
        if not environ.get("QUERY_STRING"):  # what parsing an empty query gives, ~2 us sooner
            req.args = req.parameter_storage_class()
        named = next(iter(values.values()), None)  # the job a status read names (or None)
        try:
            with service.store.read_instant(named if isinstance(named, str) else None):
                response = pipeline(req, values)
        except Exception as exc:  # noqa: BLE001 - answered as Flask's handler answers it
            response = self._failed(exc, req)
        response = self._finished(response, req, values)
        # what Werkzeug's ``response(environ, start_response)`` does for a GET answered with
        # bytes (the status line, the headers as they are, the body in one piece), without
        # its general machinery: conditional and HEAD answers, iterables, header fix-ups
        start_response(response.status, response.headers.to_wsgi_list())
        body = response.response
        if body.__class__ is list and len(body) == 1 and body[0].__class__ is bytes:
            return body  # (what get_data joins: json_response's one piece)
        return [response.get_data()]

    def _create(
        self, environ: dict[str, Any], start_response: Any, pipeline: Pipeline, values: Any
    ) -> Any:
        """A create, as Flask serves it: ``app._start``, the edge's check (``guard``), the
        view's pipeline, the app's error handlers, ``app._finish``, and the response called
        as Flask calls it; the request closed after (its uploaded files), as Flask's context
        closes it."""
        service = self.service
        exchange.begin()
        service.request_opened()
        req = Request(environ)  # (its JSON module is unused: Flask's provider loads alike)
        # Flask's request reads its limits from the app's config, in its app context
        config = self.config
        req.max_content_length = config["MAX_CONTENT_LENGTH"]
        req.max_form_memory_size = config["MAX_FORM_MEMORY_SIZE"]
        req.max_form_parts = config["MAX_FORM_PARTS"]
        try:
            try:
                refused = self.edge(req)
                if refused is not None:
                    prefix = pipeline.dialect.prefix
                    response = self.error_json(refused.status, str(refused), prefix)
                else:
                    response = pipeline(req, values)
            except Exception as exc:  # noqa: BLE001 - answered as Flask's handler answers it
                response = self._failed(exc, req)
            return _handed_over(self._finished(response, req, values), environ, start_response)
        finally:
            req.close()

    def _failed(self, exc: Exception, req: Request) -> Response:
        """What the app's error handlers answer for ``exc`` (Flask's handler for an
        ``HTTPException``, the app's for anything else)."""
        if isinstance(exc, HTTPException):
            return self.http_error(exc, req.method, req.path)
        return self.unexpected(exc, req.method, req.path)

    def _finished(self, response: Response, req: Request, values: Any) -> Response:
        """``response`` after ``app._finish``: journalled, captured, counted and logged."""
        return exchange.finish(
            self.service,
            self.extensions.get("sora_mock_console"),
            exchange.end(),
            req.method,
            req.path,
            response,
            values,
            req,
        )


#: headers Werkzeug's ``get_wsgi_headers`` would rewrite (made absolute, IRIs quoted)
_REWRITTEN = frozenset(("location", "content-location"))


def _handed_over(response: Response, environ: dict[str, Any], start_response: Any) -> Any:
    """``response(environ, start_response)``, what Flask does with an answer, without its
    general machinery where it would change nothing: an answer of one piece of bytes
    (json_response's, Werkzeug's constructor's) with its ``Content-Length``, a status with a
    body, no ``Location`` to rewrite and nothing to call on close goes out as it is (Werkzeug
    would copy its headers unchanged and wrap the piece in an iterator of the same bytes)."""
    body = response.response
    status = response.status_code
    if (
        body.__class__ is list
        and len(body) == 1
        and body[0].__class__ is bytes
        and not response._on_close
        and not response.direct_passthrough
        and 200 <= status
        and status not in (204, 304)
        and environ.get("REQUEST_METHOD") != "HEAD"
    ):
        names = [name.lower() for name, _ in response.headers.items()]
        if "content-length" in names and _REWRITTEN.isdisjoint(names):
            start_response(response.status, response.headers.to_wsgi_list())
            return body
    return response(environ, start_response)
