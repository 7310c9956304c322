"""The app factory: every provider dialect, the admin API and the index, in one Flask app."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

import contracts
from mockserver import admin
from mockserver.binding import bind
from mockserver.config import MockConfig
from mockserver.dialects import registered
from mockserver.dialects.errors import PREFIX_ERRORS
from mockserver.responses import json_response
from mockserver.service import JournalEntry, MockService

log = logging.getLogger("mockserver")


def create_app(config: MockConfig | None = None, **overrides: Any) -> Flask:
    """Build a mock server; ``overrides`` replace fields of ``config`` (``clock="virtual"``)."""
    config = dataclasses.replace(config or MockConfig(), **overrides)
    service = MockService.from_config(config)
    app = Flask("mockserver", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = config.max_body_bytes
    # OPTIONS is no operation of any contract: answer it 405 with Allow, like any other
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["sora_mock"] = service

    dialects = [cls(service) for cls in registered().values()]
    for dialect in dialects:
        bind(app, dialect)
    app.register_blueprint(admin.blueprint)
    app.add_url_rule("/", "index", _index, provide_automatic_options=False)

    app.before_request(_start)
    if config.replay_dir is not None:  # recorded jobs answer before the simulated ones
        from mockserver.conformance.replay import install

        install(app, service, dialects)
    app.after_request(_finish)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def service_of(app: Flask) -> MockService:
    svc: MockService = app.extensions["sora_mock"]
    return svc


def _index() -> Response:
    base = request.host_url.rstrip("/")
    providers: dict[str, dict[str, Any]] = {}
    for name, cls in registered().items():
        entry = providers.setdefault(
            cls.prefix,
            {"base_url": f"{base}/{cls.prefix}", "live_base_url": None, "contracts": []},
        )
        contract = contracts.load(name)
        entry["live_base_url"] = contract.spec["info"].get("x-provider-base-url")
        entry["contracts"].append(
            {
                "name": name,
                "url": f"{base}/__mock/contracts/{name}.yaml",
                "operations": [
                    f"{op.method.upper()} {op.path}" for op in contract.operations.values()
                ],
            }
        )
    return json_response(
        {
            "name": "sora-mock",
            "providers": providers,
            "admin": {
                "base_url": f"{base}/__mock",
                "contract": f"{base}/__mock/contracts/mock-admin.yaml",
            },
            "scenario_header": "X-Mock-Scenario",
        }
    )


def _start() -> None:
    g.mock_started = time.perf_counter()
    g.mock_request_id = "req_" + secrets.token_hex(12)


def _prefix() -> str:
    return request.path.strip("/").split("/", 1)[0]


def _finish(response: Response) -> Response:
    response.headers.setdefault("x-request-id", g.get("mock_request_id", "req_unknown"))
    prefix = _prefix()
    if prefix in PREFIX_ERRORS:
        svc = service_of_current()
        svc.record(
            JournalEntry(
                time=svc.clock.now(),
                method=request.method,
                path=request.path,
                provider=prefix,
                operation=g.get("mock_operation"),
                status=response.status_code,
                latency_ms=round(
                    (time.perf_counter() - g.get("mock_started", time.perf_counter())) * 1000, 3
                ),
                request_id=response.headers["x-request-id"],
                key=g.get("mock_key"),
                scenario=g.get("mock_scenario"),
            )
        )
    return response


def service_of_current() -> MockService:
    from flask import current_app

    return service_of(current_app)


def _error_json(status: int, message: str) -> Response:
    prefix = _prefix()
    family = PREFIX_ERRORS.get(prefix)
    if family is None:
        body: dict[str, Any] = {"error": {"message": message, "type": str(status)}}
    else:
        body = family(status, message)
    return json_response(body, status)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    messages = {
        404: f"Unknown path {request.path!r}",
        405: f"Method {request.method} is not allowed on {request.path!r}",
        413: "Request body is too large",
    }
    response = _error_json(status, messages.get(status, exc.description or exc.name))
    original = exc.get_response()
    for header in ("Allow", "Content-Range", "Retry-After"):
        if header in original.headers:
            response.headers[header] = original.headers[header]
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error in the mock", exc_info=exc)
    service_of_current().errors.append(exc)
    return _error_json(500, "An internal server error occurred in the mock")
