"""Bind each dialect's handlers to Flask routes taken from its contract, behind one pipeline:

    route (from the contract) -> credentials -> scenario -> rate limit
        -> request validated against the contract -> create-time scenario -> handler
        -> (strict) response validated against the contract

Every step answers a client mistake in the provider's own error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers

import contracts
from contracts import ContractViolation, OpenAPIRequest, OpenAPIResponse
from mockserver.dialects.base import Context, Dialect, Handler
from mockserver.faults import SCENARIOS, Scenario, Selected, UnknownScenario, parse
from mockserver.faults import retry_after_header as retry_after
from mockserver.lifecycle import key_fingerprint
from mockserver.responses import error_response
from mockserver.service import MockService

log = logging.getLogger("mockserver")

SCENARIO_HEADER = "X-Mock-Scenario"


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


def _select_scenario(dialect: Dialect, key_fp: str) -> Selected | None:
    header = request.headers.get(SCENARIO_HEADER)
    if header:
        return parse(header, "header")
    service = dialect.service
    name = service.store.take_rule(key_fp, dialect.prefix)
    if name is not None:
        return parse(name, "rule")
    return service.draw_fault()


def _undeclared_query(dialect: Dialect, op: contracts.Operation) -> list[str]:
    """Query parameters the contract does not declare for this operation."""
    return sorted(set(request.args.keys()) - dialect.contract.query_parameters(op.operation_id))


def _truncated_multipart() -> bool:
    """A multipart body must end with its closing delimiter; Werkzeug parses one that does not."""
    if not (request.mimetype or "").startswith("multipart/"):
        return False
    boundary = request.mimetype_params.get("boundary", "")
    body = request.get_data(cache=True)
    return bool(body) and f"--{boundary}--".encode() not in body[-len(boundary) - 8 :]


def _undeclared_parts(dialect: Dialect, op: contracts.Operation) -> list[str]:
    """openapi-core does not reject undeclared multipart fields; the contract's schema does."""
    if not (request.mimetype or "").startswith("multipart/"):
        return []
    media = op.definition.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if not media:
        return []
    schema = media["schema"]
    if "$ref" in schema:
        schema = dialect.contract.resolve(schema["$ref"])
    if schema.get("additionalProperties", True) is not False:
        return []
    declared = set(schema.get("properties", {}))
    sent = set(request.form.keys()) | set(request.files.keys())
    return sorted(sent - declared)


def _problem_param(exc: ContractViolation) -> tuple[str, str | None]:
    first = exc.problems[0]
    message = "; ".join(str(p) for p in exc.problems[:3])
    return message, first.field


def make_view(
    dialect: Dialect, op: contracts.Operation, handler: Handler
) -> Callable[..., Response]:
    service = dialect.service
    is_create = op.operation_id in dialect.create_operations

    def view(**path_params: Any) -> Response:
        g.mock_provider = dialect.prefix
        g.mock_operation = op.operation_id
        g.mock_dialect = dialect

        api_key = dialect.credentials(request)
        if api_key is None:
            return error_response(
                dialect,
                401,
                "Invalid signature: API key is missing or malformed",
                code=dialect.scenario_code("unauthorized"),
            )
        key_fp = key_fingerprint(api_key)
        g.mock_key = key_fp
        if service.config.api_keys and api_key not in service.config.api_keys:
            return error_response(
                dialect,
                401,
                "Invalid signature: API key is not valid",
                code=dialect.scenario_code("unauthorized"),
            )

        try:
            selected = _select_scenario(dialect, key_fp)
        except UnknownScenario as exc:
            return error_response(dialect, 400, str(exc), param=SCENARIO_HEADER)
        g.mock_scenario = selected.scenario.value if selected else None
        if selected is not None:
            spec = SCENARIOS[selected.scenario]
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

        unknown = _undeclared_query(dialect, op)
        if unknown:
            return error_response(
                dialect, 400, f"Unrecognized query parameter {unknown[0]!r}", param=unknown[0]
            )
        oa_request = openapi_request(dialect.prefix)
        try:
            if "requestBody" in op.definition:
                result = dialect.contract.validate_request(oa_request)
                body, query = result.body, dict(result.parameters.query or {})
            else:
                # the polling hot path: parameters only, validators compiled once
                body = None
                query = dialect.contract.validate_parameters(
                    op.operation_id, path_params, request.args
                )
        except ContractViolation as exc:
            message, param = _problem_param(exc)
            status = 415 if "media_type" in exc.kinds else 400
            return error_response(dialect, status, message, param=param)
        if _truncated_multipart():
            return error_response(dialect, 400, "the multipart body is truncated or malformed")
        undeclared = _undeclared_parts(dialect, op)
        if undeclared:
            return error_response(
                dialect, 400, f"unknown field {undeclared[0]!r}", param=undeclared[0]
            )

        if selected is not None and SCENARIOS[selected.scenario].create_only:
            if not is_create:
                selected = None  # a create-time scenario means nothing to a read
            elif selected.scenario is Scenario.CONTENT_POLICY:
                return error_response(
                    dialect,
                    400,
                    SCENARIOS[Scenario.CONTENT_POLICY].message,
                    code=dialect.scenario_code("content_policy"),
                )

        ctx = Context(
            request=request,
            operation=op,
            body=body,
            path=dict(path_params),
            query=query,
            api_key=api_key,
            scenario=selected,
            base_url=f"{request.host_url.rstrip('/')}/{dialect.prefix}",
        )
        response = handler(dialect, ctx)
        # an event stream is checked event by event as it is produced (its generator)
        if service.config.strict and response.mimetype != "text/event-stream":
            check_response(dialect.contract, dialect.service, oa_request, response)
        return response

    view.__name__ = f"{dialect.name}:{op.operation_id}"
    return view


def check_response(
    contract: contracts.Contract,
    service: MockService,
    oa_request: OpenAPIRequest,
    response: Response,
) -> None:
    """Strict mode: record (and log) a response that breaks its contract."""
    # a file response (send_file) passes its body through untouched; read it once into memory
    response.direct_passthrough = False
    data = response.get_data()
    oa_response = OpenAPIResponse(
        status_code=response.status_code,
        content_type=response.headers.get("Content-Type", ""),
        headers=Headers(list(response.headers.items())),
        data=data,
    )
    try:
        contract.validate_response(oa_request, oa_response)
    except ContractViolation as exc:
        message = f"{request.method} {request.path} -> {response.status_code}: {exc}"
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
