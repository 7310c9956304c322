"""Bind each dialect's handlers to Flask routes taken from its contract, behind one pipeline:

    route (from the contract) -> credentials -> scenario -> rate limit
        -> request validated against the contract -> create-time scenario -> handler
        -> (strict) response validated against the contract

Every step answers a client mistake in the provider's own error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.datastructures import Headers

import contracts
from contracts import ContractViolation, OpenAPIRequest, OpenAPIResponse
from contracts._compiled import CompiledOperation
from mockserver.http import exchange
from mockserver.http.responses import error_response
from mockserver.providers.base import Context, Dialect, Handler
from mockserver.state.faults import SCENARIOS, Scenario, Selected, UnknownScenario, parse
from mockserver.state.faults import retry_after_header as retry_after
from mockserver.state.lifecycle import key_fingerprint
from mockserver.state.service import MockService

log = logging.getLogger("mockserver")

SCENARIO_HEADER = "X-Mock-Scenario"
_SCENARIO_KEY = "HTTP_X_MOCK_SCENARIO"


def openapi_request(prefix: str) -> OpenAPIRequest:
    """The current Flask request for openapi-core, its path without ``/<prefix>`` (the mock's
    stand-in for the provider host); ``""`` keeps the path as it is (the admin API)."""
    path = (
        request.path[len(prefix) + 1 :] if request.path.startswith(f"/{prefix}/") else request.path
    )
    return OpenAPIRequest.build(
        request.method,
        path or "/",
        query=list(request.args.items(multi=True)),
        headers=list(request.headers.items()),
        body=request.get_data(cache=True) or None,
        host_url=request.host_url,
    )


def _select_scenario(dialect: Dialect, req: Request, key_fp: str) -> Selected | None:
    header = req.environ.get(_SCENARIO_KEY)  # (what ``req.headers`` reads it from)
    if header:
        return parse(header, "header")
    service = dialect.service
    name = service.store.take_rule(key_fp, dialect.prefix)
    if name is not None:
        return parse(name, "rule")
    return service.draw_fault()


def _injected(service: MockService, selected: Selected) -> None:
    """A scenario shapes this answer (counted for ``/metrics``)."""
    if service.metrics is not None:
        service.metrics.fault_injected(selected.scenario.value, selected.source)


def _problem_param(exc: ContractViolation) -> tuple[str, str | None]:
    first = exc.problems[0]
    message = "; ".join(str(p) for p in exc.problems[:3])
    return message, first.field


class Pipeline:
    """One contract operation's way from a request to its answer (the module docstring's
    steps). It reads only the request object it is given and notes what it learns in the
    current :class:`~mockserver.http.exchange.Exchange`, so Flask's view and the poll lane
    (``mockserver.http.lane``) run the very same steps."""

    def __init__(self, dialect: Dialect, op: contracts.Operation, handler: Handler) -> None:
        self.dialect = dialect
        self.op = op
        self.handler = handler
        self.is_create = op.operation_id in dialect.create_operations
        self.compiled = dialect.contract.compiled.operation(op.operation_id)
        #: the contract lets this operation be called without credentials (an empty
        #: requirement, ``{}``, among its security alternatives)
        security = op.definition.get("security", dialect.contract.spec.get("security", []))
        self.anonymous = not security or any(not requirement for requirement in security)

    def __call__(self, req: Request, path_params: Mapping[str, Any]) -> Response:
        dialect, service, compiled = self.dialect, self.dialect.service, self.compiled
        notes = exchange.current() or exchange.begin()
        notes.provider = dialect.prefix
        notes.operation = self.op.operation_id

        api_key = dialect.credentials(req)
        if api_key is None and self.anonymous and "HTTP_AUTHORIZATION" not in req.environ:
            api_key = ""  # no key at all, where the contract allows none: everyone's
        if api_key is None:
            return error_response(
                dialect,
                401,
                "Invalid signature: API key is missing or malformed",
                code=dialect.scenario_code("unauthorized"),
            )
        key_fp = key_fingerprint(api_key)
        notes.key = key_fp
        if service.config.api_keys and api_key not in service.config.api_keys:
            return error_response(
                dialect,
                401,
                "Invalid signature: API key is not valid",
                code=dialect.scenario_code("unauthorized"),
            )

        try:
            selected = _select_scenario(dialect, req, key_fp)
        except UnknownScenario as exc:
            return error_response(dialect, 400, str(exc), param=SCENARIO_HEADER)
        notes.scenario = selected.scenario.value if selected else None
        if selected is not None:
            spec = SCENARIOS[selected.scenario]
            if not spec.create_only:  # a read or a create: it applies now
                _injected(service, selected)
            if selected.scenario is Scenario.SLOW:
                service.sleep(service.config.slow_seconds)
            elif spec.status is not None and not spec.create_only:
                headers = (
                    {"Retry-After": retry_after(1)}
                    if selected.scenario is Scenario.RATE_LIMITED
                    else None
                )
                return error_response(
                    dialect,
                    spec.status,
                    spec.message,
                    code=dialect.scenario_code(selected.scenario.value),
                    headers=headers,
                )

        if service.limiter is not None:
            wait = service.limiter.take(key_fp)
            if wait > 0:
                return error_response(
                    dialect,
                    429,
                    "Rate limit reached for requests per minute",
                    code=dialect.scenario_code("rate_limited"),
                    headers={"Retry-After": retry_after(wait)},
                )

        args = req.args
        if args:
            unknown = sorted(set(args.keys()) - compiled.query_names)
            if unknown:
                return error_response(
                    dialect, 400, f"Unrecognized query parameter {unknown[0]!r}", param=unknown[0]
                )
        try:
            # validators compiled once per operation (contracts._compiled); credentials were
            # checked above in the dialect's own words
            result = validate_request(compiled, req, path_params)
        except ContractViolation as exc:
            message, param = _problem_param(exc)
            status = 415 if "media_type" in exc.kinds else 400
            return error_response(dialect, status, message, param=param)
        body, query = result.body, result.parameters.query

        if selected is not None and SCENARIOS[selected.scenario].create_only:
            if not self.is_create:
                selected = None  # a create-time scenario means nothing to a read
            else:
                _injected(service, selected)
                if selected.scenario is Scenario.CONTENT_POLICY:
                    return error_response(
                        dialect,
                        400,
                        SCENARIOS[Scenario.CONTENT_POLICY].message,
                        code=dialect.scenario_code("content_policy"),
                    )

        ctx = Context(
            request=req,
            operation=self.op,
            body=body,
            path=dict(path_params),
            query=query,
            api_key=api_key,
            scenario=selected,
            prefix=dialect.prefix,
        )
        response = self.handler(dialect, ctx)
        # an event stream is checked event by event as it is produced (its generator)
        if service.config.strict and response.mimetype != "text/event-stream":
            check_response(dialect.contract, service, None, response, compiled, req)
        return response


def make_view(
    dialect: Dialect, op: contracts.Operation, handler: Handler
) -> Callable[..., Response]:
    pipeline = Pipeline(dialect, op, handler)

    def view(**path_params: Any) -> Response:
        return pipeline(request._get_current_object(), path_params)  # type: ignore[attr-defined]

    view.__name__ = f"{dialect.name}:{op.operation_id}"
    view.pipeline = pipeline  # type: ignore[attr-defined]
    return view


def validate_request(
    operation: CompiledOperation, req: Request, path_params: Mapping[str, Any]
) -> Any:
    """Validate a request with an operation's compiled validators.

    A multipart body is read through Flask's own form parser (``req.form`` / ``req.files``,
    so ``MAX_FORM_MEMORY_SIZE`` and ``MAX_CONTENT_LENGTH`` apply: 413), once.
    """
    # (as ``req.headers`` reads it: the environ's ``CONTENT_TYPE``)
    content_type = req.environ.get("CONTENT_TYPE", "application/octet-stream")
    body = req.get_data(cache=True) if operation.has_body else None
    return operation.validate_request(
        path=path_params,
        query=req.args,
        headers=req.headers,
        content_type=content_type,
        body=body,
        form=lambda: (req.form, req.files),
        check_security=False,
    )


def check_response(
    contract: contracts.Contract,
    service: MockService,
    oa_request: OpenAPIRequest | None,
    response: Response,
    operation: CompiledOperation | None = None,
    req: Request | None = None,
) -> None:
    """Strict mode: record (and log) a response that breaks its contract.

    ``operation`` (the compiled operation the request was bound to) spares finding it from
    ``oa_request``'s path; one of the two is needed. ``req`` is the request answered (default:
    Flask's current one).
    """
    if req is None:
        req = request._get_current_object()  # type: ignore[attr-defined]
    # a file response (send_file) passes its body through untouched; read it once into memory
    response.direct_passthrough = False
    data = response.get_data()
    content_type = response.headers.get("Content-Type", "")
    try:
        if content_type.startswith("text/event-stream") or operation is None:
            if oa_request is None:
                notes = exchange.current()
                oa_request = openapi_request(notes.provider or "" if notes else "")
            oa_response = OpenAPIResponse(
                status_code=response.status_code,
                content_type=content_type,
                headers=Headers(list(response.headers.items())),
                data=data,
            )
            contract.validate_response(oa_request, oa_response)
        else:
            operation.validate_response(response.status_code, content_type, response.headers, data)
    except ContractViolation as exc:
        message = f"{req.method} {req.path} -> {response.status_code}: {exc}"
        log.error("response breaks its contract: %s", message)
        service.violations.append(message)


def bind(app: Flask, dialect: Dialect) -> None:
    for op_id, handler in sorted(dialect.handlers.items()):
        op = dialect.contract.operation(op_id)
        app.add_url_rule(
            f"/{dialect.prefix}{op.flask_rule}",
            endpoint=f"{dialect.name}:{op_id}",
            view_func=make_view(dialect, op, handler),
            methods=[op.method.upper()],
            provide_automatic_options=False,
        )
